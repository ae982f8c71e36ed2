"""The candidates of one training: each cross-validated, fitted on the training part, scored on the holdout.

A candidate is ranked on its out-of-fold score of the selection metric (see
:mod:`core.training.selection`); the holdout, with its interval, is reported beside it and
never decides. Calibration and the ensemble make new candidates out of fitted ones.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from core.training import evaluate
from core.training.estimators import Calibrated, WeightedEnsemble
from core.training.factories import ENSEMBLE, LABELS
from core.training.selection import (
    ENSEMBLE_GAIN,
    blend,
    choose_calibration,
    fit_calibrator,
    greedy_ensemble,
    oof_metrics,
)


@dataclass
class Split:
    """The labelled rows of a dataset version: the training part (cross-validated) and the holdout."""

    frame: pd.DataFrame
    features: list[dict[str, Any]]
    X_train: pd.DataFrame
    X_hold: pd.DataFrame
    y_train: np.ndarray
    y_hold: np.ndarray
    unlabelled: int = 0  # rows of the dataset version without a label: left out

    @cached_property
    def classes(self) -> np.ndarray:
        return np.unique(self.y_train)

    @cached_property
    def codes(self) -> np.ndarray:
        """Each training row's class position in :attr:`classes` (the models' column order)."""
        return np.searchsorted(self.classes, self.y_train)


@dataclass
class Candidate:
    """One candidate, cross-validated and then fitted on the whole training part."""

    name: str
    pipeline: Any
    metric: str  # the selection metric
    fold_scores: list[float]  # the selection metric on each fold, higher is better
    oof: np.ndarray  # out-of-fold probabilities of the training rows
    cv: dict[str, float]  # every metric on ``oof``
    holdout: dict[str, float]
    proba: np.ndarray  # holdout probabilities
    fit_seconds: float
    cv_seconds: float
    class_weight: str | None = None
    trials: int | None = None
    run_id: str | None = None
    calibration: str | None = None
    weights: dict[str, float] = field(default_factory=dict)  # an ensemble's members and their weights
    interval: tuple[float | None, float | None] = (None, None)  # the holdout's 95 % interval of the metric

    @property
    def cv_score(self) -> float:
        """The out-of-fold selection metric, higher is better (a log loss negated): what ranks candidates."""
        value = self.cv[self.metric]
        return -value if self.metric in evaluate.LOWER_IS_BETTER else value

    @property
    def cv_std(self) -> float:
        scores = np.asarray(self.fold_scores, dtype=float)
        return float(np.nanstd(scores)) if np.isfinite(scores).any() else float("nan")

    def metrics(self) -> dict[str, float]:
        return (
            self.holdout
            | {f"cv_{key}": value for key, value in self.cv.items()}
            | {f"cv_{self.metric}_std": self.cv_std, "fit_seconds": self.fit_seconds, "cv_seconds": self.cv_seconds}
        )

    def row(self, *, winner: bool) -> dict[str, Any]:
        def clean(value: float | None) -> float | None:
            return round(float(value), 6) if value is not None and value == value else None

        return {
            "name": self.name,
            "label": LABELS[self.name],
            "metric": self.metric,
            "cv_score": clean(self.cv[self.metric]),
            "cv_score_std": clean(self.cv_std),
            "cv_folds": len(self.fold_scores),
            "cv_f1_macro": clean(self.cv["f1_macro"]),
            **{k: clean(self.holdout[k]) for k in evaluate.METRICS},
            "holdout_low": clean(self.interval[0]),
            "holdout_high": clean(self.interval[1]),
            "fit_seconds": round(self.fit_seconds, 3),
            "trials": self.trials,
            "class_weight": self.class_weight or "none",
            "calibration": self.calibration or "none",
            "members": {k: round(v, 4) for k, v in self.weights.items()} or None,
            "winner": winner,
            "run_id": self.run_id,
        }


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Best first: the out-of-fold selection metric (to 4 decimals), then a single model before an
    ensemble, then the faster fit. The holdout never breaks a tie: it is what the report shows."""
    return sorted(candidates, key=lambda c: (-round(c.cv_score, 4), bool(c.weights), c.fit_seconds))


def _holdout(model: Any, data: Split, proba: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, float]]:
    proba = model.predict_proba(data.X_hold) if proba is None else proba
    with warnings.catch_warnings():  # a holdout missing a class: ROC AUC undefined (NaN)
        warnings.simplefilter("ignore", UserWarning)
        return proba, evaluate.classification_metrics(data.y_hold, proba, model.classes_)


def fitted(
    name: str,
    pipeline: Any,
    data: Split,
    cv: evaluate.CrossValidation,
    *,
    metric: str,
    cv_seconds: float,
    class_weight: str | None,
) -> Candidate:
    """The candidate once ``pipeline`` is fitted on the whole training part and scored on the holdout."""
    started = time.perf_counter()
    pipeline.fit(data.X_train, data.y_train)
    fit_seconds = time.perf_counter() - started
    proba, holdout = _holdout(pipeline, data)
    return Candidate(
        name,
        pipeline,
        metric,
        list(cv.scores),
        cv.oof,
        oof_metrics(data.codes, cv.oof),
        holdout,
        proba,
        fit_seconds,
        cv_seconds,
        class_weight=class_weight,
    )


def calibrated(candidate: Candidate, data: Split, folds: list[tuple[np.ndarray, np.ndarray]]) -> Candidate:
    """The candidate with calibrated probabilities, when calibration helps out of fold; else as it is."""
    choice = choose_calibration(candidate.oof, data.codes, folds, candidate.metric)
    if choice.method is None:
        return candidate
    model = Calibrated(candidate.pipeline, fit_calibrator(choice.method, candidate.oof, data.codes), choice.method)
    proba, holdout = _holdout(model, data)
    return replace(
        candidate,
        pipeline=model,
        oof=choice.oof,
        cv=oof_metrics(data.codes, choice.oof),
        proba=proba,
        holdout=holdout,
        calibration=choice.method,
    )


def ensemble(candidates: list[Candidate], data: Split, folds: list[tuple[np.ndarray, np.ndarray]]) -> Candidate | None:
    """The greedy weighted ensemble of the candidates, when it beats the best of them out of fold; else None."""
    metric = candidates[0].metric
    by_name = {c.name: c for c in candidates}
    weights = greedy_ensemble({c.name: c.oof for c in candidates}, data.codes, metric)
    if len(weights) < 2:
        return None
    oof = blend({n: by_name[n].oof for n in weights}, weights)
    cv = oof_metrics(data.codes, oof)
    members = [by_name[n] for n in weights]
    model = WeightedEnsemble([m.pipeline for m in members], [weights[m.name] for m in members], list(weights))
    proba, holdout = _holdout(model, data, blend({n: by_name[n].proba for n in weights}, weights))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fold_scores = [evaluate.score(metric, data.codes[held], oof[held]) for _, held in folds]
    made = Candidate(
        ENSEMBLE,
        model,
        metric,
        fold_scores,
        oof,
        cv,
        holdout,
        proba,
        fit_seconds=sum(m.fit_seconds for m in members),
        cv_seconds=0.0,
        weights=weights,
    )
    best = max(c.cv_score for c in candidates)
    return made if made.cv_score > best + ENSEMBLE_GAIN else None


def with_interval(candidate: Candidate, data: Split, seed: int) -> Candidate:
    """The candidate with the holdout's 95 % interval of its selection metric."""
    (found,) = evaluate.holdout_metrics(
        data.y_hold, candidate.proba, candidate.pipeline.classes_, seed=seed, keys=[candidate.metric]
    )
    return replace(candidate, interval=(found.low, found.high))
