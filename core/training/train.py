"""Train a model for a dataset version: split, compare candidates, tune, evaluate, log, register.

One frozen stratified holdout and one set of stratified CV folds (on the rest) for every
candidate: three scikit-learn baselines with fixed settings and XGBoost tuned by Optuna. The
winner (best CV macro F1; ties broken by holdout macro F1, then accuracy, then the faster fit) is
registered with its report; the others are logged as MLflow runs without a model.
Nothing is registered until every candidate has been evaluated, so a cancelled or failed
training leaves the registry (and the champion) as it was.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from core import registry
from core.config import Settings
from core.contract import CONTRACT_FILE, build_contract
from core.datasets.versions import get_version, load_frame
from core.db.models import DatasetVersion
from core.errors import ColumnError, TargetError, TrainingCancelled
from core.features import coerce_inputs, feature_columns
from core.labels import whole_classes
from core.training import evaluate
from core.training.budgets import Budget
from core.training.factories import (
    BASELINES,
    LABELS,
    XGBOOST,
    XGBOOST_DEFAULTS,
    class_weighting,
    estimator_params,
    make_xgboost,
)
from core.training.progress import (
    STAGE_EVALUATING,
    STAGE_PREPARING,
    STAGE_REGISTERING,
    STAGE_TUNING,
    Progress,
    ProgressUpdate,
    baseline_stage,
)
from core.training.report import report_documents
from core.training.tuning import (
    finished_trials,
    open_study,
    study_name_for,
    study_storage,
    tune_xgboost,
    tuning_history,
)


@dataclass
class TrainingResult:
    model: str
    version: int
    aliases: list[str]
    metrics: dict[str, float]
    dataset_version: int
    trials: int
    seconds: float
    estimator: str = XGBOOST
    study_name: str = ""
    run_id: str = ""
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # {"training", "holdout", "without_label"}: rows fitted on, rows evaluated on, rows left out (no label)
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {"model": self.model, "version": self.version, "aliases": self.aliases, "metrics": self.metrics}
        if self.warnings:
            out["warnings"] = self.warnings
        if self.rows:
            out["rows"] = self.rows
        return out


@dataclass
class Candidate:
    """One candidate, cross-validated and then fitted on the whole training part."""

    name: str
    pipeline: Pipeline
    cv_scores: list[float]
    holdout: dict[str, float]
    proba: np.ndarray
    fit_seconds: float
    cv_seconds: float
    trials: int | None = None
    run_id: str | None = None

    @property
    def cv_mean(self) -> float:
        return float(np.mean(self.cv_scores))

    @property
    def cv_std(self) -> float:
        return float(np.std(self.cv_scores))

    def metrics(self) -> dict[str, float]:
        return self.holdout | {
            "cv_f1_macro": self.cv_mean,
            "cv_f1_macro_std": self.cv_std,
            "fit_seconds": self.fit_seconds,
            "cv_seconds": self.cv_seconds,
        }

    def row(self, *, winner: bool) -> dict[str, Any]:
        def clean(value: float) -> float | None:
            return round(float(value), 6) if value == value else None

        return {
            "name": self.name,
            "label": LABELS[self.name],
            "cv_f1_macro": clean(self.cv_mean),
            "cv_f1_macro_std": clean(self.cv_std),
            "cv_folds": len(self.cv_scores),
            **{k: clean(self.holdout[k]) for k in evaluate.METRICS},
            "fit_seconds": round(self.fit_seconds, 3),
            "trials": self.trials,
            "winner": winner,
            "run_id": self.run_id,
        }


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Best first: CV macro F1 (to 4 decimals), then holdout macro F1, accuracy, faster fit."""
    return sorted(
        candidates,
        key=lambda c: (-round(c.cv_mean, 4), -c.holdout["f1_macro"], -c.holdout["accuracy"], c.fit_seconds),
    )


def run_tags(version: DatasetVersion, *, estimator: str, seed: int, study_name: str, winner: bool) -> dict[str, str]:
    """The tags every training run carries (winner and other candidates alike)."""
    return {
        **registry.dataset_tags(version.name, version.version),
        "sift.content_hash": version.content_hash,
        "sift.target": version.target,
        "sift.code_version": registry.code_version(),
        "sift.seed": str(seed),
        "sift.estimator": estimator,
        "sift.study": study_name,
        "sift.winner": str(winner).lower(),
    }


class _Tracker:
    """Sends :class:`ProgressUpdate` s and polls ``should_stop``."""

    def __init__(
        self,
        progress: Progress | None,
        should_stop: Callable[[], bool] | None,
        *,
        trials: int | None,
        timeout: float | None,
    ):
        self.started = time.perf_counter()
        self.progress = progress
        self.should_stop = should_stop
        self.update = ProgressUpdate(
            stage=STAGE_PREPARING,
            candidate="",
            trial=0,
            trials=trials or 0,
            best=None,
            value=None,
            state="",
            leader=None,
            leader_score=None,
            elapsed=0.0,
            timeout=timeout,
        )

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def send(self, **changes: Any) -> None:
        self.update.update(changes, elapsed=round(self.elapsed(), 3))  # type: ignore[typeddict-item]
        if self.progress is not None:
            self.progress(ProgressUpdate(**self.update))

    def stage(self, stage: str, candidate: str = "") -> None:
        self.send(stage=stage, candidate=candidate, value=None, state="")

    def scored(self, candidate: Candidate) -> None:
        if self.update["leader_score"] is None or candidate.cv_mean > self.update["leader_score"]:
            self.update.update(leader=candidate.name, leader_score=candidate.cv_mean)

    def check(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise TrainingCancelled()

    def after_trial(self, trial: Any, finished: int, best: float | None) -> None:
        # a pruned trial has no CV score: the mean of its first folds is not comparable with one
        self.send(trial=finished, best=best, value=trial.value, state=trial.state.name)
        self.check()


def _fit_on_training(
    name: str,
    pipeline: Pipeline,
    data: _Split,
    cv_scores: list[float],
    cv_seconds: float,
) -> Candidate:
    started = time.perf_counter()
    pipeline.fit(data.X_train, data.y_train)
    fit_seconds = time.perf_counter() - started
    proba = pipeline.predict_proba(data.X_hold)
    holdout = evaluate.classification_metrics(data.y_hold, proba, pipeline.classes_)
    return Candidate(name, pipeline, cv_scores, holdout, proba, fit_seconds, cv_seconds)


@dataclass
class _Split:
    frame: pd.DataFrame
    features: list[dict[str, Any]]
    X_train: pd.DataFrame
    X_hold: pd.DataFrame
    y_train: np.ndarray
    y_hold: np.ndarray
    unlabelled: int = 0  # rows of the dataset version without a label: left out


def _split(
    frame: pd.DataFrame,
    version: DatasetVersion,
    holdout_fraction: float,
    seed: int,
    *,
    extra_rows: pd.DataFrame | None = None,
    holdout_row_ids: list[int] | None = None,
) -> _Split:
    labelled = frame[version.target].notna()
    unlabelled = int((~labelled).sum())
    frame = frame[labelled]
    if unlabelled:  # the gaps made whole-number classes read as decimals (1.0 for 1): give them their type back
        frame = frame.assign(**{version.target: whole_classes(frame[version.target])})
    features = feature_columns(version.columns)
    if not features:
        raise ColumnError(
            f"Dataset {version.label} has no feature columns: every column is the target or ignored. "
            "Give at least one column a feature role and ingest it again."
        )
    names = [f["name"] for f in features]
    X = coerce_inputs(frame[names], features)  # noqa: N806
    y = frame[version.target].to_numpy()
    counts = pd.Series(y).value_counts()
    if len(counts) < 2 or counts.min() < 3:
        raise TargetError(
            f"Target {version.target!r} needs at least two classes with 3 rows or more each to hold some "
            f"out and cross-validate the rest (the smallest has {int(counts.min())}). Add rows or merge classes."
        )
    if holdout_row_ids is None:
        X_train, X_hold, y_train, y_hold = train_test_split(  # noqa: N806
            X, y, test_size=holdout_fraction, stratify=y, random_state=seed
        )
    else:  # a given holdout (a retrain is judged on its champion's), in the given order
        held = [i for i in dict.fromkeys(int(i) for i in holdout_row_ids) if i in X.index]
        if not held:
            raise TargetError(f"None of the given holdout rows is a labelled row of {version.label}.")
        X_hold, X_train = X.loc[held], X.drop(index=held)  # noqa: N806
        target = frame[version.target]
        y_hold, y_train = target.loc[held].to_numpy(), target.loc[X_train.index].to_numpy()
    if extra_rows is not None and len(extra_rows):
        # extra labelled rows (feedback) join the training part only, under ids after the dataset's
        extra = extra_rows[extra_rows[version.target].notna()]
        start = int(frame.index.max()) + 1 if len(frame) else 0
        extra = extra.set_axis(pd.RangeIndex(start, start + len(extra)))
        X_train = pd.concat([X_train, coerce_inputs(extra[names], features)])  # noqa: N806
        y_train = np.concatenate([y_train, extra[version.target].to_numpy().astype(y.dtype)])
        frame = pd.concat([frame, extra])
    return _Split(frame, features, X_train, X_hold, y_train, y_hold, unlabelled=unlabelled)


@dataclass
class TuningData:
    """What the XGBoost search runs on: the split, its CV folds and the class weighting."""

    version: DatasetVersion
    data: _Split
    folds: list[tuple[np.ndarray, np.ndarray]]
    class_weight: str | None

    def fingerprint(self) -> str:
        """A hash of the training part (rows, values, labels) and the folds: equal only for the same objective."""
        digest = hashlib.sha256(repr(list(self.data.X_train.columns)).encode())
        digest.update(pd.util.hash_pandas_object(self.data.X_train, index=True).to_numpy().tobytes())
        digest.update(pd.util.hash_pandas_object(pd.Series(self.data.y_train), index=False).to_numpy().tobytes())
        for _, validation in self.folds:
            digest.update(np.asarray(validation, dtype=np.int64).tobytes())
        return digest.hexdigest()[:32]


def prepare_tuning(
    *,
    session: Session,
    dataset: str,
    dataset_version: int | None,
    holdout_fraction: float,
    seed: int,
    extra_rows: pd.DataFrame | None = None,
    holdout_row_ids: list[int] | None = None,
) -> TuningData:
    """Load a dataset version, draw (or take) the holdout, and make the CV folds of the rest.

    Deterministic for the same version, fraction and seed: a ``tune-worker`` rebuilds the owner's
    objective with it.
    """
    version = get_version(session=session, name=dataset, version=dataset_version)
    data = _split(
        load_frame(session=session, version=version),
        version,
        holdout_fraction,
        seed,
        extra_rows=extra_rows,
        holdout_row_ids=holdout_row_ids,
    )
    return TuningData(version, data, evaluate.cv_folds(data.y_train, seed), class_weighting(data.y_train))


def train(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    dataset_version: int | None = None,
    budget: Budget | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    study_name: str | None = None,
    extra_rows: pd.DataFrame | None = None,
    holdout_row_ids: list[int] | None = None,
    before_registering: Callable[[Pipeline, dict[str, Any]], None] | None = None,
) -> TrainingResult:
    """Compare the candidates on one holdout and one set of CV folds; register the winner.

    ``budget`` bounds the XGBoost search and gives the seed (see :class:`core.training.budgets.Budget`;
    none given: the default budget, the settings' seed). ``progress(update)`` receives a :class:`ProgressUpdate` at each
    stage and after every trial; ``should_stop()`` is polled after every trial, between folds and
    between candidates, and when it says True, :class:`TrainingCancelled` is raised before
    anything is registered. ``study_name`` names the Optuna study in the main database: the same
    name resumes it (default: a new name from the dataset, its version and a run key).

    ``extra_rows`` (the feature columns and the target, e.g. labelled feedback) are added to the
    training part only, never to the holdout; ``holdout_row_ids`` (row ids of the dataset version)
    fix the holdout instead of drawing it, so a retrained model is judged on its champion's.

    ``before_registering(pipeline, contract)`` is handed the fitted winner and its input contract
    after everything is evaluated and before anything is logged or registered (a retrain judges
    the challenger there): if it raises, nothing is registered.
    """
    budget = Budget() if budget is None else budget
    seed = settings.seed if budget.seed is None else budget.seed
    trials, timeout = budget.trials, budget.timeout
    tracker = _Tracker(progress, should_stop, trials=trials, timeout=timeout)
    tracker.stage(STAGE_PREPARING)
    tuning = prepare_tuning(
        session=session,
        dataset=dataset,
        dataset_version=dataset_version,
        holdout_fraction=settings.holdout_fraction,
        seed=seed,
        extra_rows=extra_rows,
        holdout_row_ids=holdout_row_ids,
    )
    version, data, folds, class_weight = tuning.version, tuning.data, tuning.folds, tuning.class_weight
    study_name = study_name or study_name_for(dataset, version.version)
    # what a tune-worker needs to join the study and rebuild this very objective (see core.jobs.worker);
    # a retrain's extra rows are the feedback of the moment, so its study is not shared
    recipe = {
        "dataset": version.name,
        "dataset_version": version.version,
        "content_hash": version.content_hash,
        "seed": seed,
        "holdout_fraction": settings.holdout_fraction,
        "shared": extra_rows is None and holdout_row_ids is None,
        "fingerprint": tuning.fingerprint(),
    }

    # one thread per fit: on a few shared cores, threaded fits of small data slow everything down;
    # the study opens first, so workers can tune while the baselines run here
    with threadpool_limits(limits=1), study_storage(settings) as storage:
        deadline = None if timeout is None else time.time() + timeout - tracker.elapsed()
        study = open_study(storage, study_name, trials=trials, deadline=deadline, recipe=recipe)
        candidates = []
        for baseline in BASELINES.values():
            tracker.check()
            tracker.stage(baseline_stage(baseline.label), baseline.name)
            pipeline = baseline.make(data.features, seed, class_weight=class_weight)
            started = time.perf_counter()
            scores = evaluate.cross_validate(
                pipeline, data.X_train, data.y_train, folds, after_fold=lambda *_: tracker.check()
            )
            candidate = _fit_on_training(baseline.name, pipeline, data, scores, time.perf_counter() - started)
            candidates.append(candidate)
            tracker.scored(candidate)

        tracker.check()
        tracker.stage(STAGE_TUNING, XGBOOST)
        started = time.perf_counter()
        tune_xgboost(
            study,
            data.features,
            data.X_train,
            data.y_train,
            folds=folds,
            seed=seed,
            class_weight=class_weight,
            after_trial=tracker.after_trial,
            check_stop=tracker.check,
        )
        cv_seconds = time.perf_counter() - started
        history = tuning_history(study)
        best = study.best_trial
        done = len(finished_trials(study))

        tracker.check()
        tracker.stage(STAGE_EVALUATING)
        pipeline = make_xgboost(data.features, XGBOOST_DEFAULTS | best.params, seed=seed, class_weight=class_weight)
        xgboost = _fit_on_training(XGBOOST, pipeline, data, best.user_attrs["fold_scores"], cv_seconds)
        xgboost.trials = done
        candidates.append(xgboost)
        tracker.scored(xgboost)
        ranked = rank(candidates)
        winner = ranked[0]
        classes = winner.pipeline.classes_
        report: dict[str, Any] = {
            "confusion_matrix": evaluate.confusion(data.y_hold, winner.proba, classes),
            "roc_curve": evaluate.roc_curves(data.y_hold, winner.proba, classes),
            "pr_curve": evaluate.pr_curves(data.y_hold, winner.proba, classes),
            "calibration": evaluate.calibration(data.y_hold, winner.proba, classes),
            "permutation_importance": evaluate.importances(winner.pipeline, data.X_hold, data.y_hold, seed),
            "tuning": history,
            "chance": evaluate.against_chance(data.y_train, data.y_hold, winner.proba, classes, seed),
        }

    names = [f["name"] for f in data.features]
    contract = build_contract(data.frame.loc[data.X_train.index, names], data.features, list(classes))
    if before_registering is not None:
        before_registering(winner.pipeline, contract)
    tracker.check()  # the last moment to cancel: from here on, runs are logged and the winner registered
    tracker.stage(STAGE_REGISTERING)
    settings_params = {
        "seed": seed,
        "trials": trials,
        "timeout": timeout,
        "holdout_fraction": settings.holdout_fraction,
        "cv_folds": len(folds),
        "study_name": study_name,
        "class_weight": class_weight or "none",
    }
    if extra_rows is not None:
        settings_params["extra_rows"] = len(extra_rows)
    if holdout_row_ids is not None:
        settings_params["holdout"] = "given"

    def logged(candidate: Candidate) -> dict[str, Any]:
        return {
            "params": _run_params(candidate, settings_params),
            "metrics": candidate.metrics(),
            "tags": run_tags(
                version, estimator=candidate.name, seed=seed, study_name=study_name, winner=candidate is winner
            ),
        }

    for candidate in ranked[1:]:
        candidate.run_id = registry.log_run(settings, name=dataset, run_name=candidate.name, **logged(candidate))
    report["leaderboard"] = [c.row(winner=c is winner) for c in ranked]
    documents = report_documents(report) | {
        CONTRACT_FILE: contract,
        "split.json": {"holdout_row_ids": [int(i) for i in data.X_hold.index], "seed": seed},
    }
    info = registry.register_model(
        settings,
        name=dataset,
        model=winner.pipeline,
        input_example=data.X_train.head(5),
        documents=documents,
        run_name=winner.name,
        **logged(winner),
    )
    return TrainingResult(
        model=dataset,
        version=info.version,
        aliases=info.aliases,
        metrics={k: round(v, 4) for k, v in winner.metrics().items()},
        dataset_version=version.version,
        trials=done,
        seconds=tracker.elapsed(),
        estimator=winner.name,
        study_name=study_name,
        run_id=info.run_id,
        leaderboard=report["leaderboard"],
        warnings=[w for w in [evaluate.chance_warning(report["chance"])] if w],
        rows={"training": len(data.X_train), "holdout": len(data.X_hold), "without_label": data.unlabelled},
    )


def _run_params(candidate: Candidate, training: dict[str, Any]) -> dict[str, Any]:
    """The candidate's own settings, then how it was trained (unset limits left out)."""
    params = estimator_params(candidate.pipeline) | {"estimator": candidate.name}
    params |= {k: v for k, v in training.items() if v is not None}
    if candidate.trials is not None:
        params["trials_run"] = candidate.trials
    return params
