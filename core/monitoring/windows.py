"""Drift over time: windows of the ledger measured once and stored, so charts load at once.

:func:`refresh` enumerates a dataset's windows of one kind (per day, per batch, every N
predictions; see :mod:`core.monitoring.ledger`) and measures only what is new: a window is
measured when it is not stored yet, when it was stored open and has gained rows since, or when
the dataset's drift options changed. A closed window already stored is never measured again.
Each window is stored in a transaction of its own, with its drift against the training data of
the model version that scored it, its class mix, confidence histogram and estimated accuracy.
Alerts are checked at the end (:mod:`core.monitoring.alerts`).

Evidently's full report of a window is built when first asked for (:func:`window_report`) and
kept as HTML under ``<artifacts>/reports/<dataset>/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db.models import AlertEvent, DriftWindow, utcnow
from core.errors import WindowNotFound
from core.monitoring import checks, estimate, ledger
from core.monitoring.alerts import alert_as_dict, check_alerts
from core.monitoring.ledger import Span, window_label
from core.monitoring.options import load_options, options_key
from core.monitoring.reference import reference_profile, training_data

CONFIDENCE_BINS = 20


@dataclass
class Refresh:
    """What a refresh did: windows measured now, windows kept as stored, alerts raised."""

    dataset: str
    kind: str
    measured: int = 0
    kept: int = 0
    windows: list[DriftWindow] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "kind": self.kind,
            "measured": self.measured,
            "kept": self.kept,
            "windows": [window_as_dict(w) for w in self.windows],
            "alerts": [alert_as_dict(a) for a in self.alerts],
        }


def span_of(window: DriftWindow) -> Span:
    return Span(
        kind=window.kind,
        key=window.key,
        model_version=window.model_version,
        first_id=window.first_id,
        last_id=window.last_id,
        rows=window.rows,
        flagged=window.flagged,
        rejected=window.rejected,
        closed=window.closed,
        start=window.start,
        end=window.end,
    )


def window_name(window: DriftWindow) -> str:
    return span_of(window).name


def _stored(session: Session, dataset: str, kind: str, size: int | None) -> dict[tuple[int, str], DriftWindow]:
    stmt = select(DriftWindow).where(DriftWindow.dataset == dataset, DriftWindow.kind == kind)
    if kind == "count" and size:
        stmt = stmt.where(DriftWindow.key.like(f"{int(size)}:%"))
    return {(w.model_version, w.key): w for w in session.scalars(stmt)}


def _measure(
    session: Session,
    settings: Settings,
    dataset: str,
    span: Span,
    options: dict[str, dict[str, Any]],
    key: str,
    window: DriftWindow | None,
) -> DriftWindow:
    """Measure one span and store it (a new window, or the stored one updated). Caller commits.

    Drift is measured against the model version's stored reference profile (built and stored with
    the first window of the version); the training rows are read only for a method Evidently
    computes (or text). A span of more than ``settings.drift_max_rows`` rows is read and measured
    as a seeded sample of that many, its seed derived from the window (measured again: the same
    sample), and the window says so (``sampled_rows``)."""
    where = span.where(dataset)
    predicted, confidence = ledger.read_outputs(session, where)
    measured = len(confidence) >= settings.drift_min_rows
    if measured:  # before the window is added: the profile may be stored on the way (a savepoint)
        profile = reference_profile(session=session, settings=settings, dataset=dataset, version=span.model_version)
    base = estimate.baseline(session=session, settings=settings, dataset=dataset, version=span.model_version)
    start, end = ledger.span_times(session, dataset, span)
    if window is None:
        window = DriftWindow(dataset=dataset, model_version=span.model_version, kind=span.kind, key=span.key)
        session.add(window)
    classes, counts = np.unique(predicted.astype(str), return_counts=True) if len(predicted) else ([], [])
    bins, _ = np.histogram(confidence, bins=CONFIDENCE_BINS, range=(0.0, 1.0))
    window.start, window.end = start, end
    window.first_id, window.last_id = span.first_id, span.last_id
    window.rows, window.flagged, window.rejected, window.closed = (
        len(confidence),
        span.flagged,
        span.rejected,
        span.closed,
    )
    window.class_mix = {str(c): int(n) for c, n in zip(classes, counts, strict=True)}
    window.confidence_bins = bins.astype(int).tolist()
    window.mean_confidence = float(confidence.mean()) if len(confidence) else None
    window.estimated_accuracy = estimate.expected_accuracy(base.calibration, confidence)
    window.options_key = key
    window.computed_at = utcnow()
    if measured:
        current = checks.span_inputs(session, settings, dataset, span, profile.features)

        def training_rows() -> pd.DataFrame:
            return training_data(session=session, settings=settings, dataset=dataset, version=span.model_version).train

        result = checks.against_profile(profile, training_rows, current, settings, options, rows=window.rows)
        window.status = "measured"
        window.drift_share, window.dataset_drift = result.drift_share, result.dataset_drift
        window.columns = result.stored_columns()
        window.sampled_rows = result.sampled_rows
    else:
        window.status = "too_small"
        window.drift_share, window.dataset_drift, window.columns = None, None, {}
        window.sampled_rows = None
    session.flush()
    _forget_report(settings, window)
    return window


def refresh(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    kind: str = "day",
    size: int | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Refresh:
    """Measure the windows of ``kind`` that are new or changed, store them, then check alerts.

    ``size`` is N for ``count`` windows (default: ``settings.drift_window_rows``);
    ``progress(done, to_measure)`` is called after each window measured.
    """
    if kind not in ledger.KINDS:
        raise ValueError(f"unknown window kind {kind!r}; use one of {', '.join(ledger.KINDS)}")
    size = int(size or settings.drift_window_rows) if kind == "count" else None
    out = Refresh(dataset=dataset, kind=kind)
    with sessions() as session:
        found = ledger.spans(session, dataset, kind, size=size or 0, now=now)
        stored = _stored(session, dataset, kind, size)
        options = load_options(session=session, dataset=dataset)
    key = options_key(options, settings.drift_share)
    todo: list[tuple[Span, DriftWindow | None]] = []
    for span in found:
        window = stored.get((span.model_version, span.key))
        unchanged = (
            window is not None
            and window.options_key == key
            and (window.rows, window.rejected) == (span.rows, span.rejected)  # API rejections add no rows
        )
        if unchanged and (window.closed or not span.closed):
            out.kept += 1
        elif unchanged:  # the window has just closed, with the rows it was measured on
            with sessions.begin() as session:
                session.get(DriftWindow, window.id).closed = True
            out.kept += 1
        else:
            todo.append((span, window))
    for done, (span, window) in enumerate(todo, start=1):
        try:
            with sessions.begin() as session:
                _measure(
                    session,
                    settings,
                    dataset,
                    span,
                    options,
                    key,
                    session.get(DriftWindow, window.id) if window is not None else None,
                )
        except IntegrityError:  # another session stored this window at the same moment: keep theirs
            out.kept += 1
            continue
        out.measured += 1
        if progress is not None:
            progress(done, len(todo))
    with sessions.begin() as session:
        out.windows = list_windows(session=session, dataset=dataset, kind=kind, size=size)
        out.alerts = check_alerts(session=session, settings=settings, dataset=dataset, windows=out.windows)
    return out


def list_windows(*, session: Session, dataset: str, kind: str, size: int | None = None) -> list[DriftWindow]:
    """A dataset's stored windows of one kind (count windows: of size ``size``), oldest first."""
    stmt = select(DriftWindow).where(DriftWindow.dataset == dataset, DriftWindow.kind == kind)
    if kind == "count" and size:
        stmt = stmt.where(DriftWindow.key.like(f"{int(size)}:%"))
    return sorted(session.scalars(stmt), key=lambda w: (w.first_id, w.model_version))


def get_window(*, session: Session, window_id: int) -> DriftWindow:
    found = session.get(DriftWindow, int(window_id))
    if found is None:
        raise WindowNotFound(f"No monitoring window {window_id}. Refresh the windows on the Monitor page first.")
    return found


def window_as_dict(window: DriftWindow) -> dict[str, Any]:
    return {
        "id": window.id,
        "window": window_name(window),
        "label": window_label(window.kind, window.key, window.model_version),
        "model_version": window.model_version,
        "start": window.start.isoformat() if window.start else None,
        "end": window.end.isoformat() if window.end else None,
        "rows": window.rows,
        "sampled_rows": window.sampled_rows,
        "closed": window.closed,
        "status": window.status,
        "drift_share": window.drift_share,
        "dataset_drift": window.dataset_drift,
        "estimated_accuracy": window.estimated_accuracy,
        "flagged": window.flagged,
        "rejected": window.rejected,
        "columns": window.columns,
        "skipped": not_tested(window),
        "data_quality": data_quality(window),
    }


def not_tested(window: DriftWindow) -> dict[str, str]:
    """The window's features drift was not measured on, with why."""
    return {name: c["not_tested"] for name, c in (window.columns or {}).items() if c.get("not_tested")}


def data_quality(window: DriftWindow) -> dict[str, dict[str, Any]]:
    """The window's data-quality findings per feature (unseen categories, unreadable values): not drift."""
    return {name: c["quality"] for name, c in (window.columns or {}).items() if c.get("quality")}


def windows_frame(windows: list[DriftWindow]) -> pd.DataFrame:
    """One row per window, for tables and charts (per-feature scores as ``score:<feature>``)."""
    rows = []
    for w in windows:
        row: dict[str, Any] = {
            "id": w.id,
            "window": window_label(w.kind, w.key, w.model_version),
            "name": window_name(w),
            "model_version": w.model_version,
            "start": pd.Timestamp(w.start),
            "end": pd.Timestamp(w.end),
            "rows": w.rows,
            "sampled_rows": w.sampled_rows,
            "closed": w.closed,
            "status": w.status,
            "drift_share": w.drift_share,
            "dataset_drift": w.dataset_drift,
            "drifted": ", ".join(n for n, c in w.columns.items() if c.get("drifted")),
            "not_tested": ", ".join(not_tested(w)),
            "quality_issues": sum(
                int(q.get("unseen", 0)) + int(q.get("unparsable", 0)) for q in data_quality(w).values()
            ),
            "estimated_accuracy": w.estimated_accuracy,
            "mean_confidence": w.mean_confidence,
            "flagged_share": w.flagged / w.rows if w.rows else None,
            "rejected_share": w.rejected / (w.rows + w.rejected) if (w.rows + w.rejected) else None,
        }
        for name, column in w.columns.items():
            row[f"score:{name}"] = column.get("score")
            row[f"drifted:{name}"] = column.get("drifted")
        rows.append(row)
    return pd.DataFrame(rows)


# --- full reports -----------------------------------------------------------------------------


def _report_stem(window: DriftWindow) -> str:
    return f"window-{window.id}-"


def _report_path(settings: Settings, window: DriftWindow) -> Path:
    stamp = f"{window.rows}-{window.options_key}"
    return checks.reports_dir(settings, window.dataset) / f"{_report_stem(window)}{stamp}.html"


def _forget_report(settings: Settings, window: DriftWindow) -> None:
    folder = checks.reports_dir(settings, window.dataset)
    if folder.is_dir():
        for old in folder.glob(f"{_report_stem(window)}*.html"):
            old.unlink(missing_ok=True)


def stored_report(settings: Settings, window: DriftWindow) -> Path | None:
    """The window's full report if it was built already (without building it)."""
    path = _report_path(settings, window)
    return path if path.exists() else None


def window_report(*, session: Session, settings: Settings, window_id: int) -> Path:
    """Evidently's full report of a stored window as an HTML file (built on first request, then kept)."""
    window = get_window(session=session, window_id=window_id)
    path = _report_path(settings, window)
    if path.exists():
        return path
    span = span_of(window)
    data = training_data(session=session, settings=settings, dataset=window.dataset, version=window.model_version)
    current = checks.span_inputs(session, settings, window.dataset, span, data.features)  # sampled over the cap
    options = load_options(session=session, dataset=window.dataset)  # as measured: same options key
    profile = reference_profile(
        session=session, settings=settings, dataset=window.dataset, version=window.model_version, store=False
    )
    result = checks.against_training(data, current, settings, options, rows=window.rows, profile=profile)
    _forget_report(settings, window)
    return checks.save_report(result, settings, window.dataset, path.stem)
