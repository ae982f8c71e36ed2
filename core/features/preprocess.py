"""The preprocessing ColumnTransformer, and the coercion of raw inputs to the types it expects.

Training and scoring both go through :func:`coerce_inputs`, so a value is read the same way in
both places: numbers as floats, dates as datetime64, everything else as text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from core.datasets.roles import FEATURE_ROLES, parse_datetimes

MISSING_CATEGORY = "(missing)"


def feature_columns(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns that feed the model, in file order."""
    return [c for c in columns if c["role"] in FEATURE_ROLES]


def coerce_inputs(frame: pd.DataFrame, features: list[dict[str, Any]]) -> pd.DataFrame:
    """Return the feature columns typed for the model: floats for numbers, datetime64 for dates, text otherwise.

    Unparsable numbers become NaN and unparsable dates NaT here; scoring detects numbers before
    calling this.
    """
    out = {}
    for col in features:
        values = frame[col["name"]]
        if col["role"] == "numeric":
            out[col["name"]] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif col["role"] == "datetime":
            out[col["name"]] = parse_datetimes(values)
        else:
            text = values.astype(object).where(values.notna(), None)
            text = text.map(lambda v: v if v is None else _as_text(v))
            # the vectorizer needs a string for every row; other branches impute their own way
            out[col["name"]] = text.fillna("") if col["role"] == "text" else text
    return pd.DataFrame(out, index=frame.index)


def _as_text(value: Any) -> str:
    # 1.0 read from a numeric column and "1" typed in a form are the same category
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(value).lower()
    return str(value)


DATETIME_PARTS = ("year", "month", "dayofweek", "hour", "days")
_EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
_DAY = np.timedelta64(1, "D")


class DatetimeFeatures(TransformerMixin, BaseEstimator):
    """Expand each datetime column into numbers: year, month, day of week, hour, days since 1970.

    ``hour="auto"`` keeps the hour only for columns whose times vary in the training data. Missing
    or unparsable dates give NaN in every part (impute after this step). Input: datetime64
    columns, or text that :func:`core.datasets.roles.parse_datetimes` reads.
    """

    def __init__(self, hour: str | bool = "auto"):
        self.hour = hour

    def _frame(self, X: Any) -> pd.DataFrame:  # noqa: N803
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            raise TypeError("DatetimeFeatures does not take sparse input: pass dense datetime columns.")
        if isinstance(X, pd.Series):
            X = X.to_frame()  # noqa: N806
        if not isinstance(X, pd.DataFrame):
            array = np.asarray(X)
            if array.ndim != 2:
                raise ValueError(
                    f"Expected a 2D array of datetime columns, got {array.ndim} dimension(s). Reshape your data "
                    "with array.reshape(-1, 1) for a single column."
                )
            if np.iscomplexobj(array):
                raise ValueError("Complex data not supported.")
            X = pd.DataFrame(array)  # noqa: N806
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
        if X.shape[1] == 0:
            raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        return X

    @staticmethod
    def _as_datetimes(values: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.astype("float64")
            if not np.isfinite(numbers.dropna()).all():
                raise ValueError("Input contains infinity or a value too large for a date.")
            return pd.to_datetime(numbers, unit="s", errors="coerce")  # numbers: seconds since 1970
        try:
            return parse_datetimes(values)
        except TypeError as exc:  # unhashable objects
            raise TypeError(f"argument must be a string or a number, not {exc}") from exc

    def fit(self, X: Any, y: Any = None) -> DatetimeFeatures:  # noqa: N803
        if self.hour not in ("auto", True, False):
            raise ValueError(f"hour must be 'auto', True or False, not {self.hour!r}")
        frame = self._frame(X)
        self.n_features_in_ = frame.shape[1]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        hours = []
        for i in range(frame.shape[1]):
            when = self._as_datetimes(frame.iloc[:, i]).dropna()
            varies = bool((when != when.dt.normalize()).any())
            hours.append(varies if self.hour == "auto" else bool(self.hour))
        self.hour_ = np.asarray(hours, dtype=bool)
        return self

    def _parts(self, column: int) -> list[str]:
        return [p for p in DATETIME_PARTS if p != "hour" or self.hour_[column]]

    def transform(self, X: Any) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "hour_")
        frame = self._frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but DatetimeFeatures is expecting {self.n_features_in_} features "
                "as input."
            )
        blocks = []
        for i in range(frame.shape[1]):
            when = self._as_datetimes(frame.iloc[:, i])
            parts = {
                "year": when.dt.year,
                "month": when.dt.month,
                "dayofweek": when.dt.dayofweek,
                "hour": when.dt.hour,
                "days": (when.to_numpy(dtype="datetime64[ns]") - _EPOCH) / _DAY,
            }
            blocks += [np.asarray(parts[p], dtype="float64") for p in self._parts(i)]
        return np.column_stack(blocks) if blocks else np.empty((frame.shape[0], 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "hour_")
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
        return np.asarray(
            [f"{name}_{p}" for i, name in enumerate(input_features) for p in self._parts(i)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def build_preprocessor(features: list[dict[str, Any]], *, scale_numeric: bool = False) -> ColumnTransformer:
    """One named branch per role, so tuning can address e.g. ``preprocess__num__impute__strategy``."""
    by_role: dict[str, list[str]] = {}
    for col in features:
        by_role.setdefault(col["role"], []).append(col["name"])
    branches = []
    if by_role.get("numeric"):
        steps = [("impute", SimpleImputer(strategy="median"))]
        if scale_numeric:
            steps.append(("scale", StandardScaler()))
        branches.append(("num", Pipeline(steps), by_role["numeric"]))
    categorical = by_role.get("categorical", []) + by_role.get("boolean", [])
    if categorical:
        branches.append(
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="infrequent_if_exist",
                                min_frequency=5,
                                max_categories=50,
                                sparse_output=True,
                            ),
                        ),
                    ]
                ),
                categorical,
            )
        )
    if by_role.get("datetime"):
        branches.append(
            (
                "dt",
                Pipeline([("parts", DatetimeFeatures()), ("impute", SimpleImputer(strategy="median"))]),
                by_role["datetime"],
            )
        )
    for i, name in enumerate(by_role.get("text", [])):
        # a single column name (not a list) hands the vectorizer the 1-D column it expects
        branches.append((f"text{i}", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), name))
    return ColumnTransformer(branches, remainder="drop", sparse_threshold=0.3)
