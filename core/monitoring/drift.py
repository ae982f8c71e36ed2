"""Drift: how far a window of inputs has moved from the data the model was trained on.

The only module that imports Evidently, and only inside the functions that need it (importing it
takes seconds). Each feature is compared with Evidently's ``DataDriftPreset`` under a
``DataDefinition`` built from the model's input contract: numeric and datetime features (dates
as days since 1970) as numerical, categorical and boolean ones as categorical, free text as
text. The analyst may choose a method and threshold per column: a dataset's choices are stored
in :class:`~core.db.models.DriftOptions` and passed to Evidently per column.

**Sample size.** Left to itself, Evidently picks a method by column type and the *reference's*
size: above 1,000 reference rows, the normed Wasserstein distance for numbers and the
Jensen-Shannon distance for categories, both drifting at 0.1. Those distances are noisy for a
small window: on the rice data, windows of 100 or 200 rows drawn from the training data itself
cross 0.1 on some feature 96 % and 75 % of the time. So where the smaller of the two samples has
at most 1,000 rows, columns the analyst left on "auto" get Evidently's own small-sample
methods (the K-S test for numbers, chi-square or, for two values, the Z-test for categories and
numbers with at most 5 values, each at p < 0.05), whose threshold accounts for the sample size.
A window smaller than ``settings.drift_min_rows`` is refused with :class:`WindowTooSmall`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.config import Settings
from core.db.models import DriftOptions, utcnow
from core.errors import ColumnError, DriftOptionError, InputContractError, WindowTooSmall

NUM, CAT, TEXT = "num", "cat", "text"
KIND_OF_ROLE = {"numeric": NUM, "datetime": NUM, "categorical": CAT, "boolean": CAT, "text": TEXT}
KIND_LABELS = {NUM: "numeric", CAT: "categorical", TEXT: "text"}
_EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
ADHOC_REPORTS = 10  # reports of one-off checks kept per dataset
SMALL_SAMPLE = 1000  # Evidently's limit: up to this many rows it tests, above it measures distances
RULES = 2  # how methods are chosen (bump when it changes: stored windows are then measured again)


@dataclass(frozen=True)
class Method:
    """One of Evidently's drift methods: its id, what it is called, which columns it suits, its
    default threshold, and which way it reads (a p-value drifts at or below the threshold, a
    distance at or above it)."""

    id: str
    label: str
    kinds: tuple[str, ...]
    threshold: float
    p_value: bool

    @property
    def rule(self) -> str:
        return "drift when the p-value is below the threshold" if self.p_value else "drift when the distance reaches it"


# Evidently 0.7's registered drift methods (checked against its registry by the tests)
METHODS: dict[str, Method] = {
    m.id: m
    for m in (
        Method("wasserstein", "Wasserstein distance (normed)", (NUM,), 0.1, False),
        Method("ks", "K-S p_value", (NUM,), 0.05, True),
        Method("jensenshannon", "Jensen-Shannon distance", (CAT, NUM), 0.1, False),
        Method("psi", "PSI", (CAT, NUM), 0.1, False),
        Method("kl_div", "Kullback-Leibler divergence", (CAT, NUM), 0.1, False),
        Method("hellinger", "Hellinger distance", (CAT, NUM), 0.1, False),
        Method("chisquare", "chi-square p_value", (CAT,), 0.05, True),
        Method("z", "Z-test p_value", (CAT,), 0.05, True),
        Method("TVD", "Total-Variation-Distance", (CAT,), 0.1, True),
        Method("g_test", "g_test", (CAT,), 0.1, True),
        Method("fisher_exact", "Fisher's Exact test", (CAT,), 0.1, True),
        Method("anderson", "Anderson-Darling", (NUM,), 0.1, True),
        Method("cramer_von_mises", "Cramer-von Mises", (NUM,), 0.1, True),
        Method("mannw", "Mann-Whitney U-rank test", (NUM,), 0.05, True),
        Method("t_test", "t_test", (NUM,), 0.05, True),
        Method("ed", "Energy-distance", (NUM,), 0.1, False),
        Method("es", "Epps-Singleton", (NUM,), 0.05, True),
        Method("empirical_mmd", "empirical_mmd", (NUM,), 0.1, True),
        Method("perc_text_content_drift", "Percentile text content drift", (TEXT,), 0.95, False),
        Method("abs_text_content_drift", "Absolute text content drift", (TEXT,), 0.55, False),
    )
}
_BY_LABEL = {m.label: m.id for m in METHODS.values()}


def methods_for(role: str) -> list[Method]:
    """The methods that suit a feature of this role."""
    kind = KIND_OF_ROLE.get(role)
    return [m for m in METHODS.values() if kind in m.kinds]


# --- the analyst's choices --------------------------------------------------------------------


def check_options(columns: dict[str, dict[str, Any]], features: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Validate per-column choices ``{column: {"method"?, "threshold"?}}`` against the features;
    returns them without empty entries. Unknown columns, methods that do not suit a column and
    thresholds out of range are refused."""
    roles = {f["name"]: f["role"] for f in features}
    clean: dict[str, dict[str, Any]] = {}
    for name, choice in (columns or {}).items():
        if name not in roles:
            listed = ", ".join(map(repr, roles))
            raise ColumnError(f"{name!r} is not a feature of the model; its features are {listed}.")
        entry: dict[str, Any] = {}
        method = (choice or {}).get("method") or None
        if method is not None:
            method = _BY_LABEL.get(method, method)
            found = METHODS.get(method)
            if found is None or KIND_OF_ROLE.get(roles[name]) not in found.kinds:
                allowed = ", ".join(m.id for m in methods_for(roles[name]))
                raise DriftOptionError(
                    f"Method {method!r} does not suit {name!r} ({roles[name]}); use one of: {allowed}."
                )
            entry["method"] = method
        threshold = (choice or {}).get("threshold")
        if threshold is not None and not (isinstance(threshold, float) and math.isnan(threshold)):
            try:
                threshold = float(threshold)
            except (TypeError, ValueError):
                raise DriftOptionError(f"Threshold {threshold!r} for {name!r} is not a number.") from None
            if not 0 < threshold < 1e6:
                raise DriftOptionError(f"Threshold {threshold:g} for {name!r} must be above 0.")
            if method is not None and METHODS[method].p_value and threshold >= 1:
                raise DriftOptionError(f"{name!r}: {method} gives a p-value, so its threshold must be below 1.")
            entry["threshold"] = threshold
        if entry:
            clean[name] = entry
    return clean


def load_options(*, session: Session, dataset: str) -> dict[str, dict[str, Any]]:
    """The dataset's stored per-column choices (empty: Evidently's defaults everywhere)."""
    found = session.get(DriftOptions, dataset)
    return dict(found.columns) if found is not None else {}


def save_options(
    *,
    session: Session,
    dataset: str,
    columns: dict[str, dict[str, Any]],
    features: list[dict[str, Any]],
    who: str = "app",
) -> dict[str, dict[str, Any]]:
    """Store the dataset's per-column choices (validated); windows measured with other choices are
    measured again at their next refresh. The caller owns the transaction."""
    clean = check_options(columns, features)
    found = session.get(DriftOptions, dataset)
    if found is None:
        session.add(DriftOptions(dataset=dataset, columns=clean, who=who, updated_at=utcnow()))
    else:
        found.columns, found.who, found.updated_at = clean, who, utcnow()
    session.flush()
    return clean


def options_key(columns: dict[str, dict[str, Any]], drift_share: float) -> str:
    """A short fingerprint of the choices a window was measured with (and of :data:`RULES`)."""
    text = json.dumps({"columns": columns, "drift_share": drift_share, "rules": RULES}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "score": self.score,
            "method": self.method,
            "method_label": self.method_label,
            "threshold": self.threshold,
            "role": self.role,
        }


@dataclass
class DriftResult:
    """Per-feature drift of one window against the reference, and the share of features drifting."""

    drift_share: float
    dataset_drift: bool
    reference_rows: int
    current_rows: int
    columns: dict[str, ColumnDrift]
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it was not compared
    notes: list[str] = field(default_factory=list)
    drift_share_threshold: float = 0.5
    model_version: int | None = None
    window: str = ""
    snapshot: Any = field(default=None, repr=False)  # Evidently's, for the full report

    @property
    def drifted(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.drifted]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "rows": {"reference": self.reference_rows, "current": self.current_rows},
            "columns": {
                c.name: {"drifted": c.drifted, "score": c.score, "method": c.method, "threshold": c.threshold}
                for c in self.columns.values()
            },
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

    def html(self) -> str:
        """Evidently's full report: a self-contained page (works offline)."""
        if self.snapshot is None:
            raise ValueError("this result has no Evidently snapshot")
        return self.snapshot.get_html_str(as_iframe=False)


def _for_evidently(frame: pd.DataFrame, features: list[dict[str, Any]]) -> pd.DataFrame:
    """The features as Evidently reads them: numbers as floats, dates as days since 1970, categories as text."""
    out = {}
    for spec in features:
        name, kind = spec["name"], KIND_OF_ROLE.get(spec["role"])
        values = frame[name]
        if spec["role"] == "datetime":
            stamps = pd.to_datetime(values, errors="coerce")
            if getattr(stamps.dt, "tz", None) is not None:
                stamps = stamps.dt.tz_convert(None)
            out[name] = (stamps.to_numpy(dtype="datetime64[ns]") - _EPOCH) / np.timedelta64(1, "D")
        elif kind == NUM:
            out[name] = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
        elif kind == TEXT:
            out[name] = values.astype(object).where(values.notna(), "").map(str).to_numpy()
        else:
            out[name] = values.astype(object).where(values.notna(), None).to_numpy()
    return pd.DataFrame(out)


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


def size_aware_methods(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[dict[str, Any]],
    options: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Evidently's small-sample methods for the columns left on "auto", when either sample is small."""
    if min(len(reference), len(current)) > SMALL_SAMPLE:
        return {}
    picks = {}
    for spec in features:
        name, kind = spec["name"], KIND_OF_ROLE.get(spec["role"])
        if options.get(name) or kind not in (NUM, CAT):
            continue
        distinct = pd.concat([reference[name], current[name]], ignore_index=True).nunique()
        if kind == NUM and distinct > 5:
            picks[name] = "ks"
        else:
            picks[name] = "chisquare" if distinct > 2 else "z"
    return picks


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
    threshold choices; columns without one get :func:`size_aware_methods` when a sample is small.
    Refuses a ``current`` of fewer than ``min_rows`` rows (WindowTooSmall).
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
    methods = size_aware_methods(reference, current, used, options) | {
        n: o["method"] for n, o in options.items() if "method" in o
    }

    try:
        snapshot = _run_evidently(reference, current, used, methods, options, drift_share)
    except ValueError as exc:
        # Evidently's text drift trains a classifier on the words: it fails when no word is
        # usable (every word in nearly every row). Measure the other columns and say why.
        texts = [f["name"] for f in used if KIND_OF_ROLE[f["role"]] == TEXT]
        rest = [f for f in used if f["name"] not in texts]
        if not texts or not rest:
            raise
        skipped |= {name: f"text drift could not be measured ({exc})" for name in texts}
        used = rest
        snapshot = _run_evidently(reference, current, used, methods, options, drift_share)
    return _result(snapshot, used, skipped, len(reference), len(current), drift_share)


def _run_evidently(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    used: list[dict[str, Any]],
    methods: dict[str, str],
    options: dict[str, dict[str, Any]],
    drift_share: float,
) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    names = {f["name"] for f in used}
    kinds = {f["name"]: KIND_OF_ROLE[f["role"]] for f in used}
    definition = DataDefinition(
        numerical_columns=[n for n, k in kinds.items() if k == NUM],
        categorical_columns=[n for n, k in kinds.items() if k == CAT],
        text_columns=[n for n, k in kinds.items() if k == TEXT],
    )
    thresholds = {n: o["threshold"] for n, o in options.items() if "threshold" in o and n in names}
    preset = DataDriftPreset(
        columns=list(kinds),
        drift_share=drift_share,
        per_column_method={n: m for n, m in methods.items() if n in names} or None,
        per_column_threshold=thresholds or None,
    )
    return Report([preset], include_tests=True).run(
        Dataset.from_pandas(_for_evidently(current, used), data_definition=definition),
        Dataset.from_pandas(_for_evidently(reference, used), data_definition=definition),
    )


def _result(
    snapshot: Any,
    used: list[dict[str, Any]],
    skipped: dict[str, str],
    reference_rows: int,
    current_rows: int,
    drift_share: float,
) -> DriftResult:
    summary = snapshot.dict()
    failed = {t["metric_config"]["metric_id"] for t in summary["tests"] if t.get("status") == "FAIL"}
    roles = {f["name"]: f["role"] for f in used}
    columns: dict[str, ColumnDrift] = {}
    for metric in summary["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith(":ValueDrift"):
            continue
        name = config["column"]
        method = _BY_LABEL.get(config.get("method"), config.get("method"))
        known = METHODS.get(method)
        columns[name] = ColumnDrift(
            name=name,
            role=roles.get(name, ""),
            drifted=metric["id"] in failed,
            score=float(metric["value"]),
            method=str(method),
            method_label=known.label if known else str(method),
            threshold=float(config.get("threshold")),
        )
    ordered = {f["name"]: columns[f["name"]] for f in used if f["name"] in columns}
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


# --- the champion against a chosen window -----------------------------------------------------


def reports_dir(settings: Settings, dataset: str) -> Path:
    return settings.artifacts_dir / "reports" / dataset


def save_report(result: DriftResult, settings: Settings, dataset: str, name: str) -> Path:
    """Write Evidently's full report as ``<artifacts>/reports/<dataset>/<name>.html``; returns its path."""
    folder = reports_dir(settings, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.html"
    partial = path.with_suffix(".html.part")
    partial.write_text(result.html(), encoding="utf-8")
    partial.replace(path)
    return path


def save_check_report(result: DriftResult, settings: Settings, dataset: str, *, keep: int = ADHOC_REPORTS) -> Path:
    """Write the report of a one-off check (``check-<time>.html``), keeping only the newest ``keep`` of them."""
    path = save_report(result, settings, dataset, f"check-{utcnow():%Y%m%d-%H%M%S-%f}")
    for old in sorted(path.parent.glob("check-*.html"))[:-keep]:
        old.unlink(missing_ok=True)
    return path


def measure_selection(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    selection: Any,
    options: dict[str, dict[str, Any]] | None = None,
) -> DriftResult:
    """Drift of a chosen window of the ledger (:class:`~core.monitoring.ledger.Selection`) against
    the champion's training data. ``options`` override the dataset's stored choices per column."""
    from core.monitoring.ledger import selection_inputs
    from core.monitoring.reference import training_data
    from core.scoring import champion_version

    version = champion_version(settings, dataset, session=session)
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    current, _ = selection_inputs(session, dataset, selection, data.features)
    chosen = load_options(session=session, dataset=dataset) | (options or {})
    result = compute_drift(
        data.train,
        current,
        data.features,
        options=chosen,
        drift_share=settings.drift_share,
        min_rows=settings.drift_min_rows,
    )
    result.model_version, result.window = version, selection.describe()
    return result


def measure_file(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    path: str | Path,
    options: dict[str, dict[str, Any]] | None = None,
) -> DriftResult:
    """Drift of a CSV file's rows (those the champion's input contract accepts) against its training data."""
    from core.datasets.reading import read_csv
    from core.monitoring.reference import training_data
    from core.scoring import champion_version, check_inputs

    version = champion_version(settings, dataset, session=session)
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    frame = read_csv(path).frame
    typed, reasons, _ = check_inputs(frame, {"features": data.features})
    current = typed[reasons.to_numpy() == ""]
    chosen = load_options(session=session, dataset=dataset) | (options or {})
    result = compute_drift(
        data.train,
        current,
        data.features,
        options=chosen,
        drift_share=settings.drift_share,
        min_rows=settings.drift_min_rows,
    )
    result.model_version, result.window = version, f"file {Path(path).name}"
    if len(current) < len(frame):
        result.notes.append(f"{len(frame) - len(current):,} rows break the input contract and were left out.")
    return result
