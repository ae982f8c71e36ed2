"""Formatting of figures for display: one rule per kind of number, the same on every page.

- A classification metric (accuracy, macro F1, balanced accuracy, ROC AUC, their CV forms and
  their differences) is a share between 0 and 1, always shown with :data:`METRIC_DECIMALS`
  decimals: ``0.983`` on Home, Train and Models alike (:func:`metric`, :func:`metric_column`).
- Whole numbers that name something rather than count it, such as years (``2007``) or ids, are
  shown plain, without thousands separators (:func:`plain_integer_columns`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
import streamlit as st

from core.training.evaluate import METRICS

METRIC_LABELS = METRICS | {"cv_f1_macro": "CV macro F1"}
METRIC_DECIMALS = 3
METRIC_FORMAT = f"%.{METRIC_DECIMALS}f"  # for st.column_config.NumberColumn
YEARS = (1800, 2100)  # whole numbers all in this range read as years
# a name that says the number names a row or a thing: "id", "passenger_id", "PassengerId", "rownames"
ID_NAME = re.compile(
    r"(?:^|[^A-Za-z])(?i:id|ids|key|code|rownames)(?:$|[^A-Za-z])"  # a word of its own, any case
    r"|[a-z](?:Id|ID|Ids|Key|Code)$"  # the end of a camelCase name
)


def metric_table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame.rename(columns=METRIC_LABELS)


def metric(value: float | None) -> str:
    """A metric as text, by the one rule: ``0.983``; a dash when there is none."""
    return "–" if value is None or value != value else f"{value:.{METRIC_DECIMALS}f}"


def metric_column(label: str | None = None, **options: Any) -> Any:
    """The table column of a metric, by the same rule as :func:`metric`."""
    return st.column_config.NumberColumn(label, format=METRIC_FORMAT, **options)


def metric_columns(names: Iterable[str], **options: Any) -> dict[str, Any]:
    """``column_config`` entries for these metric columns."""
    return {name: metric_column(**options) for name in names}


def percent(value: float | None) -> str:
    """A share that is not a metric (of rows, of predictions) as a percentage: ``12.5%``."""
    return "–" if value is None or value != value else f"{value:.1%}"


def _whole_numbers(column: pd.Series) -> pd.Series | None:
    """The column's values as whole numbers, or None when it holds anything else."""
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return None
    values = column.dropna()
    if values.empty:
        return None
    if not pd.api.types.is_integer_dtype(values) and not (values == values.round()).all():
        return None
    return values


def is_plain_integer(name: str, column: pd.Series) -> bool:
    """Whether a column's whole numbers name things (years, ids) rather than count them."""
    values = _whole_numbers(column)
    if values is None:
        return False
    if values.between(*YEARS).all():
        return True
    return bool(ID_NAME.search(str(name))) and (values >= 0).all()


def plain_integer_columns(frame: pd.DataFrame) -> dict[str, Any]:
    """``column_config`` showing year-like and id-like whole numbers without thousands separators."""
    return {
        name: st.column_config.NumberColumn(format="plain")
        for name in frame.columns
        if is_plain_integer(str(name), frame[name])
    }
