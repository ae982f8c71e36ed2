"""A version's frozen holdout: the rows it was evaluated on, their prediction, and a slice's metrics.

Training keeps the holdout's row ids in the run's :data:`SPLIT_FILE`; :func:`load_holdout` reads
them back from the version's dataset version. Used by promotion, the model card, retraining,
export and monitoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core import registry
from core.champion import LoadedModel, dataset_version_of
from core.config import Settings
from core.datasets.versions import load_frame
from core.db.models import DatasetVersion
from core.errors import DatasetNotFound
from core.features import coerce_inputs
from core.training.evaluate import classification_metrics

SPLIT_FILE = "split.json"


@dataclass
class Holdout:
    """The frozen holdout of one run: raw rows of its dataset version and their true labels."""

    dataset: DatasetVersion
    row_ids: list[int]
    frame: pd.DataFrame
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.row_ids)


def load_holdout(*, session: Session, settings: Settings, info: registry.ModelVersionInfo) -> Holdout:
    """The rows the version was evaluated on, from its ``split.json`` and its dataset version."""
    version = dataset_version_of(session=session, info=info)
    try:
        split = registry.load_document(settings, info.run_id, SPLIT_FILE)
    except Exception as exc:  # an older run without the artifact: MLflow raises its own types
        raise DatasetNotFound(
            f"Model {info.name!r} version {info.version} does not record its holdout rows ({SPLIT_FILE})."
        ) from exc
    ids = [int(i) for i in split.get("holdout_row_ids", [])]
    frame = load_frame(session=session, version=version)
    known = frame.index.intersection(ids)
    if len(known) != len(ids) or not ids:
        raise DatasetNotFound(
            f"The holdout of model {info.name!r} version {info.version} is not in {version.label} any more."
        )
    rows = frame.loc[ids]
    return Holdout(dataset=version, row_ids=ids, frame=rows, y=rows[version.target].to_numpy())


def _check_columns(model: LoadedModel, holdout: Holdout) -> None:
    features = model.contract["features"]
    missing = [f["name"] for f in features if f["name"] not in holdout.frame.columns]
    if missing:
        raise DatasetNotFound(
            f"Version {model.version} needs columns that {holdout.dataset.label} does not have: "
            f"{', '.join(map(repr, missing))}."
        )


def _predict(pipeline: Any, features: list[dict[str, Any]], frame: pd.DataFrame) -> np.ndarray:
    typed = coerce_inputs(frame[[f["name"] for f in features]], features)
    return pipeline.predict_proba(typed)


def predict_holdout(model: LoadedModel, holdout: Holdout) -> np.ndarray:
    """Class probabilities of ``model`` on the holdout rows, columns in ``model.pipeline.classes_`` order."""
    _check_columns(model, holdout)
    return _predict(model.pipeline, model.contract["features"], holdout.frame)


def score_slice(pipeline: Any, features: list[dict[str, Any]], frame: pd.DataFrame, truth: Any) -> dict[str, float]:
    """Holdout-style metrics (:func:`~core.training.evaluate.classification_metrics`) of a fitted pipeline
    on rows holding its input columns, against their true classes."""
    return classification_metrics(truth, _predict(pipeline, features, frame), pipeline.classes_)


def score_holdout(model: LoadedModel, holdout: Holdout) -> dict[str, float]:
    """:func:`score_slice` of ``model`` on the holdout rows (refused as :func:`predict_holdout` refuses)."""
    _check_columns(model, holdout)
    return score_slice(model.pipeline, model.contract["features"], holdout.frame, holdout.y)
