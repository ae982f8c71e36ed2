"""Drift: how far a window of inputs has moved from the data the model was trained on.

The only module that imports Evidently, and only inside the functions that need it (importing it
takes seconds). Each feature is compared with Evidently's ``DataDriftPreset`` under a
``DataDefinition`` built from the model's input contract and the feature's values. The analyst may
choose a method and threshold per column: a dataset's choices are stored in
:mod:`core.monitoring.options` and passed to Evidently per column.

**A valid test for every column** (:func:`plan_columns`). Numbers and dates (days since 1970) are
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
tested. When Evidently raises anyway, each column is measured on its own to find the ones it
cannot measure: they are reported as not tested with the reason (``DriftResult.skipped``) and the
rest are measured. A window smaller than ``settings.drift_min_rows`` is refused
(:class:`WindowTooSmall`).

**Drift means the distribution moved by a meaningful amount.** A p-value says a change is real,
not that it matters: on a large window a negligible change is "significant", and one odd value
can make chi-square's p-value 0. So a p-value test drifts only if its p-value is below the
threshold *and* the effect size (:func:`effect_size`) reaches :data:`MIN_EFFECT` (0.1): the
normed Wasserstein distance for numbers and the Jensen-Shannon distance for categories, the same
measures and bar as Evidently's large-sample defaults, so a column drifts on a small window only
when the change is both real and as large as what would count on a large one. A distance method
is an effect size already: its verdict stands. Every column reports its ``effect``. And the
window's p-value tests are held together (Holm's correction, :func:`_hold_to_the_window`): at
p < 0.05 each, one feature in twenty would drift when nothing moved; the gauntlet's unshifted
samples of thirteen public tables showed exactly that before the correction.

**Data quality is not drift.** Categories the training data never had (for a few-valued number,
values it never took) and values that cannot be read as a number or a date are counted per column
as the window's data-quality findings (``DriftResult.quality``) and left out of the comparison,
which is made over the categories known from training. One unseen category therefore cannot make
chi-square's p-value 0 (its expected count was zero, which also divided by zero). Scoring flags
these rows one by one; many of them raise the flagged-rows alert, not a drift alert.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import rel_entr
from scipy.stats import wasserstein_distance
from sklearn.exceptions import ConvergenceWarning

from core.errors import InputContractError, WindowTooSmall
from core.features import coerce_inputs
from core.monitoring.options import BY_LABEL, CAT, KIND_OF_ROLE, METHODS, NUM, TEXT, check_options

KIND_LABELS = {NUM: "numeric", CAT: "categorical", TEXT: "text"}
_EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
SMALL_SAMPLE = 1000  # Evidently's limit: up to this many values it tests, above it measures distances
FEW_VALUES = 5  # a number with at most this many distinct values in training is tested as categories
MIN_EFFECT = 0.1  # effect size a p-value test needs to call drift (Evidently's distance threshold)
EXAMPLES = 5  # unseen values named per column in the data-quality findings


# --- measuring --------------------------------------------------------------------------------


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
    tested_as: str = ""  # how Evidently read the column: numeric, categorical or text
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


@dataclass
class DriftResult:
    """Per-feature drift of one window against the reference, and the share of features drifting.

    ``skipped`` holds the features not tested, with the reason; ``quality`` the window's data-quality
    findings per feature (unseen categories, unreadable values), which are not drift.
    """

    drift_share: float
    dataset_drift: bool
    reference_rows: int
    current_rows: int
    columns: dict[str, ColumnDrift]
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it was not tested
    notes: list[str] = field(default_factory=list)
    drift_share_threshold: float = 0.5
    model_version: int | None = None
    window: str = ""
    snapshot: Any = field(default=None, repr=False)  # Evidently's, for the full report
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)  # column -> data-quality findings

    @property
    def drifted(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.drifted]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "columns": {
                c.name: {
                    "drifted": c.drifted,
                    "score": c.score,
                    "method": c.method,
                    "threshold": c.threshold,
                    "effect": c.effect,
                }
                for c in self.columns.values()
            },
            "data_quality": self.quality,
        }
        if self.skipped:
            out["skipped"] = self.skipped
        if self.notes:
            out["notes"] = self.notes
        if self.model_version is not None:
            out["model_version"] = self.model_version
        if self.window:
            out["window"] = self.window
        return out

    def stored_columns(self) -> dict[str, dict[str, Any]]:
        """Every feature as a window stores it: measured ones with their verdict, the others with
        why they were not tested (``not_tested``), either with its data-quality findings (``quality``)."""
        out = {name: c.as_dict() for name, c in self.columns.items()}
        for name, why in self.skipped.items():
            out[name] = {"drifted": None, "not_tested": why}
        for name, found in self.quality.items():
            out.setdefault(name, {"drifted": None})["quality"] = found
        return out

    def html(self) -> str:
        """Evidently's full report: a self-contained page (works offline)."""
        if self.snapshot is None:
            raise ValueError("this result has no Evidently snapshot")
        return self.snapshot.get_html_str(as_iframe=False)


@dataclass(frozen=True)
class ColumnPlan:
    """How one feature is compared: as which kind of column Evidently reads it, with which method
    (None: Evidently's own choice) and threshold (None: the method's default)."""

    name: str
    role: str
    kind: str
    method: str | None
    threshold: float | None


def _comparable(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    used, skipped = [], {}
    for spec in features:
        name = spec["name"]
        if spec["role"] not in KIND_OF_ROLE:
            skipped[name] = f"role {spec['role']} is not compared"
        elif name not in current.columns or current[name].isna().all():
            skipped[name] = "no values in this window"
        elif name not in reference.columns or reference[name].isna().all():
            skipped[name] = "no values in the training data"
        else:
            used.append(spec)
    return used, skipped


def _typed(frame: pd.DataFrame, spec: dict[str, Any]) -> tuple[pd.Series, int]:
    """One feature as drift reads it (numbers as floats, dates as days since 1970, categories and
    text as text; missing as NaN/None) and how many of its present values could not be read."""
    raw = frame[spec["name"]].reset_index(drop=True)
    typed = coerce_inputs(raw.to_frame(), [spec])[spec["name"]]
    if spec["role"] == "datetime":
        typed = pd.Series((typed.to_numpy(dtype="datetime64[ns]") - _EPOCH) / np.timedelta64(1, "D"))
    if KIND_OF_ROLE[spec["role"]] != NUM:
        return typed, 0
    typed = typed.where(np.isfinite(typed.to_numpy(dtype="float64")))
    return typed, int((raw.notna() & typed.isna()).sum())


def _as_categories(values: pd.Series, role: str) -> pd.Series:
    """A few-valued number (or date) as category text: 2007.0 reads '2007', dates their ISO form."""

    def text(v: float) -> str:
        if role == "datetime":
            return str(pd.Timestamp(_EPOCH) + pd.to_timedelta(v, unit="D"))
        return str(int(v)) if float(v).is_integer() else repr(float(v))

    return values.map(lambda v: None if pd.isna(v) else text(v)).astype(object)


def _auto_method(kind: str, reference: pd.Series, current: pd.Series) -> str | None:
    """Sift's choice for a column left on "auto": a test where the smaller sample has at most
    :data:`SMALL_SAMPLE` values, Evidently's large-sample distance otherwise (text: Evidently's own)."""
    small = min(int(reference.notna().sum()), int(current.notna().sum())) <= SMALL_SAMPLE
    if kind == NUM:
        return "ks" if small else "wasserstein"
    if kind == CAT:
        if not small:
            return "jensenshannon"
        return "chisquare" if reference.nunique() > 2 else "z"
    return None


def plan_columns(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[dict[str, Any]],
    options: dict[str, dict[str, Any]],
) -> tuple[list[ColumnPlan], dict[str, str], dict[str, dict[str, Any]], pd.DataFrame, pd.DataFrame]:
    """Choose each feature's test from its role and values, and read the two samples for it.

    Returns the plans, the features not tested (with why), the window's data-quality findings, and
    the reference and current frames as Evidently is to read them (unseen categories left out).
    """
    plans: list[ColumnPlan] = []
    skipped: dict[str, str] = {}
    quality: dict[str, dict[str, Any]] = {}
    ref_columns: dict[str, pd.Series] = {}
    cur_columns: dict[str, pd.Series] = {}
    for spec in features:
        name, role = spec["name"], spec["role"]
        chosen = options.get(name, {})
        kind = KIND_OF_ROLE[role]
        ref, _ = _typed(reference, spec)
        cur, unreadable = _typed(current, spec)
        found: dict[str, Any] = {}
        if unreadable:
            found["unparsable"] = unreadable
        known = ref.dropna().unique()
        if kind == NUM and len(known) <= FEW_VALUES and "method" not in chosen:
            kind = CAT  # a year, a 0/1 count, a coded answer: tested as the few values it takes
            ref, cur = _as_categories(ref, role), _as_categories(cur, role)
            known = ref.dropna().unique()
        if kind == CAT:
            unseen = cur.notna() & ~cur.isin(known)
            if unseen.any():
                counts = cur[unseen].value_counts()
                found |= {
                    "unseen": int(unseen.sum()),
                    "unseen_share": float(unseen.sum() / len(cur)),
                    "examples": [str(v) for v in counts.index[:EXAMPLES]],
                }
                cur = cur.where(~unseen, None)
        if found:
            quality[name] = found
        if kind != TEXT and len(known) == 0:
            skipped[name] = "no readable value in the training data"
        elif kind != TEXT and len(known) == 1:
            skipped[name] = f"one value in the training data ({known[0]}): no distribution to compare with"
        elif cur.isna().all():
            why = "its values were never seen in training" if found.get("unseen") else "its values could not be read"
            skipped[name] = f"no value to compare in this window: {why}"
        else:
            method = chosen.get("method") or (None if "threshold" in chosen else _auto_method(kind, ref, cur))
            plans.append(ColumnPlan(name, role, kind, method, chosen.get("threshold")))
            ref_columns[name], cur_columns[name] = ref, cur
    return plans, skipped, quality, pd.DataFrame(ref_columns), pd.DataFrame(cur_columns)


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[dict[str, Any]],
    *,
    options: dict[str, dict[str, Any]] | None = None,
    drift_share: float = 0.5,
    min_rows: int = 100,
) -> DriftResult:
    """Compare ``current`` with ``reference`` feature by feature (Evidently's ``DataDriftPreset``).

    ``features`` are input-contract entries (name, role); ``options`` per-column method and
    threshold choices; the other columns get :func:`plan_columns`'s choice. Features that cannot
    be tested are reported in ``skipped``; refuses a ``current`` of fewer than ``min_rows`` rows
    (WindowTooSmall) and a window where no feature can be measured (InputContractError).
    """
    if len(current) < min_rows:
        raise WindowTooSmall(
            f"Only {len(current):,} prediction{'s' if len(current) != 1 else ''} in this window: drift needs at "
            f"least {min_rows:,} (setting SIFT_DRIFT_MIN_ROWS) to tell a real shift from noise. Choose a longer window."
        )
    used, skipped = _comparable(reference, current, features)
    if not used:
        raise InputContractError(
            "None of the model's features has values in both this window and the training data: nothing to compare."
        )
    options = check_options({k: v for k, v in (options or {}).items() if k in {f["name"] for f in used}}, used)
    plans, not_tested, quality, ref, cur = plan_columns(reference, current, used, options)
    skipped |= not_tested
    snapshot, plans, failed = _run_each_if_needed(ref, cur, plans, drift_share)
    skipped |= failed
    if not plans:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise InputContractError(f"No feature of this window could be measured ({reasons}).")
    result = _result(snapshot, plans, ref, cur, skipped, len(reference), len(current), drift_share)
    result.quality = quality
    return result


def _run_each_if_needed(
    reference: pd.DataFrame, current: pd.DataFrame, plans: list[ColumnPlan], drift_share: float
) -> tuple[Any, list[ColumnPlan], dict[str, str]]:
    """Evidently's report over ``plans``; when it fails, each column on its own finds the ones it
    cannot measure, and the others are measured together. Returns (snapshot, plans measured, failed)."""
    if not plans:
        return None, [], {}
    # Evidently raises many types from many places (its own errors, ValueError from scipy and
    # pandas, ...): whatever it raises is a column it cannot measure, never a user's traceback.
    try:
        return _run_evidently(reference, current, plans, drift_share), plans, {}
    except Exception as exc:
        if len(plans) == 1:
            return None, [], {plans[0].name: _could_not(exc)}
    good, failed = [], {}
    for plan in plans:
        try:
            _run_evidently(reference, current, [plan], drift_share)
        except Exception as exc:
            failed[plan.name] = _could_not(exc)
        else:
            good.append(plan)
    if not good:
        return None, [], failed
    snapshot, measured, more = _run_each_if_needed(reference, current, good, drift_share)
    return snapshot, measured, failed | more


def _could_not(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"drift could not be measured ({text[:200]})"


def _run_evidently(reference: pd.DataFrame, current: pd.DataFrame, plans: list[ColumnPlan], drift_share: float) -> Any:
    from evidently import DataDefinition, Dataset, Report  # lazy: importing Evidently takes seconds
    from evidently.presets import DataDriftPreset

    names = [p.name for p in plans]
    definition = DataDefinition(
        numerical_columns=[p.name for p in plans if p.kind == NUM],
        categorical_columns=[p.name for p in plans if p.kind == CAT],
        text_columns=[p.name for p in plans if p.kind == TEXT],
    )
    preset = DataDriftPreset(
        columns=names,
        drift_share=drift_share,
        per_column_method={p.name: p.method for p in plans if p.method} or None,
        per_column_threshold={p.name: p.threshold for p in plans if p.threshold is not None} or None,
    )
    # the report also correlates the window's numeric columns for a chart: a column constant in the
    # window divides by zero there (numpy warns on the terminal); the drift tests do not use it.
    # Text drift fits a small classifier telling the two samples apart: whether its solver fully
    # converged does not change the verdict, and its warning is noise on a terminal
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Report([preset], include_tests=True).run(
            Dataset.from_pandas(current[names], data_definition=definition),
            Dataset.from_pandas(reference[names], data_definition=definition),
        )


def effect_size(kind: str, reference: pd.Series, current: pd.Series) -> float | None:
    """How far the distribution moved, whatever the sample size: the normed Wasserstein distance
    for numbers, the Jensen-Shannon distance over the reference's categories for categories (the
    measures of Evidently's large-sample defaults); None for text."""
    ref, cur = reference.dropna(), current.dropna()
    if kind == NUM:
        return float(wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001))
    if kind == CAT:
        keys = pd.Index(ref.unique())
        p = ref.value_counts().reindex(keys, fill_value=0).to_numpy(dtype="float64")
        q = cur.value_counts().reindex(keys, fill_value=0).to_numpy(dtype="float64")
        p, q = p / p.sum(), q / q.sum()
        middle = (p + q) / 2
        divergence = (rel_entr(p, middle).sum() + rel_entr(q, middle).sum()) / 2
        return float(math.sqrt(max(float(divergence), 0.0)))
    return None


def _result(
    snapshot: Any,
    plans: list[ColumnPlan],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    skipped: dict[str, str],
    reference_rows: int,
    current_rows: int,
    drift_share: float,
) -> DriftResult:
    summary = snapshot.dict()
    failed = {t["metric_config"]["metric_id"] for t in summary["tests"] if t.get("status") == "FAIL"}
    by_name = {p.name: p for p in plans}
    columns: dict[str, ColumnDrift] = {}
    for metric in summary["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith(":ValueDrift"):
            continue
        name = config["column"]
        plan = by_name[name]
        method = BY_LABEL.get(config.get("method"), config.get("method"))
        known = METHODS.get(method)
        score = float(metric["value"])
        effect = effect_size(plan.kind, reference[name], current[name])
        verdict = metric["id"] in failed
        note = ""
        if verdict and known is not None and known.p_value and effect is not None and effect < MIN_EFFECT:
            verdict = False
            note = f"a real but small change: p = {score:.3g}, effect {effect:.3f} below {MIN_EFFECT:g}"
        columns[name] = ColumnDrift(
            name=name,
            role=plan.role,
            drifted=bool(verdict),
            score=score,
            method=str(method),
            method_label=known.label if known else str(method),
            threshold=float(config.get("threshold")),
            effect=effect,
            tested_as=KIND_LABELS[plan.kind],
            note=note,
        )
    ordered = {p.name: columns[p.name] for p in plans if p.name in columns}
    _hold_to_the_window(ordered)
    share = sum(c.drifted for c in ordered.values()) / len(ordered) if ordered else 0.0
    return DriftResult(
        drift_share=float(share),
        dataset_drift=bool(share >= drift_share),
        reference_rows=int(reference_rows),
        current_rows=int(current_rows),
        columns=ordered,
        skipped=skipped,
        drift_share_threshold=drift_share,
        snapshot=snapshot,
    )


def _hold_to_the_window(columns: dict[str, ColumnDrift]) -> None:
    """Holm's step-down correction over the window's p-value tests, each at its own threshold.

    Each feature tested at p < 0.05 is wrong one time in twenty when nothing moved, so a window of
    twenty features would show a drifting feature about every other time. As alibi-detect's
    feature-wise tests do (Bonferroni), the window's tests are held together: in order of p-value
    over threshold, the j-th of m drifts only while p < threshold / (m - j). A real shift (p near 0)
    still drifts; a lone p of 0.03 among twelve features does not.
    """
    tests = sorted(
        (c for c in columns.values() if c.method in METHODS and METHODS[c.method].p_value),
        key=lambda c: c.score / c.threshold,
    )
    holding = True
    for rank, column in enumerate(tests):
        needed = column.threshold / (len(tests) - rank)
        holding = holding and column.score < needed
        if column.drifted and not holding:
            column.drifted = False
            column.note = (
                f"not significant once the window's {len(tests)} tests are held together (Holm): "
                f"p = {column.score:.3g}, needed below {needed:.3g}"
            )
