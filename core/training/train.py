"""Train a model for a dataset version: split, tune, fit, evaluate, log and register."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sklearn.model_selection import train_test_split
from sqlalchemy.orm import Session

from core import registry
from core.config import Settings
from core.datasets.versions import get_version, load_frame
from core.features import coerce_inputs, feature_columns
from core.scoring import CONTRACT_FILE, build_contract
from core.training.evaluate import classification_metrics, confusion
from core.training.factories import XGBOOST_DEFAULTS, make_xgboost
from core.training.tuning import Progress, tune_xgboost


@dataclass
class TrainingResult:
    model: str
    version: int
    aliases: list[str]
    metrics: dict[str, float]
    dataset_version: int
    trials: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "aliases": self.aliases, "metrics": self.metrics}


def train(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    dataset_version: int | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Tune XGBoost on the training part, evaluate on a frozen stratified holdout, register."""
    started = time.perf_counter()
    seed = settings.seed if seed is None else seed
    trials = trials or settings.default_trials
    version = get_version(session=session, name=dataset, version=dataset_version)
    frame = load_frame(session=session, version=version)
    frame = frame[frame[version.target].notna()]
    features = feature_columns(version.columns)
    names = [f["name"] for f in features]
    X = coerce_inputs(frame[names], features)  # noqa: N806
    y = frame[version.target].to_numpy()
    X_train, X_hold, y_train, y_hold = train_test_split(  # noqa: N806
        X, y, test_size=settings.holdout_fraction, stratify=y, random_state=seed
    )
    study = tune_xgboost(features, X_train, y_train, trials=trials, timeout=timeout, seed=seed, progress=progress)
    best_params = XGBOOST_DEFAULTS | study.best_params
    model = make_xgboost(features, best_params, seed=seed).fit(X_train, y_train)
    proba = model.predict_proba(X_hold)
    metrics = classification_metrics(y_hold, proba, model.classes_)
    metrics["cv_f1_macro"] = float(study.best_value)
    info = registry.register_model(
        settings,
        name=dataset,
        model=model,
        input_example=X_train.head(5),
        params=best_params | {"seed": seed, "trials": len(study.trials), "holdout_fraction": settings.holdout_fraction},
        metrics=metrics,
        tags={
            "sift.dataset": dataset,
            "sift.dataset_version": str(version.version),
            "sift.content_hash": version.content_hash,
            "sift.target": version.target,
            "sift.estimator": "xgboost",
        },
        documents={
            CONTRACT_FILE: build_contract(frame.loc[X_train.index, names], features, list(model.classes_)),
            "confusion_matrix.json": confusion(y_hold, proba, model.classes_),
            "split.json": {"holdout_row_ids": [int(i) for i in X_hold.index], "seed": seed},
        },
    )
    return TrainingResult(
        model=dataset,
        version=info.version,
        aliases=info.aliases,
        metrics={k: round(v, 4) for k, v in metrics.items()},
        dataset_version=version.version,
        trials=len(study.trials),
        seconds=time.perf_counter() - started,
    )
