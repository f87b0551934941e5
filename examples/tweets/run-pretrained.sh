#!/usr/bin/env bash
# The disaster-tweet job with a model trained offline: train and export it (train.py), then run
# a coordinator and 2 workers on the embedded broker scoring a stream of new tweets (as
# `tributary produce --file` sends them), show live status, stop cleanly.
# EVENTS (default 20000) sets the stream's size; TRIBUTARY the binary (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
B="${TRIBUTARY:-}"
if [ -z "$B" ]; then (cd "$here/../.." && swift build -c release >/dev/null) && B="$here/../../.build/release/tributary"; fi
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
python3 "$here/train.py" "$data/disaster.json"
python3 "$here/disaster.py" "${EVENTS:-20000}" 2 > "$data/tweets.jsonl"
# The config names weights_file relative to itself: run it from the data folder.
cp "$here/pretrained.conf" "$data/cluster.conf"
"$B" demo --config "$data/cluster.conf" --file "$data/tweets.jsonl" --rate 0 --log-file "${LOG:-tributary-tweets-pretrained.log}"
