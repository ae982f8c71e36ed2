"""A dataset's monitoring figures at this moment, read from the store (for the API's Prometheus gauges).

The figures are those :mod:`core.monitoring.alerts` checks, so a Prometheus rule can mirror each
check: the champion's latest measured window (drift share, its key features' drift, estimated
accuracy, flagged and rejected shares), the champion's holdout and realised accuracy, and when
the dataset's last prediction was made and its last window measured (monitoring that stopped
shows as predictions newer than any measurement). A few queries per dataset, nothing else read:
no training data, no drift computed. Each figure is None when there is nothing to report yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.config import Settings
from core.db.models import AlertDelivery, AlertEvent, DriftWindow, Feedback, ModelBaseline, Prediction
from core.monitoring.alerts import key_features

DELIVERY_STATUSES = ("pending", "sending", "sent", "failed")


@dataclass(frozen=True)
class Figures:
    # the champion's latest measured window (drift measured: at least drift_min_rows rows)
    drift_share: float | None  # share of drifted features
    estimated_accuracy: float | None  # accuracy expected from its calibrated confidence
    window_rows: int | None  # rows scored in it
    flagged_share: float | None  # share of those flagged by the input contract
    rejected_share: float | None  # share of its input rows the contract rejected
    key_feature_drift: dict[str, bool] = field(default_factory=dict)  # per key feature: drifted in it
    # the champion
    holdout_accuracy: float | None = None  # on its frozen holdout (stored with its first measured window)
    realised_accuracy: float | None = None  # share of its labelled predictions that were right
    labelled: int = 0  # its predictions with a label
    # the dataset
    open_alerts: int = 0
    last_prediction: datetime | None = None  # the newest prediction's time
    last_measured: datetime | None = None  # when a window was last measured


def alert_thresholds(settings: Settings) -> dict[str, float]:
    """The thresholds of the alert checks (``SIFT_ALERT_*``), by the name the gauges give them."""
    return {
        "drift_share": settings.alert_drift_share,
        "accuracy_drop": settings.alert_accuracy_drop,
        "min_labels": float(settings.alert_min_labels),
        "flagged_share": settings.alert_flagged_share,
        "rejected_share": settings.alert_rejected_share,
    }


def latest_figures(*, session: Session, settings: Settings, dataset: str, model_version: int) -> Figures:
    window = session.scalars(
        select(DriftWindow)
        .where(DriftWindow.dataset == dataset, DriftWindow.model_version == model_version)
        .where(DriftWindow.status == "measured")
        .order_by(DriftWindow.end.desc(), DriftWindow.id.desc())
        .limit(1)
    ).first()
    labelled, right = session.execute(
        select(func.count(Feedback.id), func.sum(case((Feedback.label == Prediction.predicted_class, 1), else_=0)))
        .join(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.dataset == dataset, Prediction.model_version == model_version)
    ).one()
    open_alerts, last_prediction, last_measured = session.execute(
        select(
            select(func.count(AlertEvent.id))
            .where(AlertEvent.dataset == dataset, AlertEvent.status == "open")
            .scalar_subquery(),
            select(Prediction.created_at)  # newest by id: the primary key's index, not a scan of the dataset
            .where(Prediction.dataset == dataset)
            .order_by(Prediction.id.desc())
            .limit(1)
            .scalar_subquery(),
            select(func.max(DriftWindow.computed_at)).where(DriftWindow.dataset == dataset).scalar_subquery(),
        )
    ).one()
    base = session.scalars(
        select(ModelBaseline).where(ModelBaseline.dataset == dataset, ModelBaseline.model_version == model_version)
    ).first()
    inputs = window.rows + window.rejected if window is not None else 0
    return Figures(
        drift_share=None if window is None else window.drift_share,
        estimated_accuracy=None if window is None else window.estimated_accuracy,
        window_rows=None if window is None else window.rows,
        flagged_share=window.flagged / window.rows if window is not None and window.rows else None,
        rejected_share=window.rejected / inputs if inputs else None,
        key_feature_drift=(
            {n: bool((window.columns.get(n) or {}).get("drifted")) for n in key_features(base, settings)}
            if window is not None and base is not None
            else {}
        ),
        holdout_accuracy=None if base is None else base.holdout_accuracy,
        realised_accuracy=(right or 0) / labelled if labelled else None,
        labelled=int(labelled or 0),
        open_alerts=int(open_alerts or 0),
        last_prediction=last_prediction,
        last_measured=last_measured,
    )


def delivery_counts(*, session: Session) -> dict[tuple[str, str], int]:
    """Alert deliveries by (dataset, status): ``pending``, ``sending``, ``sent``, ``failed``."""
    stmt = select(AlertDelivery.dataset, AlertDelivery.status, func.count()).group_by(
        AlertDelivery.dataset, AlertDelivery.status
    )
    return {(str(dataset), str(status)): int(n) for dataset, status, n in session.execute(stmt)}
