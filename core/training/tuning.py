"""Optuna tuning of XGBoost on the cross-validation folds of the training part.

The study lives in the main database (Optuna's RDB storage adds its own tables there), so an
interrupted training resumes its study and several workers can share one once the database is
PostgreSQL.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import optuna
import pandas as pd

from core.config import Settings
from core.training.evaluate import cross_validate
from core.training.factories import XGBOOST_DEFAULTS, make_xgboost

STARTUP_TRIALS = 8  # random trials before TPE models the search space
PRUNE_AFTER_TRIALS = 5  # trials that always run every fold, to compare later ones with
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def study_name_for(dataset: str, dataset_version: int, run_key: str | None = None) -> str:
    """``<dataset>-v<version>-<run key>``; a new run key (time and random suffix) if none is given."""
    key = run_key or f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    return re.sub(r"[^\w.-]+", "_", f"{dataset}-v{dataset_version}-{key}")


@contextmanager
def study_storage(settings: Settings) -> Iterator[optuna.storages.RDBStorage]:
    """Optuna's storage in the main database, closed on exit.

    On SQLite, Optuna's own connections wait for a busy database (``timeout``, like ours) instead
    of failing at once, and the database is opened through core.db first so it is in WAL mode
    (a persistent setting of the file) before Optuna creates its tables.
    """
    from core.db import open_database

    url = settings.database_url
    if url.startswith("sqlite"):
        open_database(settings)
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": settings.sqlite_busy_timeout_ms / 1000}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    if url.startswith("sqlite"):
        _tune_sqlite(storage.engine, settings.sqlite_busy_timeout_ms)
    try:
        yield storage
    finally:
        storage.engine.dispose()


def _tune_sqlite(engine: Any, busy_timeout_ms: int) -> None:
    """Give Optuna's SQLite connections the pragmas of core.db's: WAL, busy timeout, NORMAL sync."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    engine.dispose()  # the connections opened to create the tables reconnect with the pragmas


def suggest_xgboost(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 500, log=True),
        "max_depth": trial.suggest_int("max_depth", 1, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 20.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


def best_value(study: optuna.Study) -> float | None:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return max((t.value for t in complete if t.value is not None), default=None)


def tune_xgboost(
    features: list[dict[str, Any]],
    X: pd.DataFrame,  # noqa: N803
    y: np.ndarray,
    *,
    folds: list[tuple[np.ndarray, np.ndarray]],
    storage: optuna.storages.BaseStorage,
    study_name: str,
    trials: int | None,
    timeout: float | None,
    seed: int,
    class_weight: str | None = None,
    after_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    check_stop: Callable[[], None] | None = None,
) -> optuna.Study:
    """Maximise cross-validated macro F1; the study resumes if it already exists.

    ``trials`` counts the study's finished trials, so a resumed study only runs what is left;
    ``timeout`` is in seconds (0 or less: no new trial unless the study has no result yet). The
    library defaults are the first trial of a new study. Each fold reports the running mean, so
    the median pruner stops a trial that is behind the others after two folds. ``after_trial``
    runs after every trial (progress); ``check_stop`` runs between folds and may raise to stop.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=1),
    )
    existing = study.get_trials(deepcopy=False)
    # a fresh seed per resumption, so a resumed study does not replay its first random trials
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(existing), n_startup_trials=STARTUP_TRIALS)
    if not existing:
        study.enqueue_trial(dict(XGBOOST_DEFAULTS))

    def objective(trial: optuna.Trial) -> float:
        pipeline = make_xgboost(features, suggest_xgboost(trial), seed=seed, class_weight=class_weight)

        def after_fold(fold: int, running_mean: float) -> None:
            trial.report(running_mean, step=fold)
            if check_stop is not None:
                check_stop()
            if fold < len(folds) - 1 and trial.should_prune():
                trial.set_user_attr("pruned_at_fold", fold + 1)
                raise optuna.TrialPruned()

        scores = cross_validate(pipeline, X, y, folds, after_fold=after_fold)
        trial.set_user_attr("fold_scores", scores)
        trial.set_user_attr("cv_std", float(np.std(scores)))
        return float(np.mean(scores))

    remaining = None if trials is None else max(trials - len(finished_trials(study)), 0)
    if timeout is not None and timeout <= 0:  # the time went on the baselines
        remaining = 0
    if remaining == 0 and best_value(study) is None:
        remaining, timeout = 1, None  # a study without a completed trial has no best parameters yet
    if remaining != 0:
        study.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=[after_trial] if after_trial else None)
    return study


def tuning_history(study: optuna.Study) -> dict[str, Any]:
    """Every trial of the study: number, state, CV macro F1, parameters and duration."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        intermediate = t.intermediate_values
        last = intermediate[max(intermediate)] if intermediate else None
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "last_intermediate": last,
                "folds_run": len(intermediate),
                "cv_std": t.user_attrs.get("cv_std"),
                "params": dict(t.params),
                "seconds": t.duration.total_seconds() if t.duration else None,
            }
        )
    return {
        "study_name": study.study_name,
        "metric": "cv_f1_macro",
        "direction": "maximize",
        "best_number": study.best_trial.number if best_value(study) is not None else None,
        "trials": rows,
    }
