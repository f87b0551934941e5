#!/usr/bin/env python3
"""River's reference figures on one of its bundled streams, and the same stream as JSON lines
for Tributary.

Writes OUT (one event per line, in River's order):
  {"user": "u0", "x": {"<feature>": value, ...}, "y": 0|1}
and prints RESULT {"accuracy", "logloss", "n", "features"} for River's
StandardScaler | LogisticRegression (defaults: SGD lr 0.01) under progressive validation
(predict, then learn, one sample at a time), as shared/REFERENCE.md measures them.

Usage: tools/river_reference.py phishing|hyperplane OUT [--n N] [--keys K]
"""
import argparse
import json

from river import datasets, linear_model, metrics, preprocessing
from river.datasets import synth


def stream(name: str, n: int):
    if name == "phishing":
        return datasets.Phishing().take(n) if n else iter(datasets.Phishing())
    if name == "hyperplane":
        return synth.Hyperplane(seed=42, n_features=8).take(n or 100_000)
    raise SystemExit(f"unknown dataset {name}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--keys", type=int, default=1, help="key events u0..u{K-1} round-robin (to partition them)")
    args = ap.parse_args()

    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    acc, loss = metrics.Accuracy(), metrics.LogLoss()
    names = None
    count = 0
    with open(args.out, "w") as f:
        for x, y in stream(args.dataset, args.n):
            x = {f"f{k}" if isinstance(k, int) else k: float(v) for k, v in x.items()}
            names = names or list(x)
            p = model.predict_proba_one(x).get(True, 0.0)
            acc.update(bool(y), p > 0.5)
            loss.update(bool(y), p)
            model.learn_one(x, bool(y))
            f.write(json.dumps({"user": f"u{count % args.keys}", "x": x, "y": int(bool(y))}) + "\n")
            count += 1
    print("RESULT " + json.dumps({"accuracy": acc.get(), "logloss": loss.get(), "n": count,
                                  "features": [f"x.{k}" for k in names]}))


if __name__ == "__main__":
    main()
