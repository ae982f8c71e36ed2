"""Optuna tuning of XGBoost on cross-validation folds of the training part."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_score

from core.training.factories import XGBOOST_DEFAULTS, make_xgboost

CV_FOLDS = 3
Progress = Callable[[int, int, float], None]  # (trials done, trials planned, best score so far)


def suggest_xgboost(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 500, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def tune_xgboost(
    features: list[dict[str, Any]],
    X: pd.DataFrame,  # noqa: N803
    y: np.ndarray,
    *,
    trials: int,
    timeout: float | None,
    seed: int,
    progress: Progress | None = None,
) -> optuna.Study:
    """Maximise cross-validated macro F1. The library defaults are always the first trial."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(dict(XGBOOST_DEFAULTS))

    def objective(trial: optuna.Trial) -> float:
        pipeline = make_xgboost(features, suggest_xgboost(trial), seed=seed)
        scores = cross_val_score(pipeline, X, y, cv=folds, scoring="f1_macro", n_jobs=1)
        trial.set_user_attr("cv_std", float(scores.std()))
        return float(scores.mean())

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if progress:
            progress(len(study.trials), trials, study.best_value)

    study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[report])
    return study
