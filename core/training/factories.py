"""Model factories: each returns an unfitted scikit-learn Pipeline. Only core.training fits.

Every candidate is the same shape: ``preprocess`` (the ColumnTransformer of core.features), then
``model``. Each one handles class imbalance the same way: with ``class_weight="balanced"``, rows
are weighted by the inverse frequency of their class (see :func:`class_weighting`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from core.features import build_preprocessor
from core.training.estimators import Calibrated, DenseFeatures, EncodedLabelClassifier, WeightedEnsemble

XGBOOST = "xgboost"
ENSEMBLE = "ensemble"
IMBALANCE_RATIO = 1.5  # largest class / smallest class from which classes are weighted
XGBOOST_DEFAULTS: dict[str, Any] = {
    "n_estimators": 300,
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "min_child_weight": 1.0,
    "reg_lambda": 1.0,
}


def class_weighting(y: np.ndarray) -> str | None:
    """``"balanced"`` when the classes are imbalanced (largest at least 1.5 times the smallest).

    Near-balanced classes are left unweighted: weights would change little, and they make
    histogram gradient boosting find its bins with weighted percentiles, many times slower.
    """
    counts = pd.Series(y).value_counts()
    return "balanced" if counts.max() >= IMBALANCE_RATIO * counts.min() else None


def make_xgboost(
    features: list[dict[str, Any]],
    params: dict[str, Any] | None = None,
    seed: int = 42,
    *,
    class_weight: str | None = None,
) -> Pipeline:
    # n_jobs=1: on two shared cores one thread per fit is far steadier than two
    classifier = XGBClassifier(
        **(XGBOOST_DEFAULTS | (params or {})), tree_method="hist", n_jobs=1, random_state=seed, verbosity=0
    )
    return Pipeline(
        [
            ("preprocess", build_preprocessor(features)),
            ("model", EncodedLabelClassifier(classifier, class_weight=class_weight)),
        ]
    )


def make_logistic_regression(
    features: list[dict[str, Any]], seed: int = 42, *, class_weight: str | None = None
) -> Pipeline:
    classifier = LogisticRegression(C=1.0, max_iter=2000, class_weight=class_weight, random_state=seed)
    return Pipeline([("preprocess", build_preprocessor(features, scale_numeric=True)), ("model", classifier)])


def make_random_forest(features: list[dict[str, Any]], seed: int = 42, *, class_weight: str | None = None) -> Pipeline:
    classifier = RandomForestClassifier(n_estimators=100, class_weight=class_weight, n_jobs=1, random_state=seed)
    return Pipeline([("preprocess", build_preprocessor(features)), ("model", classifier)])


def make_hist_gradient_boosting(
    features: list[dict[str, Any]], seed: int = 42, *, class_weight: str | None = None
) -> Pipeline:
    classifier = HistGradientBoostingClassifier(class_weight=class_weight, random_state=seed)
    return Pipeline(
        [
            ("preprocess", build_preprocessor(features)),
            ("dense", DenseFeatures(random_state=seed)),  # it refuses sparse input (one-hot, TF-IDF)
            ("model", classifier),
        ]
    )


@dataclass(frozen=True)
class Baseline:
    """A scikit-learn candidate trained with fixed settings, to compare the tuned XGBoost with."""

    name: str
    label: str
    make: Callable[..., Pipeline]  # (features, seed, *, class_weight) -> unfitted Pipeline


BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("logistic_regression", "logistic regression", make_logistic_regression),
        Baseline("random_forest", "random forest", make_random_forest),
        Baseline("hist_gradient_boosting", "histogram gradient boosting", make_hist_gradient_boosting),
    )
}
LABELS: dict[str, str] = (
    {XGBOOST: "XGBoost (tuned)"} | {b.name: b.label for b in BASELINES.values()} | {ENSEMBLE: "weighted ensemble"}
)


def estimator_params(pipeline: Any) -> dict[str, Any]:
    """The classifier's own settings (plain values only), for the run's parameters.

    A calibrated model's are its model's; an ensemble's are its members and their weights.
    """
    if isinstance(pipeline, Calibrated):
        return estimator_params(pipeline.model)
    if isinstance(pipeline, WeightedEnsemble):
        return {"members": ", ".join(f"{n} {w:.2f}" for n, w in zip(pipeline.names, pipeline.weights, strict=True))}
    model = pipeline.named_steps["model"]
    if isinstance(model, EncodedLabelClassifier):
        params = model.estimator.get_params(deep=False) | {"class_weight": model.class_weight}
    else:
        params = model.get_params(deep=False)
    return {k: v for k, v in sorted(params.items()) if v is not None and isinstance(v, (str, int, float, bool))}
