#!/usr/bin/env python3
"""River's per-key aggregates over a JSON-lines event stream, for cross-checking Tributary.

Reads events ({"user": ..., "x": ...}) on stdin; for each event, after River's Agg has
learnt it (the same order Tributary uses: the event is included), prints one line:
count mean variance ewma(0.3) -- with River's feature_extraction.Agg and stats.

    python3 tools/river_agg.py < events.jsonl
"""
import json
import sys

from river import feature_extraction, stats

aggs = [
    feature_extraction.Agg(on="x", by="user", how=stats.Count()),
    feature_extraction.Agg(on="x", by="user", how=stats.Mean()),
    feature_extraction.Agg(on="x", by="user", how=stats.Var()),
    feature_extraction.Agg(on="x", by="user", how=stats.EWMean(fading_factor=0.3)),
]
out = sys.stdout
for line in sys.stdin:
    event = json.loads(line)
    values = []
    for a in aggs:
        a.learn_one(event)
        values.extend(a.transform_one(event).values())
    out.write(" ".join(repr(float(v)) for v in values) + "\n")
