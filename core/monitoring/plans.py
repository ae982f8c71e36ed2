"""How each feature of a window is tested: the plan (kind, method, threshold), the window's values
read for it against the reference profile, and the column's verdict.

**A valid test for every column** (:func:`plan_column`). Numbers and dates (days since 1970) are
read as numerical, categories and booleans as categorical, free text as text; but a number or date
with at most :data:`FEW_VALUES` distinct values in the training data (a year, a 0/1 count, a coded
answer) is read as the few categories it takes, unless the analyst chose a numeric method for it.
Columns left on "auto" then get, by the smaller of the two samples' values present:

- at most :data:`SMALL_SAMPLE` (1,000): Evidently's small-sample tests, the K-S test for numbers,
  chi-square (the Z-test for two values) for categories, drifting at p < 0.05. Evidently's own
  default would give a few-valued number chi-square while reading it as numerical, which it then
  refuses: that crashed drift on small windows;
- more: Evidently's large-sample distances, normed Wasserstein for numbers and Jensen-Shannon for
  categories, drifting at 0.1. On a small window those distances are noise (on the rice data,
  windows of 100 or 200 training rows cross 0.1 on some feature 96 % and 75 % of the time).

A column with a single value in the training data has no distribution to compare and is not
tested. The methods of :mod:`core.monitoring.stattests` are computed here from the profile
(:func:`measure_from_profile`); the others are Evidently's (:mod:`core.monitoring.drift`). Either
way a column's verdict is its method's, held to a minimum effect (:func:`judged`).

**Data quality is not drift.** Categories the training data never had (for a few-valued number,
values it never took) and values that cannot be read as a number or a date are counted per column
as the window's data-quality findings (``DriftResult.quality``) and left out of the comparison,
which is made over the categories known from training. One unseen category therefore cannot make
chi-square's p-value 0 (its expected count was zero, which also divided by zero). Scoring flags
these rows one by one; many of them raise the flagged-rows alert, not a drift alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.monitoring import stattests
from core.monitoring.options import CAT, KIND_OF_ROLE, METHODS, NUM, TEXT
from core.monitoring.profile import EPOCH, ColumnProfile, Profile, typed_column

KIND_LABELS = {NUM: "numeric", CAT: "categorical", TEXT: "text"}
SMALL_SAMPLE = 1000  # Evidently's limit: up to this many values it tests, above it measures distances
FEW_VALUES = 5  # a number with at most this many distinct values in training is tested as categories
MIN_EFFECT = 0.1  # effect size a p-value test needs to call drift (Evidently's distance threshold)
EXAMPLES = 5  # unseen values named per column in the data-quality findings


@dataclass
class ColumnDrift:
    name: str
    role: str
    drifted: bool
    score: float
    method: str
    method_label: str
    threshold: float
    effect: float | None = None  # normed Wasserstein distance (numbers) or Jensen-Shannon distance (categories)
    tested_as: str = ""  # how the column was read: numeric, categorical or text
    note: str = ""  # why the method's verdict was not taken as drift

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "drifted": self.drifted,
            "score": self.score,
            "method": self.method,
            "method_label": self.method_label,
            "threshold": self.threshold,
            "role": self.role,
            "effect": self.effect,
            "tested_as": self.tested_as,
        }
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class ColumnPlan:
    """How one feature is compared: as which kind of column it is read, with which method (None:
    Evidently's own choice) and threshold (None: the method's default)."""

    name: str
    role: str
    kind: str
    method: str | None
    threshold: float | None

    @property
    def few(self) -> bool:
        """A few-valued number (or date) read as the categories it takes."""
        return self.kind == CAT and KIND_OF_ROLE[self.role] == NUM


@dataclass
class PreparedColumn:
    """One feature of a window made ready to compare, or why it is not compared."""

    name: str
    plan: ColumnPlan | None = None
    skipped: str = ""
    quality: dict[str, Any] = field(default_factory=dict)
    current: np.ndarray | None = None  # numbers: the window's values sorted; categories: counts per reference category
    first: int = 0  # categories: the one Evidently's Z-test counts against (the first in sorted text)
    measured: ColumnDrift | None = None  # when computed here from the profile
    failed: str = ""  # why it could not be measured


def comparable(
    profile: Profile, current: pd.DataFrame, features: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    used, skipped = [], {}
    for spec in features:
        name = spec["name"]
        column = profile.columns.get(name)
        if spec["role"] not in KIND_OF_ROLE:
            skipped[name] = f"role {spec['role']} is not compared"
        elif name not in current.columns or current[name].isna().all():
            skipped[name] = "no values in this window"
        elif column is None or column.missing == column.rows:
            skipped[name] = "no values in the training data"
        else:
            used.append(spec)
    return used, skipped


def category_text(value: float, role: str) -> str:
    """A few-valued number (or date) as category text: 2007.0 reads '2007', dates their ISO form."""
    if role == "datetime":
        return str(pd.Timestamp(EPOCH) + pd.to_timedelta(value, unit="D"))
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def as_categories(values: pd.Series, role: str) -> pd.Series:
    return values.map(lambda v: None if pd.isna(v) else category_text(v, role)).astype(object)


def _auto_method(kind: str, reference_present: int, current_present: int, distinct: int) -> str | None:
    """Sift's choice for a column left on "auto": a test where the smaller sample has at most
    :data:`SMALL_SAMPLE` values, Evidently's large-sample distance otherwise (text: Evidently's own)."""
    small = min(reference_present, current_present) <= SMALL_SAMPLE
    if kind == NUM:
        return "ks" if small else "wasserstein"
    if kind == CAT:
        if not small:
            return "jensenshannon"
        return "chisquare" if distinct > 2 else "z"
    return None


def plan_column(
    spec: dict[str, Any], chosen: dict[str, Any], column: ColumnProfile, current: pd.Series
) -> PreparedColumn:
    """Choose one feature's test from its role and the training data's values (``column``), and
    read the window's values of it (``current``): sorted numbers, or counts of the reference's
    categories with the categories training never had counted apart as data quality."""
    name, role = spec["name"], spec["role"]
    out = PreparedColumn(name)
    kind = KIND_OF_ROLE[role]
    cur, unreadable = typed_column(current, spec)
    if unreadable:
        out.quality["unparsable"] = unreadable
    few = kind == NUM and column.distinct <= FEW_VALUES and "method" not in chosen
    if few:
        kind = CAT  # a year, a 0/1 count, a coded answer: tested as the few values it takes
    if kind == CAT:
        present = cur.dropna()
        codes = pd.Index(column.values).get_indexer(present)
        unseen = codes < 0
        if unseen.any():
            shown = present[unseen].value_counts().index[:EXAMPLES]
            out.quality |= {
                "unseen": int(unseen.sum()),
                "unseen_share": float(unseen.sum() / len(cur)),
                "examples": [category_text(v, role) if few else str(v) for v in shown],
            }
        out.current = np.bincount(codes[~unseen], minlength=column.distinct)
        compared = int(out.current.sum())
        texts = [category_text(v, role) if few else str(v) for v in column.values]
        out.first = min(range(len(texts)), key=texts.__getitem__) if texts else 0
    elif kind == NUM:
        out.current = np.sort(cur.dropna().to_numpy(dtype="float64"))
        compared = len(out.current)
    else:
        compared = int(cur.notna().sum())
    if kind != TEXT and column.distinct == 0:
        out.skipped = "no readable value in the training data"
    elif kind != TEXT and column.distinct == 1:
        one = category_text(column.values[0], role) if few else column.values[0]
        out.skipped = f"one value in the training data ({one}): no distribution to compare with"
    elif compared == 0:
        why = "its values were never seen in training" if out.quality.get("unseen") else "its values could not be read"
        out.skipped = f"no value to compare in this window: {why}"
    else:
        auto = None if "threshold" in chosen else _auto_method(kind, column.present, compared, column.distinct)
        out.plan = ColumnPlan(name, role, kind, chosen.get("method") or auto, chosen.get("threshold"))
    return out


def measure_from_profile(prepared: PreparedColumn, column: ColumnProfile) -> None:
    """Measure a planned column from the profile when its method is computed here (else leave it)."""
    plan = prepared.plan
    method = plan.method or stattests.evidently_default(plan.kind, column.present, column.distinct)
    if method is None or not stattests.computed_here(method, plan.kind):
        return
    # whatever the computation raises is a column it cannot measure, as when Evidently raises (drift.py)
    try:
        threshold = plan.threshold if plan.threshold is not None else METHODS[method].threshold
        score = stattests.score(method, plan.kind, column, prepared.current, first=prepared.first)
        if plan.kind == NUM:
            effect = (
                score
                if method == "wasserstein"
                else stattests.wasserstein_normed(column.values, column.counts, column.std, prepared.current)
            )
        else:
            effect = stattests.category_effect(column.counts, prepared.current)
        verdict = stattests.DRIFTS_AT[method](score, threshold)
    except Exception as exc:
        prepared.failed = could_not(exc)
        return
    prepared.measured = judged(plan, method, score, threshold, effect, verdict)


def judged(
    plan: ColumnPlan, method: str, score: float, threshold: float, effect: float | None, verdict: bool
) -> ColumnDrift:
    """A column's verdict: the method's, unless a p-value test found a change below :data:`MIN_EFFECT`."""
    known = METHODS.get(method)
    note = ""
    if verdict and known is not None and known.p_value and effect is not None and effect < MIN_EFFECT:
        verdict = False
        note = f"a real but small change: p = {score:.3g}, effect {effect:.3f} below {MIN_EFFECT:g}"
    return ColumnDrift(
        name=plan.name,
        role=plan.role,
        drifted=bool(verdict),
        score=float(score),
        method=str(method),
        method_label=known.label if known else str(method),
        threshold=float(threshold),
        effect=effect,
        tested_as=KIND_LABELS[plan.kind],
        note=note,
    )


def could_not(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"drift could not be measured ({text[:200]})"
