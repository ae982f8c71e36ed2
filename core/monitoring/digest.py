"""Digests: a daily or weekly summary for a destination that asked for one.

A digest covers the last whole period before now (UTC): yesterday, or last week from Monday. Per
dataset it gives the windows measured and the alerts raised in the period, the alerts open, the
labels gathered in the period, and the champion's estimated accuracy (its latest measured window)
and realised accuracy (the labels on its predictions), from :mod:`core.monitoring.figures`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.champion import champion_version
from core.config import Settings
from core.datasets.versions import list_versions
from core.db.models import AlertEvent, DriftWindow, Feedback, Prediction
from core.errors import ModelNotFound
from core.monitoring import figures
from core.monitoring.alerts import list_alerts
from core.monitoring.destinations import EVERY
from core.monitoring.messages import monitor_link

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


def last_period(digest: str, now: datetime) -> tuple[datetime, datetime]:
    """The last whole day (``daily``) or Monday-to-Monday week (``weekly``) before ``now``, in UTC."""
    now = now.astimezone(UTC)
    end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if digest == "weekly":
        end -= timedelta(days=end.weekday())
    return end - PERIODS[digest], end


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def dataset_summary(
    *, session: Session, settings: Settings, dataset: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """One dataset's figures for the period ``start`` to ``end``."""
    measured = _count(
        session,
        select(func.count(DriftWindow.id)).where(
            DriftWindow.dataset == dataset,
            DriftWindow.status == "measured",
            DriftWindow.computed_at >= start,
            DriftWindow.computed_at < end,
        ),
    )
    raised = _count(
        session,
        select(func.count(AlertEvent.id)).where(
            AlertEvent.dataset == dataset, AlertEvent.created_at >= start, AlertEvent.created_at < end
        ),
    )
    labels = _count(
        session,
        select(func.count(Feedback.id))
        .join(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.dataset == dataset, Feedback.created_at >= start, Feedback.created_at < end),
    )
    open_alerts = len(list_alerts(session=session, dataset=dataset, status="open"))
    try:
        champion: int | None = champion_version(settings, dataset, session=session)
    except ModelNotFound:
        champion = None
    now = (
        None
        if champion is None
        else figures.latest_figures(session=session, settings=settings, dataset=dataset, model_version=champion)
    )
    estimated = None if now is None else now.estimated_accuracy
    realised = None if now is None else now.realised_accuracy
    facts = [
        ("Windows measured", measured),
        ("Alerts raised", raised),
        ("Alerts open", open_alerts),
        ("Labels gathered", labels),
        ("Champion", "none" if champion is None else f"v{champion}"),
        ("Estimated accuracy", "n/a" if estimated is None else f"{estimated:.1%} (latest window)"),
        ("Realised accuracy", "n/a" if realised is None else f"{realised:.1%} on {now.labelled:,} labels"),
    ]
    return {
        "dataset": dataset,
        "windows_measured": measured,
        "alerts_raised": raised,
        "alerts_open": open_alerts,
        "labels_gathered": labels,
        "champion": champion,
        "estimated_accuracy": estimated,
        "realised_accuracy": realised,
        "labelled": None if now is None else now.labelled,
        "facts": facts,
    }


def _line(summary: dict[str, Any]) -> str:
    line = (
        f"{summary['dataset']}: {summary['windows_measured']} window(s) measured, {summary['alerts_raised']} alert(s) "
        f"raised ({summary['alerts_open']} open), {summary['labels_gathered']} label(s) gathered"
    )
    if summary["champion"] is None:
        return line + "; no champion."
    facts = dict(summary["facts"])
    return line + (
        f"; champion v{summary['champion']}: estimated accuracy {facts['Estimated accuracy']}, "
        f"realised {facts['Realised accuracy']}."
    )


def digest_message(
    *, session: Session, settings: Settings, scope: str, digest: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """The digest of ``scope`` (a dataset, or ``*``: each dataset) for the period ``start`` to ``end``."""
    names = sorted({v.name for v in list_versions(session=session)}) if scope == EVERY else [scope]
    summaries = [dataset_summary(session=session, settings=settings, dataset=n, start=start, end=end) for n in names]
    if digest == "daily":
        title = f"Sift daily digest for {start:%Y-%m-%d}"
    else:
        title = f"Sift weekly digest, {start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}"
    text = "\n".join(_line(s) for s in summaries) or "No dataset yet."
    return {
        "sift": True,
        "type": "digest",
        "id": None,
        "dataset": scope,
        "kind": "digest",
        "period": digest,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "model_version": None,
        "window": None,
        "message": text,
        "datasets": summaries,
        "link": monitor_link(settings.public_url),
        "title": title,
        "text": text,
    }
