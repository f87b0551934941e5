#!/usr/bin/env python3
"""River's progressive MAE and RMSE of StandardScaler | LinearRegression(intercept_lr=ILR) on
its TrumpApproval stream, and the same stream as JSON lines for Tributary.

Writes OUT (one event per line, in River's order): {"user": "u0", "x": {...}, "y": target}
and prints RESULT {"mae", "rmse", "n", "features"} (predict, then learn, one at a time).

Usage: tools/river_regression.py OUT [--intercept-lr ILR]
"""
import argparse
import json

from river import datasets, linear_model, metrics, preprocessing


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--intercept-lr", type=float, default=0.01)
    args = ap.parse_args()
    model = preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=args.intercept_lr)
    mae, rmse = metrics.MAE(), metrics.RMSE()
    names = None
    n = 0
    with open(args.out, "w") as f:
        for x, y in datasets.TrumpApproval():
            x = {k: float(v) for k, v in x.items()}
            names = names or list(x)
            p = model.predict_one(x)
            mae.update(y, p)
            rmse.update(y, p)
            model.learn_one(x, y)
            f.write(json.dumps({"user": "u0", "x": x, "y": y}) + "\n")
            n += 1
    print("RESULT " + json.dumps({"mae": mae.get(), "rmse": rmse.get(), "n": n, "features": [f"x.{k}" for k in names]}))


if __name__ == "__main__":
    main()
