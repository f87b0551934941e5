#!/usr/bin/env bash
# Tweet sentiment from hashed text end to end on the embedded broker: generate tweets, run a
# coordinator and 2 workers, stream the events, show live status, stop cleanly.
# EVENTS (default 20000) sets the size; TRIBUTARY the binary (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
B="${TRIBUTARY:-}"
if [ -z "$B" ]; then (cd "$here/../.." && swift build -c release >/dev/null) && B="$here/../../.build/release/tributary"; fi
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
python3 "$here/generate.py" "${EVENTS:-20000}" > "$data/tweets.jsonl"
"$B" demo --config "$here/cluster.conf" --file "$data/tweets.jsonl" --rate 0 --log-file "${LOG:-tributary-tweets.log}"
