#!/usr/bin/env python3
"""Pre-trained models for `tributary bench --only pretrained` (issue 26).

    python3 tools/bench_models.py DIR --tweets N

writes DIR/tweets_model.json (HashingVectorizer(n_features=2**18) + LogisticRegression, trained
on generated tweets: the disaster-tweet job of examples/tweets), DIR/tweets.jsonl (N tweets to
score: {"user", "text", "y"}), and DIR/forest.json (RandomForestClassifier, 100 trees, on the
bench's 8 uniform features x.f0 .. x.f7 and its synthetic stream's boundary).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_sklearn  # noqa: E402

DISASTER = "fire flood storm earthquake wildfire evacuate rescue damage smoke ambulance collapsed injured".split()
OTHER = ("pizza music movie party coffee sunny weekend game happy friends love today new great "
         "the a of to and in is on for with at my this that it be you we just so").split()


def splitmix_weights(seed=42, n=8):
    """The bench's synthetic stream's hyperplane (SyntheticStream: SplitMix64, seed 42)."""
    m = (1 << 64) - 1
    state, out = seed, []
    for _ in range(n):
        z = (state + 0x9E3779B97F4A7C15) & m
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        z ^= z >> 31
        state = (state + 0x9E3779B97F4A7C15) & m
        out.append((z >> 11) * 2.0 ** -53)
    return np.array(out)


def tweets(n, rng):
    out, ys = [], []
    for _ in range(n):
        y = int(rng.random() < 0.4)
        k = int(rng.integers(6, 20))
        words = [(DISASTER if y and rng.random() < 0.3 else OTHER)[int(rng.integers(0, 12 if y else len(OTHER)))] for _ in range(k)]
        if rng.random() < 0.3:
            words.append("#%s" % words[0].capitalize())
        out.append(" ".join(w.capitalize() if rng.random() < 0.1 else w for w in words))
        ys.append(y)
    return out, ys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tweets", type=int, default=300000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    import warnings
    warnings.filterwarnings("ignore")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    rng = np.random.default_rng(3)
    text, y = tweets(5000, rng)
    model = make_pipeline(HashingVectorizer(n_features=2 ** 18), LogisticRegression(C=10, max_iter=1000)).fit(text, y)
    with open(os.path.join(a.out, "tweets_model.json"), "w") as f:
        json.dump(export_sklearn.export(model, [], "text", 2), f, allow_nan=False)
    with open(os.path.join(a.out, "tweets.jsonl"), "w") as f:
        for i in range(a.tweets):
            t, l = tweets(1, rng)
            f.write(json.dumps({"user": "u%d" % (i % 1000), "text": t[0], "y": l[0]}) + "\n")
    X = rng.random((5000, 8))
    w = splitmix_weights()
    yx = (X @ w > w.sum() / 2).astype(int)
    forest = RandomForestClassifier(n_estimators=100, random_state=0).fit(X, yx)
    with open(os.path.join(a.out, "forest.json"), "w") as f:
        json.dump(export_sklearn.export(forest, ["x.f%d" % i for i in range(8)], None, 2), f, allow_nan=False)
    nodes = sum(e.tree_.node_count for e in forest.estimators_)
    depth = max(e.tree_.max_depth for e in forest.estimators_)
    print("bench models: tweets (hashed text, logistic), forest (100 trees, %d nodes, depth <= %d); %d tweets" % (nodes, depth, a.tweets),
          file=sys.stderr)


if __name__ == "__main__":
    main()
