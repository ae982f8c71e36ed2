"""Alerts: a monitoring threshold crossed in a window, stored once and acknowledged by someone.

Checked over a dataset's stored windows (settings in :mod:`core.config`, ``SIFT_ALERT_*``):

- ``drift_share``: the share of drifting features reaches ``alert_drift_share``;
- ``feature_drift``: a key feature drifts (the top ``alert_key_features`` by the training
  report's permutation importance; all features when it has none or the setting is 0). Both come
  from drift alone, a distribution that moved (:mod:`core.monitoring.drift`): unseen categories and
  unreadable values are data-quality findings of the window, never drift;
- ``estimated_accuracy``: the accuracy estimated from the probabilities falls more than
  ``alert_accuracy_drop`` below the model version's holdout accuracy;
- ``realised_accuracy``: the same for the accuracy of labelled predictions, once the window has
  ``alert_min_labels`` labels;
- ``flagged_share`` / ``rejected_share``: the data-quality alerts: the share of scored rows
  flagged by the input contract (unseen category, outside the training range), or of input rows
  it rejected, reaches ``alert_flagged_share`` / ``alert_rejected_share`` (generous by default,
  10 % and 5 %: a handful of odd cells is flagged per row, not alerted on). The message names the
  window's data-quality findings per feature.

Window-level checks need ``drift_min_rows`` rows, like drift itself. One alert per dataset, kind
and window: checking again never duplicates one, even one already acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.config import Settings
from core.db.models import AlertEvent, DriftWindow, ModelBaseline, utcnow
from core.errors import AlertNotFound
from core.monitoring import estimate, quality
from core.monitoring.ledger import window_label

KIND_LABELS = {
    "drift_share": "Drift share",
    "feature_drift": "Key feature drift",
    "estimated_accuracy": "Estimated accuracy",
    "realised_accuracy": "Realised accuracy",
    "flagged_share": "Flagged rows",
    "rejected_share": "Rejected rows",
}
MAX_WHO = 128


@dataclass
class Crossing:
    kind: str
    window: DriftWindow
    message: str
    value: float
    threshold: float


def key_features(base: ModelBaseline, settings: Settings) -> list[str]:
    ranked = list(base.key_features or [])
    return ranked[: settings.alert_key_features] if settings.alert_key_features else ranked


def _window_crossings(w: DriftWindow, base: ModelBaseline, settings: Settings) -> list[Crossing]:
    label = window_label(w.kind, w.key, w.model_version)
    found = []
    if w.status == "measured" and w.drift_share is not None and w.drift_share >= settings.alert_drift_share:
        found.append(
            Crossing(
                "drift_share",
                w,
                f"{w.drift_share:.0%} of features drift in {label} (alert at {settings.alert_drift_share:.0%}).",
                w.drift_share,
                settings.alert_drift_share,
            )
        )
    if w.status == "measured":
        keys = key_features(base, settings)
        drifting = [n for n in keys if (w.columns.get(n) or {}).get("drifted")]
        plural = "s" if len(drifting) > 1 else ""
        if drifting:
            found.append(
                Crossing(
                    "feature_drift",
                    w,
                    f"Key feature{plural} {', '.join(drifting)} drift{'' if plural else 's'} in {label}.",
                    float(len(drifting)),
                    1.0,
                )
            )
    floor = base.holdout_accuracy - settings.alert_accuracy_drop
    if w.rows >= settings.drift_min_rows and w.estimated_accuracy is not None and w.estimated_accuracy < floor:
        found.append(
            Crossing(
                "estimated_accuracy",
                w,
                f"Estimated accuracy {w.estimated_accuracy:.1%} in {label}, more than "
                f"{settings.alert_accuracy_drop:.0%} below the holdout's {base.holdout_accuracy:.1%}.",
                w.estimated_accuracy,
                floor,
            )
        )
    if w.rows >= settings.drift_min_rows and w.flagged / w.rows >= settings.alert_flagged_share:
        share = w.flagged / w.rows
        found.append(
            Crossing(
                "flagged_share",
                w,
                f"{share:.0%} of the rows scored in {label} were flagged (unseen category or outside the training "
                f"range).{_findings(w)}",
                share,
                settings.alert_flagged_share,
            )
        )
    inputs = w.rows + w.rejected
    if w.rejected and inputs >= settings.drift_min_rows and w.rejected / inputs >= settings.alert_rejected_share:
        share = w.rejected / inputs
        found.append(
            Crossing(
                "rejected_share",
                w,
                f"{share:.0%} of the input rows of {label} were rejected by the input contract.",
                share,
                settings.alert_rejected_share,
            )
        )
    return found


def _findings(window: DriftWindow) -> str:
    """The window's data-quality findings in words (`` Unseen values: island 12 (e.g. 'Atlantis').``)."""
    parts = []
    for name, column in (window.columns or {}).items():
        found = column.get("quality") or {}
        if found.get("unseen"):
            examples = ", ".join(repr(e) for e in found.get("examples", [])[:3])
            parts.append(f"{name} {found['unseen']} unseen (e.g. {examples})")
        if found.get("unparsable"):
            parts.append(f"{name} {found['unparsable']} unreadable")
    return f" Data quality: {'; '.join(parts)}." if parts else ""


def _realised_crossings(
    session: Session, settings: Settings, dataset: str, windows: list[DriftWindow], bases: dict[int, ModelBaseline]
) -> list[Crossing]:
    if not windows:
        return []
    kind = windows[0].kind
    by_window = quality.quality_by_window(quality.labelled(session=session, dataset=dataset), kind, windows)
    if by_window.empty:
        return []
    lookup = {(w.model_version, w.key): w for w in windows}
    found = []
    for row in by_window.itertuples(index=False):
        w = lookup.get((row.model_version, row.key))
        if w is None or row.labels < settings.alert_min_labels:
            continue
        floor = bases[w.model_version].holdout_accuracy - settings.alert_accuracy_drop
        if row.accuracy < floor:
            found.append(
                Crossing(
                    "realised_accuracy",
                    w,
                    f"Accuracy {row.accuracy:.1%} on {row.labels} labels in {row.window} (95 % interval "
                    f"{row.accuracy_low:.1%}-{row.accuracy_high:.1%}), more than {settings.alert_accuracy_drop:.0%} "
                    f"below the holdout's {bases[w.model_version].holdout_accuracy:.1%}.",
                    float(row.accuracy),
                    floor,
                )
            )
    return found


def _window_key(window: DriftWindow) -> str:
    return f"{window.kind}:{window.key}:v{window.model_version}"


def check_alerts(*, session: Session, settings: Settings, dataset: str, windows: list[DriftWindow]) -> list[AlertEvent]:
    """Store an alert for each threshold crossed in ``windows`` that has none yet; returns the new ones.

    The caller owns the transaction.
    """
    bases = {
        v: estimate.baseline(session=session, settings=settings, dataset=dataset, version=v)
        for v in sorted({w.model_version for w in windows})
    }
    crossings = [c for w in windows for c in _window_crossings(w, bases[w.model_version], settings)]
    crossings += _realised_crossings(session, settings, dataset, windows, bases)
    existing = {(a.kind, a.window) for a in session.scalars(select(AlertEvent).where(AlertEvent.dataset == dataset))}
    created = []
    for c in crossings:
        name = _window_key(c.window)
        if (c.kind, name) in existing:
            continue
        alert = AlertEvent(
            dataset=dataset,
            kind=c.kind,
            window=name,
            window_id=c.window.id,
            model_version=c.window.model_version,
            message=c.message,
            value=float(c.value),
            threshold=float(c.threshold),
            status="open",
            created_at=utcnow(),
        )
        try:
            with session.begin_nested():  # another process may have stored the same alert just now
                session.add(alert)
        except IntegrityError:
            continue
        existing.add((c.kind, name))
        created.append(alert)
    return created


def list_alerts(*, session: Session, dataset: str | None = None, status: str | None = None) -> list[AlertEvent]:
    """Alerts, newest first; ``status`` ``open`` or ``acknowledged`` keeps those."""
    stmt = select(AlertEvent).order_by(AlertEvent.created_at.desc(), AlertEvent.id.desc())
    if dataset:
        stmt = stmt.where(AlertEvent.dataset == dataset)
    if status:
        stmt = stmt.where(AlertEvent.status == status)
    return list(session.scalars(stmt))


def acknowledge(*, session: Session, alert_id: int, who: str = "app", dataset: str | None = None) -> AlertEvent:
    """Mark an alert as seen (once: acknowledging it again changes nothing). The caller owns the transaction."""
    alert = session.get(AlertEvent, int(alert_id))
    if alert is None or (dataset is not None and alert.dataset != dataset):
        where = f" of {dataset!r}" if dataset else ""
        raise AlertNotFound(f"No alert {alert_id}{where}. `python -m core alerts --dataset NAME` lists them.")
    if alert.status != "acknowledged":
        alert.status = "acknowledged"
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by = (" ".join(str(who or "").split()) or "app")[:MAX_WHO]
        session.flush()
    return alert


def alert_as_dict(alert: AlertEvent) -> dict[str, Any]:
    def moment(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": alert.id,
        "dataset": alert.dataset,
        "kind": alert.kind,
        "window": alert.window,
        "window_id": alert.window_id,
        "model_version": alert.model_version,
        "message": alert.message,
        "value": alert.value,
        "threshold": alert.threshold,
        "status": alert.status,
        "created_at": moment(alert.created_at),
        "acknowledged_at": moment(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
    }
