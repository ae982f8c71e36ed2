"""Drift checks of the champion: against a chosen window of the ledger or a CSV file, and the full
Evidently reports they leave under ``<artifacts>/reports/<dataset>/``.

:mod:`core.monitoring.drift` measures a window against a reference; this module finds the two
(the model version's reference profile and training data, the window or file) with the settings'
drift share, minimum window, cap (``drift_max_rows``: a larger window or file is measured on a
seeded sample of that many rows, and says so) and threads (``drift_workers``), and keeps the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from core.champion import champion_version
from core.config import Settings
from core.contract import check_inputs
from core.datasets.reading import read_csv
from core.db.models import utcnow
from core.monitoring.drift import MAX_WORKERS, DriftResult, compute_drift
from core.monitoring.ledger import read_inputs, selection_inputs
from core.monitoring.options import load_options
from core.monitoring.profile import Profile, build_profile
from core.monitoring.reference import TrainingData, reference_profile, training_data
from core.monitoring.sampling import sample_rows, seed_of

ADHOC_REPORTS = 10  # reports of one-off checks kept per dataset


def drift_workers(settings: Settings) -> int:
    """Threads measuring a window's columns: ``settings.drift_workers``, 0 meaning one per core (at most 4)."""
    return settings.drift_workers or min(os.cpu_count() or 1, MAX_WORKERS)


def against_profile(
    profile: Profile,
    reference: pd.DataFrame | Callable[[], pd.DataFrame] | None,
    current: pd.DataFrame,
    settings: Settings,
    options: dict[str, dict[str, Any]],
    *,
    rows: int | None = None,
) -> DriftResult:
    """Drift of ``current`` inputs against a model version's reference ``profile`` (its training
    rows ``reference``, or a function reading them, for Evidently's methods and report), with the
    settings' drift share, minimum window and threads, and the per-column ``options``. ``rows``:
    the window's rows when ``current`` is a seeded sample of them."""
    return compute_drift(
        reference,
        current,
        profile.features,
        profile=profile,
        options=options,
        drift_share=settings.drift_share,
        min_rows=settings.drift_min_rows,
        rows=rows,
        workers=drift_workers(settings),
    )


def span_inputs(session: Session, settings: Settings, dataset: str, span: Any, features: list[dict[str, Any]]):
    """The inputs drift measures of a window's :class:`~core.monitoring.ledger.Span`: every row, or
    for a span of more than ``settings.drift_max_rows`` a seeded sample of that many, its seed
    derived from the window (measured again, or for its report: the same rows). A frame typed for
    the model, its index the prediction ids."""
    seed = seed_of(dataset, span.name)
    current, _ = read_inputs(session, span.where(dataset), features, sample=settings.drift_max_rows, seed=seed)
    return current


def against_training(
    data: TrainingData,
    current: Any,
    settings: Settings,
    options: dict[str, dict[str, Any]],
    *,
    profile: Profile | None = None,
    rows: int | None = None,
) -> DriftResult:
    """Drift of ``current`` inputs against the version's training data (its ``profile``, built from
    the rows when not given); see :func:`against_profile`."""
    profile = profile if profile is not None else build_profile(data.train, data.features)
    return against_profile(profile, data.train, current, settings, options, rows=rows)


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
    the champion's training data. ``options`` override the dataset's stored choices per column. A
    selection of more than ``settings.drift_max_rows`` predictions is read and measured as a seeded
    sample of that many (the same selection, the same sample)."""
    version = champion_version(settings, dataset, session=session)
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    profile = reference_profile(session=session, settings=settings, dataset=dataset, version=version, store=False)
    seed = seed_of(dataset, selection.describe())
    current, ids = read_inputs(
        session, selection.where(dataset), data.features, last=selection.last, sample=settings.drift_max_rows, seed=seed
    )
    if not len(current):
        selection_inputs(session, dataset, selection, data.features)  # raises why: no such batch, or no predictions
    chosen = load_options(session=session, dataset=dataset) | (options or {})
    result = against_profile(profile, data.train, current, settings, chosen, rows=len(ids))
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
    """Drift of a CSV file's rows (those the champion's input contract accepts) against its training
    data; more of them than ``settings.drift_max_rows`` are measured as a seeded sample of that many."""
    version = champion_version(settings, dataset, session=session)
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    profile = reference_profile(session=session, settings=settings, dataset=dataset, version=version, store=False)
    frame = read_csv(path).frame
    typed, reasons, _ = check_inputs(frame, {"features": data.features})
    accepted = typed[reasons.to_numpy() == ""]
    current = sample_rows(accepted, settings.drift_max_rows, seed_of(dataset, "file", Path(path).name, len(accepted)))
    chosen = load_options(session=session, dataset=dataset) | (options or {})
    result = against_profile(profile, data.train, current, settings, chosen, rows=len(accepted))
    result.model_version, result.window = version, f"file {Path(path).name}"
    if len(accepted) < len(frame):
        result.notes.append(f"{len(frame) - len(accepted):,} rows break the input contract and were left out.")
    return result


def check_drift(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    selection: Any = None,
    path: str | Path | None = None,
) -> tuple[DriftResult, Path]:
    """A one-off check, as the Monitor page's "Check drift" makes it: the drift of a CSV file's rows
    (``path``) or else of a window of the ledger (``selection``), and its report, kept among the
    newest :data:`ADHOC_REPORTS` (:func:`save_check_report`)."""
    if path is not None:
        result = measure_file(session=session, settings=settings, dataset=dataset, path=path)
    else:
        result = measure_selection(session=session, settings=settings, dataset=dataset, selection=selection)
    return result, save_check_report(result, settings, dataset)
