"""A dataset's monitoring figures at this moment, read from the store (for the API's Prometheus gauges).

Each figure is None when there is nothing to report yet (no measured window, no label).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.db.models import AlertEvent, DriftWindow, Feedback, Prediction


@dataclass(frozen=True)
class Figures:
    drift_share: float | None  # share of drifted features in the champion's latest measured window
    estimated_accuracy: float | None  # accuracy expected from the latest window's calibrated confidence
    realised_accuracy: float | None  # share of the champion's labelled predictions that were right
    labelled: int  # the champion's predictions with a label
    open_alerts: int


def latest_figures(*, session: Session, dataset: str, model_version: int) -> Figures:
    window = session.execute(
        select(DriftWindow.drift_share, DriftWindow.estimated_accuracy)
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
    open_alerts = session.scalar(
        select(func.count(AlertEvent.id)).where(AlertEvent.dataset == dataset, AlertEvent.status == "open")
    )
    return Figures(
        drift_share=None if window is None else window.drift_share,
        estimated_accuracy=None if window is None else window.estimated_accuracy,
        realised_accuracy=(right or 0) / labelled if labelled else None,
        labelled=int(labelled or 0),
        open_alerts=int(open_alerts or 0),
    )
