#!/usr/bin/env python3
"""Test fixture for pre-trained models (issue 26): fits every estimator tools/export_sklearn.py
exports, on dense, text and mixed inputs, exports each, and writes the held-out events with
scikit-learn's own predictions for each model.

    python3 tools/sklearn_zoo.py DIR [--only NAME,...] [--test 1000]

writes DIR/<model>.json (weights files), DIR/events.jsonl (held-out events: "id", "i" (the line), "f0".."f7",
"m0".."m2" (f0..f2 with 8 % missing: the field left out), "text", and the labels "y" (binary), "c"
(multiclass), "r" (regression)) and DIR/expected.json: {model: {"task", "inputs", "classes",
"expected": per event [P(y=1)], the class probabilities, or [y_hat]}}.
"""
import argparse
import json
import os
import pickle
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_sklearn  # noqa: E402

WORDS = ("fire flood storm quake wildfire evacuate rescue damage smoke ambulance "
         "pizza music movie party coffee sunny weekend game happy friends "
         "the a of to and in is on for with at my this that it be you we").split()
DISASTER = set("fire flood storm quake wildfire evacuate rescue damage smoke ambulance".split())
EXTRA = ["Über", "naïve", "café", "東京", "İstanbul", "x_y", "r2d2", "42", "½", "ÉCOLE", "straße", "🔥", "!!", "#Fire", "@user", "u"]


def make_data(n, rng):
    X = rng.normal(size=(n, 8)) * [1, 2, 0.5, 3, 1, 1, 10, 0.1] + [0, 1, -1, 5, 0, 0, 50, 0]
    z = 1.2 * X[:, 0] - 0.4 * (X[:, 1] - 1) + 2 * np.sin(X[:, 2] * 3) + 0.3 * np.abs(X[:, 3] - 5) - 1 + 0.05 * (X[:, 6] - 50)
    texts, hits = [], []
    for _ in range(n):
        k = rng.integers(3, 16)
        words = []
        for _ in range(k):
            if rng.random() < 0.15:
                words.append(EXTRA[rng.integers(len(EXTRA))])
            else:
                w = WORDS[rng.integers(len(WORDS))]
                words.append(w.upper() if rng.random() < 0.1 else w.capitalize() if rng.random() < 0.2 else w)
        sep = [" ", " ", ", ", "... ", " - ", "\t"]
        s = words[0]
        for w in words[1:]:
            s += sep[rng.integers(len(sep))] + w
        texts.append(s)
        hits.append(sum(1 for w in words if w.lower().strip("#") in DISASTER))
    hits = np.array(hits, dtype=float)
    yb = (z + rng.normal(size=n) * 0.5 > 0).astype(int)
    yt = ((hits + 0.5 * X[:, 0] + rng.normal(size=n) * 0.7) > 1.0).astype(int)
    yc = np.array(["low", "mid", "high"])[np.digitize(z + rng.normal(size=n) * 0.5, [-1.0, 1.0])]
    yr = np.exp(0.3 * np.tanh(z)) + 0.1 * rng.random(n)
    return X, np.array(texts, dtype=object), yb, yt, yc, yr


def models():
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier, GradientBoostingRegressor,
                                  HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                                  RandomForestClassifier, RandomForestRegressor)
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    s = StandardScaler
    # name: (inputs, target, estimator); inputs: dense (f0..f7), missing (dense with gaps),
    # text, mixed (f0..f3 and the text).
    return {
        "logreg": ("dense", "y", make_pipeline(s(), LogisticRegression(C=10, max_iter=2000))),
        "sgd_log": ("dense", "y", make_pipeline(s(), SGDClassifier(loss="log_loss", random_state=0))),
        "mlp_relu": ("dense", "y", make_pipeline(s(), MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=300, random_state=0))),
        "mlp_tanh": ("dense", "y", make_pipeline(s(), MLPClassifier(hidden_layer_sizes=(12,), activation="tanh", max_iter=300, random_state=0))),
        "forest": ("dense", "y", RandomForestClassifier(n_estimators=30, max_depth=8, random_state=0)),
        "gboost": ("dense", "y", GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0)),
        "hgboost": ("dense", "y", HistGradientBoostingClassifier(max_iter=40, random_state=0)),
        "forest_missing": ("missing", "y", RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0)),
        "hgboost_missing": ("missing", "y", HistGradientBoostingClassifier(max_iter=40, random_state=0)),
        "softmax": ("dense", "c", make_pipeline(s(), LogisticRegression(C=10, max_iter=2000))),
        "sgd_ovr": ("dense", "c", make_pipeline(s(), SGDClassifier(loss="log_loss", random_state=0))),
        "mlp_multi": ("dense", "c", make_pipeline(s(), MLPClassifier(hidden_layer_sizes=(16,), activation="logistic", max_iter=400, random_state=0))),
        "forest_multi": ("dense", "c", RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0)),
        "gboost_multi": ("dense", "c", GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0)),
        "hgboost_multi": ("missing", "c", HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        "ridge": ("dense", "r", make_pipeline(s(), Ridge(alpha=1.0))),
        "mlp_reg": ("dense", "r", make_pipeline(s(), MLPRegressor(hidden_layer_sizes=(16,), max_iter=400, random_state=0))),
        "forest_reg": ("dense", "r", RandomForestRegressor(n_estimators=20, max_depth=8, random_state=0)),
        "extra_reg": ("dense", "r", ExtraTreesRegressor(n_estimators=10, max_depth=8, random_state=0)),
        "gboost_reg": ("dense", "r", GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=0)),
        "hgboost_reg": ("missing", "r", HistGradientBoostingRegressor(max_iter=30, random_state=0)),
        "hgboost_poisson": ("dense", "r", HistGradientBoostingRegressor(loss="poisson", max_iter=30, random_state=0)),
        "text_hash_logreg": ("text", "t", make_pipeline(HashingVectorizer(n_features=2 ** 18), LogisticRegression(C=10, max_iter=2000))),
        "text_hash_bigram": ("text", "t", make_pipeline(HashingVectorizer(n_features=2 ** 12, ngram_range=(1, 2), alternate_sign=False, norm="l1"),
                                                       LogisticRegression(max_iter=2000))),
        "text_tfidf_logreg": ("text", "t", make_pipeline(TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True),
                                                        LogisticRegression(C=10, max_iter=2000))),
        "text_count_sgd": ("text", "t", make_pipeline(CountVectorizer(lowercase=False, binary=True),
                                                     SGDClassifier(loss="log_loss", random_state=0))),
        "text_mlp": ("text", "t", make_pipeline(HashingVectorizer(n_features=2 ** 10), MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0))),
        "text_forest": ("text", "t", make_pipeline(CountVectorizer(), RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0))),
        "mixed_logreg": ("mixed", "t", make_pipeline(ColumnTransformer([("num", s(), [0, 1, 2, 3]), ("text", HashingVectorizer(n_features=2 ** 16), 4)]),
                                                     LogisticRegression(C=10, max_iter=2000))),
        "mixed_mlp": ("mixed", "t", make_pipeline(ColumnTransformer([("num", s(), [0, 1, 2, 3]), ("text", TfidfVectorizer(), 4)]),
                                                  MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0))),
        "mixed_forest": ("mixed", "t", make_pipeline(ColumnTransformer([("num", "passthrough", [0, 1, 2, 3]), ("text", CountVectorizer(), 4)]),
                                                     RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0))),
    }


def inputs_of(kind, X, T):
    if kind == "dense":
        return X, ["f%d" % i for i in range(8)], None
    if kind == "missing":
        return X, ["m0", "m1", "m2"] + ["f%d" % i for i in range(3, 8)], None
    if kind == "text":
        return T, [], "text"
    M = np.empty((len(T), 5), dtype=object)
    M[:, :4] = X[:, :4]
    M[:, 4] = T
    return M, ["f0", "f1", "f2", "f3"], "text"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--only", default="")
    ap.add_argument("--test", type=int, default=1000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    import warnings
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(7)
    n_train = 4000
    X, T, yb, yt, yc, yr = make_data(n_train + a.test, rng)
    # Missing values: 8 % of f0..f2 (the "missing" models train and predict with them).
    Xm = X.copy()
    gaps = rng.random(size=(len(X), 3)) < 0.08
    Xm[:, :3][gaps] = np.nan
    targets = {"y": yb, "t": yt, "c": yc, "r": yr}
    tr, te = slice(0, n_train), slice(n_train, None)
    only = set(x for x in a.only.split(",") if x)
    expected = {}
    for name, (kind, target, est) in models().items():
        if only and name not in only:
            continue
        data, features, text = inputs_of(kind, Xm if kind == "missing" else X, T)
        y = targets[target]
        est.fit(data[tr], y[tr])
        doc = export_sklearn.export(est, features, text, 2)
        with open(os.path.join(a.out, name + ".json"), "w") as f:
            json.dump(doc, f, allow_nan=False)
        with open(os.path.join(a.out, name + ".pkl"), "wb") as f:
            pickle.dump(est, f)
        if doc["task"] == "regression":
            pred = [[float(v)] for v in est.predict(data[te])]
        elif doc["task"] == "binary":
            pred = [[float(p[1])] for p in est.predict_proba(data[te])]
        else:
            pred = [[float(v) for v in p] for p in est.predict_proba(data[te])]
        expected[name] = {"task": doc["task"], "inputs": kind, "target": target, "classes": doc.get("classes"),
                          "expected": pred}
        print("%-18s %-7s %-10s %s" % (name, kind, doc["task"], doc["estimator"]["kind"]), file=sys.stderr)
    with open(os.path.join(a.out, "events.jsonl"), "w") as f:
        for i in range(n_train, n_train + a.test):
            ev = {"id": "k%d" % (i % 97), "i": i - n_train}
            for j in range(8):
                ev["f%d" % j] = float(X[i, j])
            # The same first three with gaps: a missing value is a field left out.
            for j in range(3):
                if not np.isnan(Xm[i, j]):
                    ev["m%d" % j] = float(Xm[i, j])
            ev["text"] = T[i]
            ev["y"], ev["t"], ev["c"], ev["r"] = int(yb[i]), int(yt[i]), str(yc[i]), float(yr[i])
            f.write(json.dumps(ev, ensure_ascii=False) + "\n")
    with open(os.path.join(a.out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
