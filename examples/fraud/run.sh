#!/usr/bin/env bash
# Payments fraud with delayed labels end to end on the embedded broker: generate payments and
# chargebacks, run a coordinator and 2 workers, stream both topics, show live status (the
# labels line counts chargebacks joined to the payment they were served for), stop cleanly.
# EVENTS (default 20000) sets the size; TRIBUTARY the binary (default: a release build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
B="${TRIBUTARY:-}"
if [ -z "$B" ]; then (cd "$here/../.." && swift build -c release >/dev/null) && B="$here/../../.build/release/tributary"; fi
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
python3 "$here/generate.py" "${EVENTS:-20000}" "$data/payments.jsonl" "$data/chargebacks.jsonl"
"$B" demo --config "$here/cluster.conf" --file "$data/payments.jsonl" --labels-file "$data/chargebacks.jsonl" \
    --rate 0 --log-file "${LOG:-tributary-fraud.log}"
