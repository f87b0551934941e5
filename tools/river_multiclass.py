#!/usr/bin/env python3
"""River's progressive accuracy and cross-entropy of StandardScaler | SoftmaxRegression on its
ImageSegments stream (7 classes), and the same stream as JSON lines for Tributary.

River's SoftmaxRegression has no intercept and adds a class when it first sees it; Tributary's
softmax knows its classes from the start (`[model] classes`). For the same model, every class
is registered with River before the stream (an empty weight row, as River makes at first
sight), and Tributary runs with `intercept = false`.

Writes OUT ({"user": "u0", "x": {...}, "y": class}) and prints
RESULT {"accuracy", "logloss", "n", "features", "classes"}.

Usage: tools/river_multiclass.py OUT
"""
import json
import sys

from river import datasets, linear_model, metrics, preprocessing


def main() -> None:
    out = sys.argv[1]
    stream = list(datasets.ImageSegments())
    classes = sorted({y for _, y in stream})
    softmax = linear_model.SoftmaxRegression()
    for c in classes:
        softmax.weights[c]  # registers the class (an empty row), as River does at first sight
    model = preprocessing.StandardScaler() | softmax
    acc, loss = metrics.Accuracy(), metrics.CrossEntropy()
    names = None
    with open(out, "w") as f:
        for x, y in stream:
            x = {k.replace(".", "_"): float(v) for k, v in x.items()}
            names = names or list(x)
            p = model.predict_proba_one(x)
            acc.update(y, max(p, key=p.get))
            loss.update(y, p)
            model.learn_one(x, y)
            f.write(json.dumps({"user": "u0", "x": x, "y": y}) + "\n")
    print("RESULT " + json.dumps({"accuracy": acc.get(), "logloss": loss.get(), "n": len(stream),
                                  "features": [f"x.{k}" for k in names], "classes": classes}))


if __name__ == "__main__":
    main()
