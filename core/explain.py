"""Why a prediction came out as it did: each original column's contribution, row by row.

Two methods, chosen by the model:

- **XGBoost's own contributions** (SHAP values: ``Booster.predict(DMatrix, pred_contribs=True)``),
  computed on the preprocessed matrix and summed back per original column through the
  ColumnTransformer's output names (``num__Area``, ``cat__colour_red``, ``dt__when_year``,
  ``text0__word``: one-hot, date-part and TF-IDF outputs add up to their column). Units: log-odds
  of the predicted class; the contributions plus the model's baseline give its margin.
- **Typical-value substitution** for any other classifier (logistic regression, random forest,
  histogram gradient boosting, ...): each column in turn is set to its typical training value
  (from the input contract) and the drop in the predicted class's probability is that column's
  contribution. All substituted rows go through one ``predict_proba`` call. For a weighted
  ensemble this is exactly its members' reasons, weighted: probabilities mix linearly, so the
  ensemble's drop is the weighted sum of its members' drops.

A model with calibrated probabilities (it has a ``calibrator`` in front of its ``model``) is
explained through its model: XGBoost's contributions of the model the calibration reshapes.

Positive contributions push towards the predicted class, negative ones away from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

XGBOOST_CONTRIBUTIONS = "xgboost_contributions"
TYPICAL_SUBSTITUTION = "typical_value_substitution"
METHODS = {
    XGBOOST_CONTRIBUTIONS: "XGBoost's own feature contributions (SHAP values), in log-odds of the predicted class",
    TYPICAL_SUBSTITUTION: (
        "typical-value substitution: how much the predicted class's probability drops when the column "
        "is set to its typical training value"
    ),
}
UNITS = {XGBOOST_CONTRIBUTIONS: "log-odds", TYPICAL_SUBSTITUTION: "probability"}


@dataclass(frozen=True)
class Reason:
    """One column's part in one prediction."""

    column: str
    value: Any
    contribution: float

    @property
    def direction(self) -> str:
        return "towards" if self.contribution >= 0 else "away from"


@dataclass(frozen=True)
class Explanation:
    """The reasons of one prediction, largest contribution (either sign) first."""

    method: str
    reasons: list[Reason]
    baseline: float | None = None  # XGBoost: the margin before any column is looked at

    @property
    def unit(self) -> str:
        return UNITS[self.method]

    @property
    def description(self) -> str:
        return METHODS[self.method]

    def top(self, n: int = 5) -> list[Reason]:
        return self.reasons[:n]

    def as_dict(self, n: int | None = None) -> dict[str, Any]:
        reasons = self.reasons if n is None else self.reasons[:n]
        return {
            "method": self.method,
            "unit": self.unit,
            "reasons": [
                {"column": r.column, "value": _plain(r.value), "contribution": r.contribution} for r in reasons
            ],
        }


def _plain(value: Any) -> Any:
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()  # a numpy NaN becomes a float NaN, which JSON cannot hold: None below
    if isinstance(value, float) and value != value:
        return None
    return value


# --- XGBoost: contributions mapped back to original columns ---------------------------------


@dataclass(frozen=True)
class _XGBoostParts:
    preprocess: ColumnTransformer
    booster: Any
    owners: np.ndarray  # (outputs x columns) indicator: which original column each output comes from


def _branch_columns(preprocess: ColumnTransformer) -> dict[str, list[str]] | None:
    branches: dict[str, list[str]] = {}
    for name, _transformer, columns in preprocess.transformers_:
        if name == "remainder":
            continue
        if isinstance(columns, str):
            columns = [columns]
        if not all(isinstance(c, str) for c in columns):
            return None  # columns given by position: names cannot be mapped
        branches[name] = list(columns)
    return branches


def _owner(columns: list[str], output: str) -> str | None:
    """The original column an output feature comes from: ``Area``, ``colour_red`` -> ``colour``.

    A branch of one column owns all its outputs (TF-IDF words); otherwise the longest column
    name that the output starts with (followed by ``_``) wins.
    """
    if len(columns) == 1:
        return columns[0]
    best = None
    for column in columns:
        if (output == column or output.startswith(column + "_")) and (best is None or len(column) > len(best)):
            best = column
    return best


def _xgboost_parts(pipeline: Any, features: list[str]) -> _XGBoostParts | None:
    """The pieces for XGBoost's contributions, or None when the pipeline is not preprocess -> XGBoost."""
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2:
        return None
    preprocess, model = steps[0][1], steps[1][1]
    estimator = getattr(model, "estimator_", model)  # EncodedLabelClassifier wraps the XGBClassifier
    if not isinstance(preprocess, ColumnTransformer) or not hasattr(estimator, "get_booster"):
        return None
    branches = _branch_columns(preprocess)
    if branches is None:
        return None
    try:
        outputs = preprocess.get_feature_names_out()
    except (AttributeError, ValueError):
        return None
    position = {name: i for i, name in enumerate(features)}
    owners = np.zeros((len(outputs), len(features)))
    for j, output in enumerate(outputs):
        branch, _, rest = str(output).partition("__")
        column = _owner(branches.get(branch, []), rest)
        if column is None or column not in position:
            return None
        owners[j, position[column]] = 1.0
    return _XGBoostParts(preprocess, estimator.get_booster(), owners)


def _xgboost(parts: _XGBoostParts, transformed: Any, class_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import xgboost  # lazy: only XGBoost models need it (its import is slow)

    # one thread: on a few shared cores, OpenMP's start-up costs more than a row's contributions
    matrix = xgboost.DMatrix(transformed, feature_names=parts.booster.feature_names, nthread=1)
    contributions = parts.booster.predict(matrix, pred_contribs=True)
    rows = np.arange(len(class_index))
    if contributions.ndim == 3:  # multi-class: (rows, classes, outputs + 1)
        chosen = contributions[rows, class_index, :]
    else:  # binary: towards class 1; the predicted class 0 gets the opposite sign
        chosen = contributions * np.where(class_index == 1, 1.0, -1.0)[:, None]
    return chosen[:, :-1] @ parts.owners, chosen[:, -1]


# --- any classifier: typical-value substitution ----------------------------------------------


def substitution(pipeline: Any, typed: pd.DataFrame, class_index: np.ndarray, typical: pd.DataFrame) -> np.ndarray:
    """Each column's typical-value substitution contribution (rows x columns of ``typed``), for any classifier."""
    n, k = typed.shape
    rows = np.arange(n)
    base = pipeline.predict_proba(typed)[rows, class_index]
    variants = typed.iloc[np.repeat(rows, k)].reset_index(drop=True)
    for j, name in enumerate(typed.columns):
        where = rows * k + j
        column = variants[name].copy()
        column.iloc[where] = typical[name].iloc[0]
        variants[name] = column
    substituted = pipeline.predict_proba(variants)[np.arange(n * k), np.repeat(class_index, k)].reshape(n, k)
    return base[:, None] - substituted


# --- the entry point ----------------------------------------------------------------------------


def contributions(
    pipeline: Any,
    typed: pd.DataFrame,
    class_index: np.ndarray,
    *,
    typical: pd.DataFrame,
    transformed: Any = None,
) -> tuple[pd.DataFrame, np.ndarray | None, str]:
    """Each original column's contribution to class ``class_index[i]`` of row ``i``.

    ``typed`` holds the model's input columns (as :func:`core.features.coerce_inputs` gives
    them), ``typical`` one row of typical training values in the same columns, ``transformed``
    optionally the preprocessed ``typed`` (saves transforming twice). Returns (contributions with
    ``typed``'s index and columns, the XGBoost baseline per row or None, the method).
    """
    class_index = np.asarray(class_index, dtype=int)
    features = list(typed.columns)
    uncalibrated = pipeline.model if getattr(pipeline, "calibrator", None) is not None else pipeline
    parts = _xgboost_parts(uncalibrated, features)
    if parts is not None:
        if transformed is None:
            transformed = parts.preprocess.transform(typed)
        values, baseline = _xgboost(parts, transformed, class_index)
        return pd.DataFrame(values, index=typed.index, columns=features), baseline, XGBOOST_CONTRIBUTIONS
    values = substitution(pipeline, typed, class_index, typical[features])
    return pd.DataFrame(values, index=typed.index, columns=features), None, TYPICAL_SUBSTITUTION


def explain_row(
    pipeline: Any, typed: pd.DataFrame, class_index: int, *, typical: pd.DataFrame, transformed: Any = None
) -> Explanation:
    """The reasons for the prediction of ``typed``'s single row, largest first."""
    frame, baseline, method = contributions(
        pipeline, typed.iloc[:1], np.asarray([class_index]), typical=typical, transformed=transformed
    )
    values = frame.iloc[0]
    order = np.argsort(-np.abs(values.to_numpy()), kind="stable")
    reasons = [
        Reason(column=str(values.index[i]), value=typed.iloc[0, i], contribution=round(float(values.iloc[i]), 6))
        for i in order
    ]
    return Explanation(
        method=method, reasons=reasons, baseline=None if baseline is None else round(float(baseline[0]), 6)
    )
