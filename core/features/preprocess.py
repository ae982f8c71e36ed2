"""The preprocessing ColumnTransformer, and the coercion of raw inputs to the types it expects.

Training and scoring both go through :func:`coerce_inputs`, so a value is read the same way in
both places: numbers as floats, everything else as text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from core.datasets.roles import FEATURE_ROLES

MISSING_CATEGORY = "(missing)"


def feature_columns(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns that feed the model, in file order."""
    return [c for c in columns if c["role"] in FEATURE_ROLES]


def coerce_inputs(frame: pd.DataFrame, features: list[dict[str, Any]]) -> pd.DataFrame:
    """Return the feature columns typed for the model: floats for numbers, text otherwise.

    Unparsable numbers become NaN here; scoring detects them before calling this.
    """
    out = {}
    for col in features:
        values = frame[col["name"]]
        if col["role"] == "numeric":
            out[col["name"]] = pd.to_numeric(values, errors="coerce").astype("float64")
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
    categorical = by_role.get("categorical", []) + by_role.get("boolean", []) + by_role.get("datetime", [])
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
    for i, name in enumerate(by_role.get("text", [])):
        # a single column name (not a list) hands the vectorizer the 1-D column it expects
        branches.append((f"text{i}", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True), name))
    return ColumnTransformer(branches, remainder="drop", sparse_threshold=0.3)
