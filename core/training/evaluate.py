"""Cross-validation and holdout evaluation: the metric names (their one home), metrics and their
95 % intervals, curves, calibration, permutation importance, and the comparison with guessing.

Every document returned here is plain JSON (lists, strings, floats), so pages render it as it
was stored, without recomputing anything.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from core.labels import as_class_texts, class_text

CV_FOLDS = 5
REPEATS = ((3_000, 2),)  # (training rows below, times the folds are drawn)
CURVE_POINTS = 200
CALIBRATION_BINS = 10
IMPORTANCE_REPEATS = 5
IMPORTANCE_MAX_ROWS = 5_000
# the holdout metrics, in the order every table lists them, named in the analyst's words
METRICS = {
    "accuracy": "Accuracy",
    "f1_macro": "Macro F1",
    "balanced_accuracy": "Balanced accuracy",
    "roc_auc": "ROC AUC",
    "log_loss": "Log loss",
}
LOWER_IS_BETTER = frozenset({"log_loss"})  # every other metric: higher is better
OLD_SELECTION_METRIC = "f1_macro"  # what every model was chosen on before the metric was the analyst's choice
IMPORTANCE_METRIC = "f1_macro"  # what permutation importance measures the drop of
RESAMPLES = 200  # bootstrap resamples behind an interval
Z_95 = 1.959963984540054
CHANCE_RESAMPLES = 999
CHANCE_MAX_ROWS = 5_000
CHANCE_LEVEL = 0.05  # a p-value at least this large: not clearly better than chance


def classification_metrics(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRICS` of ``proba`` (columns in ``classes`` order).

    The truth is matched to the classes first (:func:`core.labels.as_class_texts`): labels read
    back as text (``"1"``) or typed (``1``, ``1.0``) name the same class, so no mix of types
    reaches scikit-learn.
    """
    labels = np.asarray([class_text(c) for c in classes], dtype=object)
    y_true = as_class_texts(y_true, list(classes))
    y_pred = labels[np.argmax(proba, axis=1)]
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }
    try:
        if len(classes) == 2:
            metrics["roc_auc"] = float(roc_auc_score(y_true == labels[1], proba[:, 1]))
        else:  # on class positions: scikit-learn wants ``labels`` sorted, and texts of numbers sort apart
            codes = pd.Categorical(y_true, categories=labels).codes
            metrics["roc_auc"] = float(roc_auc_score(codes, proba, multi_class="ovr", labels=np.arange(len(labels))))
    except ValueError:  # a class absent from the holdout, or a label the model does not know
        metrics["roc_auc"] = float("nan")
    codes = pd.Categorical(y_true, categories=labels).codes
    metrics["log_loss"] = metric_value("log_loss", codes, proba) if (codes >= 0).all() else float("nan")
    return metrics


def metric_value(metric: str, codes: np.ndarray, proba: np.ndarray) -> float:
    """One metric of :data:`METRICS` from class positions (0..k-1, the columns of ``proba``); NaN when undefined."""
    k = proba.shape[1]
    predicted = np.argmax(proba, axis=1)
    if metric == "accuracy":
        return float(np.mean(predicted == codes))
    if metric == "f1_macro":
        return float(f1_score(codes, predicted, average="macro"))
    if metric == "balanced_accuracy":
        return float(balanced_accuracy_score(codes, predicted))
    if metric == "roc_auc":
        return _roc_auc(codes, proba, k)
    if metric == "log_loss":  # as scikit-learn's log_loss with every class as a label, without its checks
        clipped = np.clip(proba, 1e-15, 1.0)
        chosen = clipped[np.arange(len(codes)), codes] / clipped.sum(axis=1)
        return float(-np.mean(np.log(chosen))) if len(codes) else float("nan")
    raise ValueError(f"unknown metric {metric!r}")


def score(metric: str, codes: np.ndarray, proba: np.ndarray) -> float:
    """:func:`metric_value` turned so that higher is always better (log loss negated), for comparing models."""
    value = metric_value(metric, codes, proba)
    return -value if metric in LOWER_IS_BETTER else value


def shown(metric: str, value: float) -> float:
    """A :func:`score` back in the metric's own units (a log loss is positive again)."""
    return -value if metric in LOWER_IS_BETTER else value


def confusion(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    y_pred = classes[np.argmax(proba, axis=1)]
    matrix = confusion_matrix(np.asarray(y_true), y_pred, labels=classes)
    return {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}


# --- metrics with 95 % intervals -------------------------------------------------------------


@dataclass
class MetricEstimate:
    key: str
    label: str
    value: float
    low: float | None = None
    high: float | None = None
    method: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "method": self.method}


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion (good near 0 and 1, unlike the normal approximation)."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def _from_confusion(matrix: np.ndarray) -> tuple[float, float]:
    """Macro F1 and balanced accuracy from a confusion matrix (rows: true, columns: predicted)."""
    true_positive = np.diag(matrix).astype(float)
    actual, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(actual + predicted > 0, 2 * true_positive / (actual + predicted), 0.0)
        recall = true_positive[actual > 0] / actual[actual > 0]
    # as scikit-learn: macro F1 over the classes present in truth or prediction
    present = (actual + predicted) > 0
    return float(f1[present].mean()), float(recall.mean())


def _roc_auc(truth: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    with warnings.catch_warnings():  # a (re)sample with one class: undefined (NaN)
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        try:
            if n_classes == 2:
                return float(roc_auc_score(truth == 1, proba[:, 1]))
            return float(roc_auc_score(truth, proba, multi_class="ovr", labels=np.arange(n_classes)))
        except ValueError:  # a class absent from the (re)sample
            return math.nan


def holdout_metrics(
    y_true: Any,
    proba: np.ndarray,
    classes: Any,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    keys: Collection[str] | None = None,
) -> list[MetricEstimate]:
    """Accuracy (Wilson interval), macro F1, balanced accuracy, ROC AUC and log loss (seeded percentile
    bootstrap), in :data:`METRICS` order; ``keys`` limits them to those metrics (the bootstrap of
    ROC AUC is the slow part)."""
    wanted = set(METRICS if keys is None else keys)
    classes = np.asarray(classes)
    index = {c: i for i, c in enumerate(classes.tolist())}
    truth = np.array([index.get(v, -1) for v in np.asarray(y_true).tolist()])
    known = truth >= 0  # labels the model never saw count as errors for accuracy and F1
    predicted = np.argmax(proba, axis=1)
    k, n = len(classes), len(truth)

    def confusion(rows: np.ndarray) -> np.ndarray:
        t, p = truth[rows], predicted[rows]
        keep = t >= 0
        return np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k)

    everything = np.arange(n)
    correct = int((truth == predicted).sum())
    f1, balanced = _from_confusion(confusion(everything))
    auc = _roc_auc(truth[known], proba[known], k) if known.all() and "roc_auc" in wanted else math.nan
    loss = metric_value("log_loss", truth, proba) if known.all() and n and "log_loss" in wanted else math.nan
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {key: [] for key in METRICS if key != "accuracy"}  # accuracy: Wilson
    for _ in range(resamples):
        rows = rng.integers(0, n, n)
        f1_b, balanced_b = _from_confusion(confusion(rows))
        samples["f1_macro"].append(f1_b)
        samples["balanced_accuracy"].append(balanced_b)
        if auc == auc:
            samples["roc_auc"].append(_roc_auc(truth[rows], proba[rows], k))
        if loss == loss:
            samples["log_loss"].append(metric_value("log_loss", truth[rows], proba[rows]))

    def bootstrap(key: str, value: float) -> MetricEstimate:
        values = np.asarray(samples[key], dtype=float)
        values = values[~np.isnan(values)]
        if value != value or len(values) < resamples // 2:
            return MetricEstimate(key, METRICS[key], value, method="no interval (too few usable resamples)")
        low, high = np.percentile(values, [2.5, 97.5])
        return MetricEstimate(key, METRICS[key], value, float(low), float(high), f"bootstrap, {resamples} resamples")

    low, high = wilson_interval(correct, n)
    estimates = [
        MetricEstimate("accuracy", METRICS["accuracy"], correct / n if n else math.nan, low, high, f"Wilson, n={n}"),
        bootstrap("f1_macro", f1),
        bootstrap("balanced_accuracy", balanced),
        bootstrap("roc_auc", auc),
        bootstrap("log_loss", loss),
    ]
    return [e for e in estimates if e.key in wanted]


# --- cross-validation -----------------------------------------------------------------------


def cv_repeats(rows: int) -> int:
    """How many times the folds are drawn: small tables are repeated, so selection does not rest on one shuffle."""
    return next((repeats for limit, repeats in REPEATS if rows < limit), 1)


def cv_folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stratified folds every candidate is cross-validated on (fewer than 5 for rare classes),
    drawn :func:`cv_repeats` times; each repeat's held-out rows cover every row once."""
    smallest = int(pd.Series(y).value_counts().min())
    splits = min(CV_FOLDS, smallest)
    if splits < 2:
        raise ValueError("every class needs at least two training rows to cross-validate")
    repeats = cv_repeats(len(y))
    if repeats == 1:
        folder: Any = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    else:
        folder = RepeatedStratifiedKFold(n_splits=splits, n_repeats=repeats, random_state=seed)
    return list(folder.split(np.zeros(len(y)), y))


@dataclass
class CrossValidation:
    """A candidate's cross-validation: its score on each fold, and its out-of-fold probabilities."""

    scores: list[float]  # the selection metric on each fold, higher is better (log loss negated)
    oof: np.ndarray  # rows x classes: each row predicted by the models that did not see it, averaged over repeats


def _aligned(model: Any, X: pd.DataFrame, classes: np.ndarray) -> np.ndarray:  # noqa: N803
    """``model``'s probabilities in the columns of ``classes`` (a class its fold lacked gets 0)."""
    proba = model.predict_proba(X)
    fitted = np.asarray(model.classes_)
    if len(fitted) == len(classes) and (fitted == classes).all():
        return proba
    out = np.zeros((len(X), len(classes)))
    out[:, np.searchsorted(classes, fitted)] = proba
    return out


def cross_validate(
    pipeline: Any,
    X: pd.DataFrame,  # noqa: N803
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    metric: str,
    after_fold: Callable[[int, float], None] | None = None,
) -> CrossValidation:
    """``metric`` (:func:`score`) of a fresh copy of ``pipeline`` on each fold, and the out-of-fold probabilities.

    ``after_fold(fold index, running mean)`` is called after each fold; raising there stops the
    cross-validation (Optuna's pruning, a cancelled training).
    """
    classes = np.unique(y)
    codes = np.searchsorted(classes, y)
    total, seen = np.zeros((len(y), len(classes))), np.zeros(len(y))
    scores: list[float] = []
    for i, (fit_rows, test_rows) in enumerate(folds):
        model = clone(pipeline).fit(X.iloc[fit_rows], y[fit_rows])
        proba = _aligned(model, X.iloc[test_rows], classes)
        total[test_rows] += proba
        seen[test_rows] += 1
        with warnings.catch_warnings():  # ROC AUC of a fold without some class is undefined (NaN, left out)
            warnings.simplefilter("ignore", UserWarning)
            scores.append(score(metric, codes[test_rows], proba))
        if after_fold is not None:
            after_fold(i, float(np.nanmean(scores)) if not np.isnan(scores).all() else float("nan"))
    return CrossValidation(scores, total / np.maximum(seen, 1)[:, None])


# --- holdout documents ----------------------------------------------------------------------


def _thin(*arrays: np.ndarray, points: int = CURVE_POINTS) -> list[list[float]]:
    """At most ``points`` evenly spaced points of a curve, first and last kept."""
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, points)).round().astype(int)) if n else np.array([], dtype=int)
    return [[_num(v) for v in np.asarray(a)[keep]] for a in arrays]


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _one_vs_rest(y_true: np.ndarray, classes: np.ndarray) -> list[tuple[int, Any]]:
    """The (column, class) pairs to draw: the positive class for binary, every class otherwise."""
    if len(classes) == 2:
        return [(1, classes[1])]
    return list(enumerate(classes))


def roc_curves(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    y_true = np.asarray(y_true)
    curves = []
    for column, label in _one_vs_rest(y_true, classes):
        positive = y_true == label
        if positive.all() or not positive.any():
            continue
        fpr, tpr, _ = roc_curve(positive, proba[:, column], drop_intermediate=True)
        x, y = _thin(fpr, tpr)
        curves.append({"label": str(label), "fpr": x, "tpr": y, "auc": _num(roc_auc_score(positive, proba[:, column]))})
    kind = "binary" if len(classes) == 2 else "one-vs-rest"
    return {"kind": kind, "curves": curves}


def pr_curves(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    y_true = np.asarray(y_true)
    curves = []
    for column, label in _one_vs_rest(y_true, classes):
        positive = y_true == label
        if not positive.any():
            continue
        precision, recall, _ = precision_recall_curve(positive, proba[:, column], drop_intermediate=True)
        x, y = _thin(recall, precision)
        curves.append(
            {
                "label": str(label),
                "recall": x,
                "precision": y,
                "average_precision": _num(average_precision_score(positive, proba[:, column])),
                "prevalence": float(positive.mean()),
            }
        )
    kind = "binary" if len(classes) == 2 else "one-vs-rest"
    return {"kind": kind, "curves": curves}


def _bins(predicted: np.ndarray, observed: np.ndarray) -> list[dict[str, Any]]:
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(predicted, edges[1:-1], right=True), 0, CALIBRATION_BINS - 1)
    out = []
    for b in range(CALIBRATION_BINS):
        inside = which == b
        if inside.any():
            out.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "predicted": float(predicted[inside].mean()),
                    "observed": float(observed[inside].mean()),
                    "count": int(inside.sum()),
                }
            )
    return out


def calibration(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """Reliability on the holdout, in bins of predicted probability.

    Binary: the positive class's probability against how often the row was positive.
    Multi-class: the predicted class's probability (the confidence) against how often the
    prediction was right (top-label calibration).
    """
    y_true = np.asarray(y_true)
    if len(classes) == 2:
        positive = (y_true == classes[1]).astype(float)
        return {
            "kind": "binary",
            "label": str(classes[1]),
            "bins": _bins(proba[:, 1], positive),
            "brier": float(brier_score_loss(positive, proba[:, 1])),
            "note": f"Predicted probability of {classes[1]} against the share of rows that were {classes[1]}.",
        }
    confidence = proba.max(axis=1)
    correct = (classes[np.argmax(proba, axis=1)] == y_true).astype(float)
    return {
        "kind": "top-label",
        "label": None,
        "bins": _bins(confidence, correct),
        "brier": None,
        "note": "Multi-class: the predicted class's probability against how often the prediction was right.",
    }


def importances(pipeline: Any, X: pd.DataFrame, y: np.ndarray, seed: int) -> list[dict[str, Any]]:  # noqa: N803
    """Permutation importance on the holdout, per original column: how much macro F1 drops when
    the column's values are shuffled. The whole Pipeline is scored, so one-hot and TF-IDF
    columns count as the column they came from."""
    if len(X) > IMPORTANCE_MAX_ROWS:
        rows = np.random.default_rng(seed).choice(len(X), IMPORTANCE_MAX_ROWS, replace=False)
        X, y = X.iloc[np.sort(rows)], y[np.sort(rows)]  # noqa: N806
    result = permutation_importance(
        pipeline, X, y, scoring=IMPORTANCE_METRIC, n_repeats=IMPORTANCE_REPEATS, random_state=seed, n_jobs=1
    )
    rows_out = [
        {"feature": str(name), "importance": float(mean), "std": float(std)}
        for name, mean, std in zip(X.columns, result.importances_mean, result.importances_std, strict=True)
    ]
    return sorted(rows_out, key=lambda r: r["importance"], reverse=True)


# --- against guessing -----------------------------------------------------------------------


def _balanced_accuracy(truth: np.ndarray, predicted: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean recall over the true classes, on integer codes; vectorised over leading axes."""
    recalls = [((truth == c) & (predicted == c)).sum(axis=axis) / (truth == c).sum(axis=axis) for c in np.unique(truth)]
    return np.mean(recalls, axis=0)


def against_chance(y_train: Any, y_hold: Any, proba: np.ndarray, classes: np.ndarray, seed: int) -> dict[str, Any]:
    """The winner against guessing, on the holdout.

    The guess always answers the most common training class (its accuracy is the no-information
    rate). The permutation test shuffles which true label goes with which prediction: ``p_value``
    is the share of shuffles whose balanced accuracy reaches the model's, so a small one means
    predictions and true labels go together beyond chance (at most 5,000 holdout rows are used).
    """
    truth = pd.Categorical(np.asarray(y_hold), categories=classes).codes
    predicted = np.argmax(proba, axis=1)
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    guess = values[np.argmax(counts)]
    guessed = np.full(len(truth), list(classes).index(guess))
    rng = np.random.default_rng(seed)
    used = (
        np.sort(rng.choice(len(truth), CHANCE_MAX_ROWS, replace=False)) if len(truth) > CHANCE_MAX_ROWS else slice(None)
    )
    test = stats.permutation_test(
        (truth[used], predicted[used]),
        _balanced_accuracy,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=CHANCE_RESAMPLES,
        alternative="greater",
        random_state=rng,
    )
    p_value = float(test.pvalue)
    return {
        "guess": str(guess),
        "guess_share": float(counts.max() / counts.sum()),
        "accuracy": float(accuracy_score(truth, guessed)),
        "f1_macro": float(f1_score(truth, guessed, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(truth, guessed)),
        "model_balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        "p_value": p_value,
        "rows": len(truth[used]),
        "resamples": CHANCE_RESAMPLES,
        "better_than_chance": p_value < CHANCE_LEVEL,
    }


def chance_summary(doc: dict[str, Any]) -> str:
    """One sentence: what guessing would score on the holdout, and the permutation test."""
    verdict = "go with" if doc["better_than_chance"] else "are not clearly related to"
    return (
        f"Always answering '{doc['guess']}' (the most common class) would score accuracy {doc['accuracy']:.3f}, "
        f"macro F1 {doc['f1_macro']:.3f} and balanced accuracy {doc['balanced_accuracy']:.3f} on this holdout. "
        f"A permutation test on {doc['rows']:,} holdout rows finds that the model's predictions {verdict} "
        f"the true labels beyond chance (p = {doc['p_value']:.3g})."
    )


def chance_warning(doc: dict[str, Any] | None) -> str | None:
    """What to tell the analyst when the model is not clearly better than chance; None when it is."""
    if not doc or doc["better_than_chance"]:
        return None
    return (
        f"The model is not clearly better than chance: balanced accuracy {doc['model_balanced_accuracy']:.3f} on "
        f"the holdout, against {doc['balanced_accuracy']:.3f} for always answering '{doc['guess']}' "
        f"(permutation test p = {doc['p_value']:.2f} on {doc['rows']:,} rows). The columns may carry little "
        "information about the target, or there are too few rows to tell: check the data before relying on "
        "its predictions."
    )
