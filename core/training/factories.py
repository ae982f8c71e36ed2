"""Model factories: each returns an unfitted scikit-learn Pipeline. Only core.training fits."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from core.features import build_preprocessor
from core.training.estimators import EncodedLabelClassifier

XGBOOST_DEFAULTS: dict[str, Any] = {
    "n_estimators": 300,
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "min_child_weight": 1.0,
    "reg_lambda": 1.0,
}


def make_xgboost(features: list[dict[str, Any]], params: dict[str, Any] | None = None, seed: int = 42) -> Pipeline:
    # n_jobs=1: on two shared cores one thread per fit is far steadier than two
    classifier = XGBClassifier(
        **(XGBOOST_DEFAULTS | (params or {})), tree_method="hist", n_jobs=1, random_state=seed, verbosity=0
    )
    return Pipeline([("preprocess", build_preprocessor(features)), ("model", EncodedLabelClassifier(classifier))])
