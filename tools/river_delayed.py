#!/usr/bin/env python3
"""River's delayed progressive validation of a stream whose labels come later, and the same
stream as two JSON-lines files for Tributary (an events topic and a labels topic).

River's Hyperplane stream (seed 42), one event a second from 1,796,000,000 s; each label comes
0-120 s (event time, 1 ms steps) after its event, every label time distinct and off the events'
whole seconds, so that the order of the two streams is never a tie. Writes
  EVENTS: {"id": "e<i>", "user": "u<i mod 50>", "ts": t, "x": {"f0": ..., ...}}  (event order)
  LABELS: {"id": "e<i>", "user": ..., "y": 0|1, "ts": label time}                (label-time order)
and prints RESULT {"accuracy", "logloss", "n", "features"} of
evaluate.progressive_val_score(stream, StandardScaler() | LogisticRegression(), metric,
moment="ts", delay=<the label's delay>) (the Select in front only drops id and ts).

Usage: tools/river_delayed.py EVENTS LABELS [--n N]
"""
import argparse
import json
import random

from river import compose, evaluate, linear_model, metrics, preprocessing
from river.datasets import synth

BASE = 1_796_000_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("events")
    ap.add_argument("labels")
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()

    rng = random.Random(7)
    rows, delays, taken = [], {}, set()
    for i, (x, y) in enumerate(synth.Hyperplane(seed=42, n_features=4).take(args.n)):
        x = {f"f{k}": float(v) for k, v in x.items()}
        ts = BASE + i
        while True:
            ms = rng.randrange(1, 120_000)
            if ms % 1000 and ts * 1000 + ms not in taken:
                break
        taken.add(ts * 1000 + ms)
        delays[f"e{i}"] = ms / 1000
        rows.append((f"e{i}", ts, x, int(bool(y)), (ts * 1000 + ms) / 1000))
    names = list(rows[0][2])

    with open(args.events, "w") as f:
        for id_, ts, x, _, _ in rows:
            f.write(json.dumps({"id": id_, "user": f"u{int(id_[1:]) % 50}", "ts": ts, "x": x}) + "\n")
    with open(args.labels, "w") as f:
        for id_, _, _, y, lt in sorted(rows, key=lambda r: r[4]):
            f.write(json.dumps({"id": id_, "user": f"u{int(id_[1:]) % 50}", "y": y, "ts": lt}) + "\n")

    def score(metric):
        model = compose.Select(*names) | preprocessing.StandardScaler() | linear_model.LogisticRegression()
        stream = (({"id": id_, "ts": ts, **x}, bool(y)) for id_, ts, x, y, _ in rows)
        return evaluate.progressive_val_score(stream, model, metric, moment="ts",
                                              delay=lambda x, _y: delays[x["id"]]).get()

    print("RESULT " + json.dumps({"accuracy": score(metrics.Accuracy()), "logloss": score(metrics.LogLoss()),
                                  "n": len(rows), "features": [f"x.{k}" for k in names]}))


if __name__ == "__main__":
    main()
