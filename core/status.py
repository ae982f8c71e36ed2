"""What state a home is in: datasets, champions and predictions, for the Home page and sidebar."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import registry
from core.config import Settings
from core.db.models import DatasetVersion, Prediction
from core.errors import ModelNotFound


@dataclass
class DatasetStatus:
    name: str
    versions: int
    rows: int
    target: str
    champion: registry.ModelVersionInfo | None
    predictions: int


@dataclass
class WorkspaceStatus:
    datasets: list[DatasetStatus] = field(default_factory=list)

    @property
    def predictions(self) -> int:
        return sum(d.predictions for d in self.datasets)

    def as_dict(self) -> dict[str, Any]:
        return {
            "datasets": [
                {
                    "name": d.name,
                    "versions": d.versions,
                    "rows": d.rows,
                    "predictions": d.predictions,
                    "champion": d.champion.as_dict() if d.champion else None,
                }
                for d in self.datasets
            ]
        }


def dataset_names(*, session: Session) -> list[str]:
    return list(session.scalars(select(DatasetVersion.name).distinct().order_by(DatasetVersion.name)))


def workspace_status(*, session: Session, settings: Settings) -> WorkspaceStatus:
    counts = dict(session.execute(select(Prediction.dataset, func.count()).group_by(Prediction.dataset)).all())
    status = WorkspaceStatus()
    for name in dataset_names(session=session):
        latest = session.scalars(
            select(DatasetVersion).where(DatasetVersion.name == name).order_by(DatasetVersion.version.desc()).limit(1)
        ).one()
        versions = session.scalar(select(func.count()).where(DatasetVersion.name == name))
        try:
            champion = registry.get_version(settings, name, registry.alias_version(settings, name))
        except ModelNotFound:
            champion = None
        status.datasets.append(
            DatasetStatus(
                name=name,
                versions=versions,
                rows=latest.row_count,
                target=latest.target,
                champion=champion,
                predictions=counts.get(name, 0),
            )
        )
    return status
