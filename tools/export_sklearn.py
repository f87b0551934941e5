#!/usr/bin/env python3
"""Export a fitted scikit-learn linear model to Tributary's weights file.

Tributary's inference-only mode (`[model] mode = "inference"`, docs/CONFIG.md, "Pre-trained
weights") predicts with these weights and never learns, as a deployed model would.

    python3 tools/export_sklearn.py MODEL.pkl --features f0,f1,f2 --out weights.json

MODEL.pkl is a pickled (or joblib-dumped) estimator, or a Pipeline of StandardScaler and
one estimator:
  - LogisticRegression (binary -> logistic_regression, multinomial -> softmax_regression),
  - SGDClassifier(loss="log_loss"), binary,
  - LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor -> linear_regression.
--features lists the model's columns in Tributary's feature order (the `numeric` list of
[features], then the other dense features as `tributary` names them); the weights file
records them and Tributary refuses a file whose features differ from its spec.
"""
import argparse
import json
import pickle
import sys

import numpy as np


def export(estimator, features):
    """The weights file's content (a dict) for a fitted estimator or scaler+estimator pipeline."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = None
    model = estimator
    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s is not None and s != "passthrough"]
        if len(steps) == 2 and isinstance(steps[0], StandardScaler):
            scaler, model = steps
        elif len(steps) == 1:
            model = steps[0]
        else:
            raise SystemExit("export_sklearn: only StandardScaler followed by one linear model can be exported, got "
                             + " | ".join(type(s).__name__ for s in steps))
    name = type(model).__name__
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=float))
    if intercept.size == 1 and coef.shape[0] == 1:
        intercept = intercept.reshape(1)
    out = {"format": "tributary.linear/1", "features": list(features)}
    if name in ("LogisticRegression", "SGDClassifier"):
        if name == "SGDClassifier" and getattr(model, "loss", "") != "log_loss":
            raise SystemExit("export_sklearn: SGDClassifier must use loss='log_loss' (probabilities), not " + str(model.loss))
        classes = [str(c) for c in model.classes_]
        out["classes"] = classes
        if len(classes) == 2:
            out["type"] = "logistic_regression"
        else:
            if name == "SGDClassifier" or getattr(model, "multi_class", "auto") == "ovr":
                raise SystemExit("export_sklearn: a multiclass model must be multinomial (softmax); one-vs-rest is not supported")
            out["type"] = "softmax_regression"
    elif name in ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDRegressor"):
        out["type"] = "linear_regression"
    else:
        raise SystemExit("export_sklearn: cannot export " + name + " (linear models only)")
    if coef.shape[1] != len(features):
        raise SystemExit("export_sklearn: the model has %d columns but %d features were named" % (coef.shape[1], len(features)))
    out["coef"] = coef.tolist()
    out["intercept"] = intercept.tolist()
    if scaler is not None:
        n = len(features)
        mean = scaler.mean_ if scaler.with_mean else np.zeros(n)
        scale = scaler.scale_ if scaler.with_std else np.ones(n)
        out["scaler"] = {"mean": np.asarray(mean, dtype=float).tolist(), "scale": np.asarray(scale, dtype=float).tolist()}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="pickled estimator or Pipeline")
    ap.add_argument("--features", required=True, help="comma-separated feature names, in Tributary's order")
    ap.add_argument("--out", required=True, help="weights file to write")
    a = ap.parse_args()
    with open(a.model, "rb") as f:
        estimator = pickle.load(f)
    doc = export(estimator, [s for s in a.features.split(",") if s])
    with open(a.out, "w") as f:
        json.dump(doc, f)
    print("wrote %s: %s, %d features, %d output(s)%s" % (a.out, doc["type"], len(doc["features"]), len(doc["coef"]),
          ", with scaler" if "scaler" in doc else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
