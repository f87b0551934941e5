#!/usr/bin/env python3
"""Trains the disaster-tweet classifier offline and exports it for Tributary.

    python3 train.py OUT.json [N]

Fits scikit-learn's HashingVectorizer (unigrams and bigrams, 2^18 columns) and
LogisticRegression on N (default 2000) labelled tweets of disaster.py (its own seed, so the
stream scored later is new text), prints the held-out accuracy, and writes OUT.json with
tools/export_sklearn.py. Swap in your own model: fit any pipeline export_sklearn.py takes
(a vectorizer on the "text" field, then a linear model, an MLP or a forest) on your own labelled
tweets and export it the same way.
"""
import os
import sys

from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "..", "tools"))
import disaster  # noqa: E402
import export_sklearn  # noqa: E402

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
labelled = list(disaster.tweets(n, seed=1))
split = int(n * 0.8)
texts, ys = [t["text"] for t in labelled], [t["y"] for t in labelled]
model = make_pipeline(HashingVectorizer(ngram_range=(1, 2), n_features=2 ** 18, alternate_sign=False),
                      LogisticRegression(C=10, max_iter=1000))
model.fit(texts[:split], ys[:split])
print("trained offline on %d labelled tweets: held-out accuracy %.3f" % (split, model.score(texts[split:], ys[split:])))
model.fit(texts, ys)
doc = export_sklearn.export(model, [], "text")
with open(out, "w") as f:
    import json
    json.dump(doc, f, allow_nan=False)
print("exported to %s (%s, text field %s)" % (out, doc["format"], doc["text"]["field"]))
