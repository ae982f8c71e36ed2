"""Which column to predict: a suggestion from the evidence in the table, and warnings on a choice.

A label has few distinct values (2 to :data:`MAX_CLASSES`, and far fewer than rows), is usually
text or true/false rather than a number, is often named like one (class, label, target, species,
survived, ...), and is what the other columns tell most about. :func:`suggest_target` weighs these
and never goes by a column's position; identifiers, constants, free text, dates and continuous
numbers are never suggested. :func:`check_target` warns (it does not refuse) when a chosen target
looks like something else: a number with few values (a year, a count), a measurement or an
identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.datasets.roles import ColumnRole, infer_roles

# names (a whole word of the column's name) that say "this is the thing to predict"
LABEL_WORDS = (
    "class",
    "label",
    "target",
    "outcome",
    "species",
    "survived",
    "status",
    "churn",
    "default",
    "y",
    "diagnosis",
    "type",
    "category",
    "result",
)
MIN_CLASSES, MAX_CLASSES = 2, 20
# a label has on average at least this many rows per class
MIN_ROWS_PER_CLASS = 5
# a chosen target with distinct values on at least this share of its rows is a near-identifier
NEAR_IDENTIFIER_SHARE = 0.9
# how much of a candidate the other columns explain is measured on this many rows, each column
# cut into at most this many bins (numbers by quantile, categories by their most frequent values)
EVIDENCE_ROWS = 5_000
EVIDENCE_BINS = 10
NEVER = ("identifier", "constant", "text", "datetime")

# weights: a label's name is the strongest evidence, then its kind, then what the others tell of it
NAMED, NAMED_IN_PART = 6.0, 3.0
TEXT_KIND, NUMBER_PAIR_KIND = 2.0, 1.0
EXPLAINED = 2.0


@dataclass(frozen=True)
class TargetSuggestion:
    """The suggested target (None when no column looks like a label) and why, in one line."""

    column: str | None
    reason: str


def _words(name: str) -> list[str]:
    """The words of a column name: 'passengerClass' -> passenger, class; 'churn_label' -> churn, label."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def _is_label_word(word: str) -> bool:
    for hint in LABEL_WORDS:
        if word == hint:
            return True
        # plurals and past forms of the longer words: labels, classes, churned
        if len(hint) >= 4 and word.startswith(hint) and word[len(hint) :] in ("s", "es", "ed", "d"):
            return True
    return False


def label_name(name: str) -> str | None:
    """'named' when the whole name is a label word, 'in part' when one of its words is, else None."""
    words = _words(name)
    if not words:
        return None
    if len(words) == 1 and _is_label_word(words[0]):
        return "named"
    if any(_is_label_word(w) for w in words):
        return "in part"
    return None


def _present(series: pd.Series) -> pd.Series:
    return series.dropna()


def _whole_numbers(values: pd.Series) -> bool:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        return False
    return bool((numbers == np.floor(numbers)).all())


def _roles(frame: pd.DataFrame, roles: list[ColumnRole] | dict[str, str] | None) -> dict[str, str]:
    if roles is None:
        return {c.name: c.role for c in infer_roles(frame)}
    if isinstance(roles, dict):
        return dict(roles)
    return {c.name: c.role for c in roles}


def _is_number(series: pd.Series, role: str) -> bool:
    return role == "numeric" or (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def _show_values(distinct: list[object], limit: int = 3) -> str:
    shown = ", ".join(str(v) for v in sorted(distinct, key=str)[:limit])
    return shown + (", …" if len(distinct) > limit else "")


@dataclass(frozen=True)
class _Candidate:
    column: str
    distinct: list[object]
    kind: str  # "text", "yes/no numbers", "whole numbers"
    name: str | None
    score: float


def _candidate(series: pd.Series, role: str, rows: int) -> _Candidate | None:
    if role in NEVER:
        return None
    present = _present(series)
    distinct = list(pd.unique(present))
    k = len(distinct)
    if not MIN_CLASSES <= k <= MAX_CLASSES or k * MIN_ROWS_PER_CLASS > rows:
        return None
    if _is_number(series, role):
        if not _whole_numbers(pd.Series(distinct)):
            return None  # a measurement with a few values (0.5, 1.5), not a class
        kind = "yes/no numbers" if role == "boolean" else "whole numbers"
    else:
        kind = "text"
    name = label_name(str(series.name))
    score = {"named": NAMED, "in part": NAMED_IN_PART, None: 0.0}[name]
    score += {"text": TEXT_KIND, "yes/no numbers": NUMBER_PAIR_KIND, "whole numbers": 0.0}[kind]
    return _Candidate(str(series.name), distinct, kind, name, score)


def _codes(series: pd.Series, role: str) -> np.ndarray:
    """A column cut into at most EVIDENCE_BINS codes (-1: missing) for counting what it tells."""
    if _is_number(series, role):
        numbers = pd.to_numeric(series, errors="coerce")
        if numbers.nunique() > EVIDENCE_BINS:
            ranked = numbers.rank(method="average", pct=True)
            bins = np.minimum(np.floor(ranked.fillna(0).to_numpy() * EVIDENCE_BINS), EVIDENCE_BINS - 1)
            return np.where(ranked.isna().to_numpy(), -1, bins).astype(np.int64)
        series = numbers
    codes, uniques = pd.factorize(series)
    if len(uniques) > EVIDENCE_BINS:
        frequent = np.argsort(-np.bincount(codes[codes >= 0], minlength=len(uniques)), kind="stable")
        keep = np.full(len(uniques), EVIDENCE_BINS - 1)
        keep[frequent[: EVIDENCE_BINS - 1]] = np.arange(EVIDENCE_BINS - 1)
        codes = np.where(codes >= 0, keep[np.maximum(codes, 0)], -1)
    return np.asarray(codes, dtype=np.int64)


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def _explained(y: np.ndarray, x: np.ndarray) -> float:
    """The share of y's uncertainty that x removes (Theil's uncertainty coefficient), on rows with both."""
    both = (y >= 0) & (x >= 0)
    y, x = y[both], x[both]
    if len(y) == 0:
        return 0.0
    h_y = _entropy(np.bincount(y))
    if h_y == 0:
        return 0.0
    joint = np.bincount(x * (y.max() + 1) + y)
    mutual = h_y + _entropy(np.bincount(x)) - _entropy(joint)
    return max(0.0, min(1.0, mutual / h_y))


def _evidence(frame: pd.DataFrame, roles: dict[str, str], candidates: list[_Candidate]) -> dict[str, tuple[float, str]]:
    """For each candidate, how much the best other column tells about it, and that column."""
    sample = frame.sample(EVIDENCE_ROWS, random_state=0) if len(frame) > EVIDENCE_ROWS else frame
    usable = [c for c in sample.columns if roles.get(str(c)) not in NEVER]
    codes = {str(c): _codes(sample[c], roles.get(str(c), "")) for c in usable}
    found = {}
    for candidate in candidates:
        y = codes[candidate.column]
        best, by = 0.0, ""
        for other, x in codes.items():
            if other == candidate.column:
                continue
            share = _explained(y, x)
            if share > best:
                best, by = share, other
        found[candidate.column] = (best, by)
    return found


def suggest_target(frame: pd.DataFrame, roles: list[ColumnRole] | dict[str, str] | None = None) -> TargetSuggestion:
    """The column most likely to be the label, with a one-line reason; ``roles`` as inferred (or None).

    Candidates have 2 to MAX_CLASSES distinct values, at least MIN_ROWS_PER_CLASS rows per value
    on average, and are not identifiers, constants, free text, dates or measurements. They are
    ranked by name (a label word such as class or species), kind (text and true/false before whole
    numbers) and by how much the other columns tell about them.
    """
    roles = _roles(frame, roles)
    rows = len(frame)
    candidates = [c for col in frame.columns if (c := _candidate(frame[col], roles.get(str(col), ""), rows))]
    if not candidates:
        return TargetSuggestion(
            None,
            f"No column has between {MIN_CLASSES} and {MAX_CLASSES} values repeated over the rows, as a class has.",
        )
    evidence = _evidence(frame, roles, candidates)
    best = max(candidates, key=lambda c: c.score + EXPLAINED * evidence[c.column][0])
    k = len(best.distinct)
    kind = {"text": "text ", "yes/no numbers": "", "whole numbers": "whole-number "}[best.kind]
    parts = [f"{'two' if k == 2 else k} {kind}values ({_show_values(best.distinct)})"]
    if best.name:
        parts.insert(0, "named like a label" if best.name == "named" else "a label word in its name")
    share, by = evidence[best.column]
    if share >= 0.1:
        parts.append(f"`{by}` alone explains {share:.0%} of it")
    return TargetSuggestion(best.column, f"Suggested `{best.column}`: {', '.join(parts)}.")


def check_target(frame: pd.DataFrame, column: str, role: str | None = None) -> list[str]:
    """Warnings about predicting ``column`` (empty when it looks like a class); never a refusal."""
    series = frame[column]
    role = role or next(c.role for c in infer_roles(frame[[column]]))
    present = _present(series)
    k, n = int(present.nunique()), len(present)
    number = _is_number(series, role) and role != "boolean"
    warnings = []
    if n and k >= MAX_CLASSES and k >= NEAR_IDENTIFIER_SHARE * n:
        warnings.append(
            f"Almost every row has its own value of `{column}` ({k:,} distinct in {n:,} rows): it looks like an "
            "identifier or a measurement, and a model cannot learn classes seen once. Pick the column to predict."
        )
    elif number and k > MAX_CLASSES:
        warnings.append(
            f"`{column}` is a number with {k:,} values: each value would be a class of its own. Sift predicts "
            "classes, not amounts: is it really what you want to predict?"
        )
    elif k > MAX_CLASSES:
        warnings.append(
            f"`{column}` has {k:,} classes, about {n / k:,.0f} rows each: so many classes are hard to learn. "
            "Is it really what you want to predict?"
        )
    elif number and k >= MIN_CLASSES and label_name(column) is None:
        warnings.append(f"`{column}` is a number with {k} values: is it really what you want to predict?")
    return warnings
