#!/usr/bin/env python3
"""Test fixture for inference-only mode: fits a scikit-learn model, pickles it, and writes the
events Tributary will score plus scikit-learn's own predict_proba for each (in order).

    python3 tools/sklearn_fixture.py binary|multiclass DIR

writes DIR/model.pkl, DIR/events.jsonl ({"id", "f0".."f3", "y"}) and DIR/expected.json
({"features": [...], "classes": [...], "proba": [[...], ...]}).
"""
import json
import os
import pickle
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

kind, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(42)
n, d = 3000, 4
X = rng.normal(size=(n, d)) * [1.0, 5.0, 0.2, 30.0] + [0.0, 10.0, -1.0, 100.0]
if kind == "binary":
    z = 1.5 * (X[:, 0]) - 0.3 * (X[:, 1] - 10) + 4 * (X[:, 2] + 1) + 0.01 * (X[:, 3] - 100)
    y = np.where(z + rng.normal(size=n) > 0, 1, 0)
    names = None
else:
    names = ["low", "mid", "high"]
    z = X[:, 0] + 0.2 * (X[:, 1] - 10)
    y = np.array([names[i] for i in np.digitize(z + 0.3 * rng.normal(size=n), [-0.7, 0.7])])
features = ["f%d" % i for i in range(d)]
model = make_pipeline(StandardScaler(), LogisticRegression(C=10.0, max_iter=1000))
model.fit(X[:2000], y[:2000])
with open(os.path.join(out, "model.pkl"), "wb") as f:
    pickle.dump(model, f)
test, labels = X[2000:], y[2000:]
proba = model.predict_proba(test)
with open(os.path.join(out, "events.jsonl"), "w") as f:
    for i, (row, label) in enumerate(zip(test, labels)):
        ev = {"id": "k%d" % (i % 97)}
        ev.update({name: float(v) for name, v in zip(features, row)})
        ev["y"] = int(label) if kind == "binary" else str(label)
        f.write(json.dumps(ev) + "\n")
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump({"features": features, "classes": [str(c) for c in model.classes_], "proba": proba.tolist()}, f)
print("fixture %s: %d events, classes %s" % (kind, len(test), list(model.classes_)), file=sys.stderr)
