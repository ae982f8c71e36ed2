"""Drift: how far a window of inputs has moved from the data the model was trained on.

The only module that imports Evidently, and only inside the functions that need it (importing it
takes seconds). Each feature is compared with one of Evidently's drift methods. The methods Sift
chooses on "auto" (K-S, normed Wasserstein, chi-square, Z, Jensen-Shannon) are computed from the
model version's **reference profile** (:mod:`core.monitoring.profile`: the training data's sorted
values and category counts, built once per version and stored) with Evidently's own formulas
(:mod:`core.monitoring.stattests`), so a window costs what its own rows cost and the training
rows are not read again. Other methods an analyst chooses, and text, are Evidently's
``DataDriftPreset`` on the training rows, under a ``DataDefinition`` built from the model's input
contract. Evidently's full report is built only when asked for (:meth:`DriftResult.html`). The
analyst may choose a method and threshold per column: a dataset's choices are stored in
:mod:`core.monitoring.options`.

Which test each column gets (every column a valid one), and how a window's unseen categories and
unreadable values are kept apart from drift as data quality: :mod:`core.monitoring.plans`. A
window smaller than ``settings.drift_min_rows`` is refused (:class:`WindowTooSmall`). When
Evidently raises, each column is measured on its own to find the ones it cannot measure: they are
reported as not tested with the reason (``DriftResult.skipped``) and the rest are measured.

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

**Large windows.** A window of more rows than ``settings.drift_max_rows`` is measured on a seeded
sample of that many (:mod:`core.monitoring.sampling`; ``rows`` of :func:`compute_drift` says how
many the window had, and the result's notes say so). The columns of a window are measured by up
to ``workers`` threads (sorting, counting and scipy's tests release the GIL for most of the work).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import rel_entr
from scipy.stats import wasserstein_distance
from sklearn.exceptions import ConvergenceWarning

from core.errors import InputContractError, WindowTooSmall
from core.monitoring.options import BY_LABEL, CAT, METHODS, NUM, TEXT, check_options
from core.monitoring.plans import (
    EXAMPLES,
    FEW_VALUES,
    KIND_LABELS,
    MIN_EFFECT,
    SMALL_SAMPLE,
    ColumnDrift,
    ColumnPlan,
    PreparedColumn,
    as_categories,
    comparable,
    could_not,
    judged,
    measure_from_profile,
    plan_column,
)
from core.monitoring.profile import Profile, build_profile, typed_column
from core.monitoring.sampling import sample_note

# the constants of how columns are tested, named here too (drift's public face)
__all__ = [
    "EXAMPLES",
    "FEW_VALUES",
    "KIND_LABELS",
    "MIN_EFFECT",
    "SMALL_SAMPLE",
    "ColumnDrift",
    "ColumnPlan",
    "DriftResult",
    "compute_drift",
    "effect_size",
]

MAX_WORKERS = 4  # threads measuring a window's columns at most (settings.drift_workers 0: one per core)
ENGINES = ("sift", "evidently")

Reference = pd.DataFrame | Callable[[], pd.DataFrame] | None


# --- measuring --------------------------------------------------------------------------------


@dataclass
class DriftResult:
    """Per-feature drift of one window against the reference, and the share of features drifting.

    ``skipped`` holds the features not tested, with the reason; ``quality`` the window's data-quality
    findings per feature (unseen categories, unreadable values), which are not drift.
    ``current_rows`` is the window's rows; ``sampled_rows`` the rows measured when the window was
    larger than the cap (a seeded sample), else None.
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
    snapshot: Any = field(default=None, repr=False)  # Evidently's, for the full report (built on demand)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)  # column -> data-quality findings
    sampled_rows: int | None = None
    build_report: Callable[[], Any] | None = field(default=None, repr=False)  # Evidently's snapshot, when asked

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
        if self.sampled_rows is not None:
            out["sampled_rows"] = self.sampled_rows
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
        """Evidently's full report: a self-contained page (works offline), built on first call."""
        if self.snapshot is None and self.build_report is not None:
            self.snapshot = self.build_report()
        if self.snapshot is None:
            raise ValueError("this result has no Evidently snapshot")
        return self.snapshot.get_html_str(as_iframe=False)


def _in_threads(work: Callable[[Any], Any], items: list[Any], workers: int) -> list[Any]:
    if workers <= 1 or len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items), MAX_WORKERS)) as pool:
        return list(pool.map(work, items))


def _loader(reference: Reference) -> Callable[[], pd.DataFrame]:
    """The training rows, read once when first needed (Evidently's methods and its report)."""
    kept: list[pd.DataFrame] = []

    def load() -> pd.DataFrame:
        if not kept:
            frame = reference() if callable(reference) else reference
            if frame is None:
                raise ValueError("this drift needs the training rows (Evidently's methods, text or the report)")
            kept.append(frame)
        return kept[0]

    return load


def compute_drift(
    reference: Reference,
    current: pd.DataFrame,
    features: list[dict[str, Any]],
    *,
    profile: Profile | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    drift_share: float = 0.5,
    min_rows: int = 100,
    rows: int | None = None,
    workers: int = 1,
    engine: str = "sift",
) -> DriftResult:
    """Compare ``current`` with the training data feature by feature.

    ``reference`` is the training frame, or a function giving it: it is read only when Evidently
    must measure a column (a method not computed here, text), for the full report, or to build the
    ``profile`` when none is given. ``features`` are input-contract entries (name, role);
    ``options`` per-column method and threshold choices; the other columns get
    :func:`plan_column`'s choice. ``rows``: how many rows the window had when ``current`` is a
    seeded sample of it. ``workers``: threads measuring columns. ``engine="evidently"`` measures
    every column with Evidently's report on the rows (the reference the profile path is held to).

    Features that cannot be tested are reported in ``skipped``; refuses a window of fewer than
    ``min_rows`` rows (WindowTooSmall) and one where no feature can be measured (InputContractError).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown drift engine {engine!r}; use one of {', '.join(ENGINES)}")
    window_rows = len(current) if rows is None else int(rows)
    if window_rows < min_rows:
        raise WindowTooSmall(
            f"Only {window_rows:,} prediction{'s' if window_rows != 1 else ''} in this window: drift needs at "
            f"least {min_rows:,} (setting SIFT_DRIFT_MIN_ROWS) to tell a real shift from noise. Choose a longer window."
        )
    load = _loader(reference)
    profile = profile if profile is not None else build_profile(load(), features)
    used, skipped = comparable(profile, current, features)
    if not used:
        raise InputContractError(
            "None of the model's features has values in both this window and the training data: nothing to compare."
        )
    options = check_options({k: v for k, v in (options or {}).items() if k in {f["name"] for f in used}}, used)

    def prepare(spec_and_values: tuple[dict[str, Any], pd.Series]) -> PreparedColumn:
        spec, values = spec_and_values
        column = profile.columns[spec["name"]]
        prepared = plan_column(spec, options.get(spec["name"], {}), column, values)
        if prepared.plan is not None and engine == "sift":
            measure_from_profile(prepared, column)
        return prepared

    # each thread reads its own column, taken from the frame here
    prepared = _in_threads(prepare, [(spec, current[spec["name"]]) for spec in used], workers)
    plans = [p.plan for p in prepared if p.plan is not None]
    skipped |= {p.name: p.skipped for p in prepared if p.skipped}
    skipped |= {p.name: p.failed for p in prepared if p.failed}
    measured = {p.name: p.measured for p in prepared if p.measured is not None}
    specs = {f["name"]: f for f in used}
    elsewhere = [plan for plan in plans if plan.name not in measured and plan.name not in skipped]
    snapshot = None
    if elsewhere:
        ref, cur = _evidently_frames(elsewhere, specs, load(), current)
        snapshot, done, failed = _run_each_if_needed(ref, cur, elsewhere, drift_share)
        skipped |= failed
        if done:
            measured |= _read_snapshot(snapshot, done, ref, cur)
    if not measured:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise InputContractError(f"No feature of this window could be measured ({reasons}).")
    ordered = {p.name: measured[p.name] for p in plans if p.name in measured}
    _hold_to_the_window(ordered)
    share = sum(c.drifted for c in ordered.values()) / len(ordered)
    reported = [p for p in plans if p.name in ordered]
    here = {p.name for p in prepared if p.measured is not None}
    result = DriftResult(
        drift_share=float(share),
        dataset_drift=bool(share >= drift_share),
        reference_rows=int(profile.rows),
        current_rows=window_rows,
        columns=ordered,
        skipped=skipped,
        drift_share_threshold=drift_share,
        snapshot=None if here else snapshot,  # Evidently's report of every column measured, or none yet
        quality={p.name: p.quality for p in prepared if p.quality},
        build_report=lambda: _report(reported, specs, load(), current, drift_share),
    )
    if window_rows > len(current):
        result.sampled_rows = len(current)
        result.notes.append(sample_note(len(current), window_rows).capitalize() + ".")
    sampled = {name: n for name, n in profile.sampled.items() if name in here}
    if sampled:
        listed = ", ".join(f"{name} ({profile.columns[name].present:,} of {n:,})" for name, n in sampled.items())
        result.notes.append(f"The training values of {listed} are compared as a seeded sample.")
    return result


def _evidently_frames(
    plans: list[ColumnPlan], specs: dict[str, dict[str, Any]], reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two samples of ``plans``' columns as Evidently is to read them: typed, a few-valued number
    as category text, a window's categories that training never had left out."""
    ref_columns: dict[str, pd.Series] = {}
    cur_columns: dict[str, pd.Series] = {}
    for plan in plans:
        ref, _ = typed_column(reference[plan.name], specs[plan.name])
        cur, _ = typed_column(current[plan.name], specs[plan.name])
        if plan.few:
            ref, cur = as_categories(ref, plan.role), as_categories(cur, plan.role)
        if plan.kind == CAT:
            cur = cur.where(cur.isna() | cur.isin(ref.dropna().unique()), None)
        ref_columns[plan.name], cur_columns[plan.name] = ref, cur
    return pd.DataFrame(ref_columns), pd.DataFrame(cur_columns)


def _report(
    plans: list[ColumnPlan],
    specs: dict[str, dict[str, Any]],
    reference: pd.DataFrame,
    current: pd.DataFrame,
    drift_share: float,
) -> Any:
    """Evidently's report (snapshot) of the measured columns, on the rows."""
    ref, cur = _evidently_frames(plans, specs, reference, current)
    snapshot, _, _ = _run_each_if_needed(ref, cur, plans, drift_share)
    return snapshot


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
            return None, [], {plans[0].name: could_not(exc)}
    good, failed = [], {}
    for plan in plans:
        try:
            _run_evidently(reference, current, [plan], drift_share)
        except Exception as exc:
            failed[plan.name] = could_not(exc)
        else:
            good.append(plan)
    if not good:
        return None, [], failed
    snapshot, measured, more = _run_each_if_needed(reference, current, good, drift_share)
    return snapshot, measured, failed | more


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


def _read_snapshot(
    snapshot: Any, plans: list[ColumnPlan], reference: pd.DataFrame, current: pd.DataFrame
) -> dict[str, ColumnDrift]:
    """Each measured column's verdict from Evidently's snapshot (its tests say which drifted)."""
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
        effect = effect_size(plan.kind, reference[name], current[name])
        columns[name] = judged(
            plan, str(method), float(metric["value"]), float(config.get("threshold")), effect, metric["id"] in failed
        )
    return columns


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
