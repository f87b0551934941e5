#!/usr/bin/env python3
"""Export a fitted scikit-learn model to a Tributary weights file.

    python3 tools/export_sklearn.py MODEL.pkl --features f0,f1,f2 [--text FIELD] --out model.json

MODEL.pkl is a pickled (or joblib-dumped) estimator or Pipeline. Tributary serves it
(`[model] mode = "inference"` with `weights_file`, or `tributary model deploy SPEC --weights
model.json` as a challenger) and reproduces scikit-learn's predict_proba / predict.

What can be exported (docs/CONFIG.md, "Pre-trained models"):
  inputs     dense features (--features: the columns in order, by Tributary's dense feature
             names), optionally after StandardScaler; text (--text: the event field, one of the
             cluster's [[features.text]] fields) through HashingVectorizer, CountVectorizer or
             TfidfVectorizer (word analyzer, default token pattern, no accent stripping); or both
             through a ColumnTransformer([("num", StandardScaler() | "passthrough", cols),
             ("text", vectorizer, col)]) -- numeric block first.
  estimators LogisticRegression, SGDClassifier(loss="log_loss"), LinearRegression, Ridge, Lasso,
             ElasticNet, SGDRegressor; MLPClassifier, MLPRegressor; RandomForest* and ExtraTrees*,
             GradientBoosting*, HistGradientBoosting* (numeric features; missing values as
             scikit-learn routes them).

A dense linear model with at most a StandardScaler is written in the older `tributary.linear/1`
format (a learning cluster can start from it) unless --format 2; everything else in
`tributary.model/2`. Settings Tributary cannot reproduce are refused with their name.
"""
import argparse
import json
import pickle
import sys

import numpy as np

DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
LINEAR_CLASSIFIERS = ("LogisticRegression", "SGDClassifier")
LINEAR_REGRESSORS = ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "SGDRegressor")


class ExportError(Exception):
    pass


def refuse(msg):
    raise ExportError("export_sklearn: " + msg)


def vectorizer_spec(v, field):
    """A HashingVectorizer / CountVectorizer / TfidfVectorizer as Tributary's TextVectorizer."""
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
    name = type(v).__name__
    if not isinstance(v, (HashingVectorizer, CountVectorizer)):
        refuse("cannot export text transformer %s (HashingVectorizer, CountVectorizer, TfidfVectorizer)" % name)
    checks = [("analyzer", "word"), ("tokenizer", None), ("preprocessor", None), ("strip_accents", None),
              ("token_pattern", DEFAULT_TOKEN_PATTERN), ("input", "content")]
    for key, want in checks:
        got = getattr(v, key, want)
        if got != want:
            refuse("%s.%s=%r cannot be reproduced (only %r)" % (name, key, got, want))
    dt = np.dtype(v.dtype)
    if dt != np.float64 and not (dt.kind in "iu" and not isinstance(v, (HashingVectorizer, TfidfVectorizer))):
        refuse("%s.dtype=%s: only float64 (or integer counts) is reproduced" % (name, dt))
    lo, hi = v.ngram_range
    stop = v.get_stop_words()
    out = {"field": field, "lowercase": bool(v.lowercase), "ngram_range": [int(lo), int(hi)],
           "stop_words": sorted(stop) if stop else None, "binary": bool(v.binary)}
    if isinstance(v, HashingVectorizer):
        out.update(kind="hashing", n_features=int(v.n_features), alternate_sign=bool(v.alternate_sign), norm=v.norm)
    else:
        vocab = v.vocabulary_
        terms = [None] * len(vocab)
        for t, i in vocab.items():
            terms[i] = t
        out.update(kind="vocabulary", vocabulary=terms, norm=None)
        if isinstance(v, TfidfVectorizer):
            out["norm"] = v.norm
            out["sublinear_tf"] = bool(v.sublinear_tf)
            if v.use_idf:
                out["idf"] = [float(x) for x in v.idf_]
    if out["norm"] not in (None, "l1", "l2"):
        refuse("%s.norm=%r (l1, l2 or None)" % (name, out["norm"]))
    return out


def text_width(t):
    return t["n_features"] if t["kind"] == "hashing" else len(t["vocabulary"])


def scaler_spec(s, n):
    from sklearn.preprocessing import StandardScaler
    if not isinstance(s, StandardScaler):
        refuse("cannot export %s before the estimator (StandardScaler or a text vectorizer)" % type(s).__name__)
    mean = s.mean_ if s.with_mean else np.zeros(n)
    scale = s.scale_ if s.with_std else np.ones(n)
    if len(mean) != n:
        refuse("the StandardScaler has %d columns but %d features were named" % (len(mean), n))
    return {"mean": [float(x) for x in mean], "scale": [float(x) for x in scale]}


def split_inputs(estimator, features, text_field):
    """(scaler, text, model) of an estimator or Pipeline."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
    from sklearn.pipeline import Pipeline
    steps = [estimator]
    if isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s is not None and s != "passthrough"]
    if not steps:
        refuse("the pipeline is empty")
    model, pre = steps[-1], steps[:-1]
    scaler = text = None
    if len(pre) > 1:
        refuse("only one step can come before the estimator (a scaler, a vectorizer or a ColumnTransformer), got "
               + " | ".join(type(s).__name__ for s in pre))
    if pre:
        p = pre[0]
        if isinstance(p, (HashingVectorizer, CountVectorizer)):
            if features:
                refuse("a text-only pipeline reads no dense features: leave --features empty, or use a ColumnTransformer")
            text = vectorizer_spec(p, need_text(text_field))
        elif isinstance(p, ColumnTransformer):
            parts = [(n, t, c) for n, t, c in p.transformers_ if not (n == "remainder" and t == "drop")]
            if any(n == "remainder" for n, _, _ in parts):
                refuse("ColumnTransformer(remainder=...) must drop the other columns")
            if len(parts) > 2:
                refuse("a ColumnTransformer can have a numeric block and a text block, not %d transformers" % len(parts))
            for i, (name, t, cols) in enumerate(parts):
                if isinstance(t, (HashingVectorizer, CountVectorizer)):
                    if i != len(parts) - 1:
                        refuse("put the numeric block before the text block in the ColumnTransformer")
                    text = vectorizer_spec(t, need_text(text_field))
                else:
                    n = len(np.atleast_1d(cols))
                    if n != len(features):
                        refuse("the ColumnTransformer's numeric block has %d columns but %d features were named" % (n, len(features)))
                    # A fitted "passthrough" is an identity FunctionTransformer.
                    identity = t == "passthrough" or (type(t).__name__ == "FunctionTransformer" and t.func is None)
                    if not identity:
                        scaler = scaler_spec(t, n)
        else:
            scaler = scaler_spec(p, len(features))
    return scaler, text, model


def need_text(field):
    if not field:
        refuse("the pipeline reads text: name its event field with --text")
    return field


def sparse_or_dense(coef):
    nz = int(np.count_nonzero(coef))
    if nz * 2 < coef.size:
        rows = []
        for r in coef:
            idx = np.nonzero(r)[0]
            rows.append({"indices": [int(i) for i in idx], "values": [float(r[i]) for i in idx]})
        return {"coef_sparse": rows}
    return {"coef": coef.tolist()}


def finite_threshold(t):
    """JSON has no infinity: a split at +inf (every present value goes left, scikit-learn's
    split of missing values from the rest) is written as the largest double, which orders the
    same against every finite input."""
    t = float(t)
    return min(max(t, -sys.float_info.max), sys.float_info.max)


def tree_arrays(tree, value, output):
    """One sklearn Tree (tree_) as Tributary's flat arrays; value: (n_nodes, k) array."""
    left = tree.children_left
    out = {"output": output,
           "feature": [int(f) if l != -1 else 0 for f, l in zip(tree.feature, left)],
           "threshold": [finite_threshold(t) if l != -1 else 0.0 for t, l in zip(tree.threshold, left)],
           "left": [int(x) for x in left], "right": [int(x) for x in tree.children_right],
           "value": [float(x) for x in np.asarray(value, dtype=float).ravel()]}
    if hasattr(tree, "missing_go_to_left"):
        out["missing_left"] = [int(x) for x in tree.missing_go_to_left]
    return out


def estimator_spec(model, n_columns):
    """(task, classes, estimator dict) of a fitted estimator."""
    name = type(model).__name__
    classes = [str(c) for c in model.classes_] if hasattr(model, "classes_") else None
    task = "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
    if getattr(model, "n_features_in_", n_columns) != n_columns:
        refuse("%s was fitted on %d columns, the inputs given make %d" % (name, model.n_features_in_, n_columns))
    if name in LINEAR_CLASSIFIERS + LINEAR_REGRESSORS:
        coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
        intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=float)).reshape(-1)
        if name == "SGDClassifier" and model.loss != "log_loss":
            refuse("SGDClassifier must use loss='log_loss' (probabilities), not %r" % model.loss)
        if task == "binary":
            link = "logistic"
        elif task == "multiclass":
            ovr = name == "SGDClassifier" or getattr(model, "multi_class", "auto") == "ovr"
            link = "ovr" if ovr else "softmax"
        else:
            if coef.shape[0] != 1:
                refuse("%s predicts %d targets; one is supported" % (name, coef.shape[0]))
            link = "identity"
        est = {"kind": "linear", "intercept": [float(x) for x in intercept], "link": link}
        est.update(sparse_or_dense(coef))
        return task, classes, est
    if name in ("MLPClassifier", "MLPRegressor"):
        if name == "MLPClassifier" and getattr(model, "_label_binarizer", None) is not None and model._label_binarizer.y_type_ == "multilabel-indicator":
            refuse("a multilabel MLPClassifier cannot be exported")
        if name == "MLPRegressor" and model.n_outputs_ != 1:
            refuse("MLPRegressor predicts %d targets; one is supported" % model.n_outputs_)
        layers = [{"inputs": int(w.shape[0]), "outputs": int(w.shape[1]),
                   "weights": [float(x) for x in np.asarray(w, dtype=float).ravel()],
                   "bias": [float(x) for x in b]} for w, b in zip(model.coefs_, model.intercepts_)]
        link = {"logistic": "logistic", "softmax": "softmax", "identity": "identity"}.get(model.out_activation_)
        if link is None:
            refuse("MLP output activation %r" % model.out_activation_)
        return task, classes, {"kind": "mlp", "activation": model.activation, "layers": layers, "link": link}
    if name in ("RandomForestClassifier", "ExtraTreesClassifier", "RandomForestRegressor", "ExtraTreesRegressor"):
        if getattr(model, "n_outputs_", 1) != 1:
            refuse("%s predicts %d targets; one is supported" % (name, model.n_outputs_))
        trees = []
        for e in model.estimators_:
            t = e.tree_
            if task == "regression":
                trees.append(tree_arrays(t, t.value[:, 0, 0], 0))
            else:
                v = np.asarray(t.value[:, 0, :], dtype=float)
                norm = v.sum(axis=1, keepdims=True)
                norm[norm == 0] = 1
                trees.append(tree_arrays(t, v / norm, -1))
        k = 1 if task == "regression" else len(classes)
        return task, classes, {"kind": "trees", "combine": "average", "float32": True, "outputs": k,
                               "link": "identity" if task == "regression" else "proba", "trees": trees}
    if name in ("GradientBoostingClassifier", "GradientBoostingRegressor"):
        if name == "GradientBoostingClassifier" and model.loss != "log_loss":
            refuse("GradientBoostingClassifier(loss=%r): only log_loss" % model.loss)
        if model.init_ != "zero" and type(model.init_).__name__ not in ("DummyClassifier", "DummyRegressor"):
            refuse("GradientBoosting init=%s cannot be exported (default or 'zero')" % type(model.init_).__name__)
        base = np.asarray(model._raw_predict_init(np.zeros((1, model.n_features_in_), dtype=np.float32)), dtype=float)[0]
        trees = []
        for stage in model.estimators_:
            for k, e in enumerate(stage):
                trees.append(tree_arrays(e.tree_, e.tree_.value[:, 0, 0], k))
        link = "identity" if task == "regression" else ("logistic" if task == "binary" else "softmax")
        return task, classes, {"kind": "trees", "combine": "sum", "float32": True, "outputs": int(model.estimators_.shape[1]),
                               "base": [float(x) for x in base], "scale": float(model.learning_rate),
                               "link": link, "trees": trees}
    if name in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
        if getattr(model, "is_categorical_", None) is not None and np.any(model.is_categorical_):
            refuse("%s with categorical features cannot be exported (one-hot them, or use numeric codes)" % name)
        if getattr(model, "_preprocessor", None) is not None:
            refuse("%s with a categorical preprocessor cannot be exported" % name)
        loss = type(model._loss).__name__
        if task == "regression":
            links = {"HalfSquaredError": "identity", "AbsoluteError": "identity", "PinballLoss": "identity",
                     "HalfPoissonLoss": "exp", "HalfGammaLoss": "exp"}
            if loss not in links:
                refuse("%s loss %s cannot be exported" % (name, loss))
            link = links[loss]
        else:
            link = "logistic" if task == "binary" else "softmax"
        trees = []
        for iteration in model._predictors:
            for k, p in enumerate(iteration):
                nd = p.nodes
                leaf = nd["is_leaf"].astype(bool)
                trees.append({"output": k,
                              "feature": [0 if l else int(f) for f, l in zip(nd["feature_idx"], leaf)],
                              "threshold": [0.0 if l else finite_threshold(t) for t, l in zip(nd["num_threshold"], leaf)],
                              "left": [-1 if l else int(x) for x, l in zip(nd["left"], leaf)],
                              "right": [-1 if l else int(x) for x, l in zip(nd["right"], leaf)],
                              "missing_left": [int(x) for x in nd["missing_go_to_left"]],
                              "value": [float(x) for x in nd["value"]]})
        base = np.asarray(model._baseline_prediction, dtype=float).ravel()
        return task, classes, {"kind": "trees", "combine": "sum", "float32": False, "outputs": len(base),
                               "base": [float(x) for x in base], "link": link, "trees": trees}
    refuse("cannot export %s (linear models, MLP, random forests, gradient boosting)" % name)


def export(estimator, features, text_field=None, fmt=None):
    """The weights file's content (a dict) for a fitted estimator or pipeline."""
    scaler, text, model = split_inputs(estimator, features, text_field)
    name = type(model).__name__
    linear = name in LINEAR_CLASSIFIERS + LINEAR_REGRESSORS
    n_columns = len(features) + (text_width(text) if text else 0)
    if fmt != 2 and linear and text is None:
        return export_linear_v1(model, features, scaler)
    task, classes, est = estimator_spec(model, n_columns)
    out = {"format": "tributary.model/2", "task": task, "source": name, "features": list(features), "estimator": est}
    if classes is not None:
        out["classes"] = classes
    if scaler is not None:
        out["scaler"] = scaler
    if text is not None:
        out["text"] = text
    return out


def export_linear_v1(model, features, scaler):
    name = type(model).__name__
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=float)).reshape(-1)
    out = {"format": "tributary.linear/1", "features": list(features)}
    if name in LINEAR_CLASSIFIERS:
        if name == "SGDClassifier" and getattr(model, "loss", "") != "log_loss":
            refuse("SGDClassifier must use loss='log_loss' (probabilities), not " + str(model.loss))
        classes = [str(c) for c in model.classes_]
        out["classes"] = classes
        if len(classes) == 2:
            out["type"] = "logistic_regression"
        else:
            if name == "SGDClassifier" or getattr(model, "multi_class", "auto") == "ovr":
                refuse("a one-vs-rest multiclass model needs --format 2")
            out["type"] = "softmax_regression"
    else:
        out["type"] = "linear_regression"
    if coef.shape[1] != len(features):
        refuse("the model has %d columns but %d features were named" % (coef.shape[1], len(features)))
    out["coef"] = coef.tolist()
    out["intercept"] = intercept.tolist()
    if scaler is not None:
        out["scaler"] = scaler
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="pickled estimator or Pipeline")
    ap.add_argument("--features", default="", help="comma-separated dense feature names, in the model's column order")
    ap.add_argument("--text", default="", help="the event field the text block reads")
    ap.add_argument("--format", type=int, choices=[1, 2], help="force a format (default: 1 for dense linear models, else 2)")
    ap.add_argument("--out", required=True, help="weights file to write")
    a = ap.parse_args()
    with open(a.model, "rb") as f:
        estimator = pickle.load(f)
    try:
        doc = export(estimator, [s for s in a.features.split(",") if s], a.text or None, a.format)
    except ExportError as e:
        raise SystemExit(str(e))
    with open(a.out, "w") as f:
        json.dump(doc, f, allow_nan=False)
    kind = doc.get("type") or "%s (%s)" % (doc["source"], doc["estimator"]["kind"])
    print("wrote %s: %s, %s, %d dense features%s" % (a.out, doc["format"], kind, len(doc["features"]),
          ", text field %s" % doc["text"]["field"] if "text" in doc else ""), file=sys.stderr)


if __name__ == "__main__":
    main()
