"""Column roles: what Sift will do with each column, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

ROLES = ("numeric", "categorical", "boolean", "text", "datetime", "identifier", "constant")
FEATURE_ROLES = ("numeric", "categorical", "boolean", "text", "datetime")
_BOOLEAN_PAIRS = [{"true", "false"}, {"yes", "no"}, {"y", "n"}, {"t", "f"}, {"0", "1"}]
TEXT_MIN_MEAN_LENGTH = 30
ID_NAME_HINTS = ("id", "uuid", "key", "code", "number", "no")


@dataclass(frozen=True)
class ColumnRole:
    name: str
    role: str
    reason: str
    dtype: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _looks_like_id_name(name: str) -> bool:
    lowered = name.lower().replace("-", "_").replace(" ", "_")
    return lowered in ID_NAME_HINTS or any(lowered.endswith("_" + hint) for hint in ID_NAME_HINTS)


def infer_role(series: pd.Series) -> tuple[str, str]:
    """Return (role, reason) for one column."""
    values = series.dropna()
    n = len(values)
    if n == 0:
        return "constant", "every value is missing"
    unique = values.nunique()
    if unique == 1:
        return "constant", f"only one value ({values.iloc[0]!r}): carries no information"
    as_text = values.astype(str).str.lower()
    distinct_text = set(as_text.unique())
    if unique == 2 and any(distinct_text <= pair for pair in _BOOLEAN_PAIRS):
        return "boolean", f"two values ({', '.join(sorted(distinct_text))})"
    if pd.api.types.is_bool_dtype(series):
        return "boolean", "true/false values"
    if pd.api.types.is_numeric_dtype(series):
        integer = pd.api.types.is_integer_dtype(series)
        if integer and unique == len(series) and _looks_like_id_name(str(series.name)):
            return "identifier", "a different whole number on every row and named like an id"
        return "numeric", f"numbers ({unique} distinct values)"
    lengths = as_text.str.len()
    if unique == len(series) and lengths.mean() < TEXT_MIN_MEAN_LENGTH:
        return "identifier", "a different short value on every row: an id, not a pattern"
    if lengths.mean() >= TEXT_MIN_MEAN_LENGTH and unique > 0.5 * n:
        return "text", f"free text (mean length {lengths.mean():.0f} characters, mostly distinct)"
    return "categorical", f"{unique} distinct values"


def infer_roles(frame: pd.DataFrame) -> list[ColumnRole]:
    return [ColumnRole(str(c), *infer_role(frame[c]), dtype=str(frame[c].dtype)) for c in frame.columns]
