"""Drift checks of the champion: against a chosen window of the ledger or a CSV file, and the full
Evidently reports they leave under ``<artifacts>/reports/<dataset>/``.

:mod:`core.monitoring.drift` measures two tables; this module finds the two tables (the
champion's training data, the window or file) and keeps the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.champion import champion_version
from core.config import Settings
from core.contract import check_inputs
from core.datasets.reading import read_csv
from core.db.models import utcnow
from core.monitoring.drift import DriftResult, compute_drift
from core.monitoring.ledger import selection_inputs
from core.monitoring.options import load_options
from core.monitoring.reference import TrainingData, training_data

ADHOC_REPORTS = 10  # reports of one-off checks kept per dataset


def against_training(
    data: TrainingData, current: Any, settings: Settings, options: dict[str, dict[str, Any]]
) -> DriftResult:
    """Drift of ``current`` inputs against the version's training data, with the settings' drift
    share and minimum window, and the per-column ``options``."""
    return compute_drift(
        data.train,
        current,
        data.features,
        options=options,
        drift_share=settings.drift_share,
        min_rows=settings.drift_min_rows,
    )


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
    version = champion_version(settings, dataset, session=session)
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    current, _ = selection_inputs(session, dataset, selection, data.features)
    result = against_training(data, current, settings, load_options(session=session, dataset=dataset) | (options or {}))
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
    version = champion_version(settings, dataset, session=session)
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    frame = read_csv(path).frame
    typed, reasons, _ = check_inputs(frame, {"features": data.features})
    current = typed[reasons.to_numpy() == ""]
    result = against_training(data, current, settings, load_options(session=session, dataset=dataset) | (options or {}))
    result.model_version, result.window = version, f"file {Path(path).name}"
    if len(current) < len(frame):
        result.notes.append(f"{len(frame) - len(current):,} rows break the input contract and were left out.")
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
