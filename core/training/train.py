"""Train a model for a dataset version: split, compare candidates, tune, evaluate, log, register.

One frozen stratified holdout and one set of stratified CV folds (on the rest, repeated for small
tables) for every candidate: three scikit-learn baselines with fixed settings, XGBoost tuned by
Optuna, and a greedy weighted ensemble of them. Everything is chosen on out-of-fold probabilities
under the selection metric (the analyst's, or the default for the target; see
:mod:`core.training.selection`): each candidate's class weighting (imbalanced classes), its
calibration, the ensemble's weights and the winner. The holdout is reported, with its interval,
and never decides. The winner is registered with its report; the others are logged as MLflow runs
without a model. Nothing is registered until every candidate has been evaluated, so a cancelled
or failed training leaves the registry (and the champion) as it was.
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
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from core import registry
from core.config import Settings
from core.contract import CONTRACT_FILE, build_contract
from core.datasets.leakage import leakage_warnings
from core.datasets.versions import get_version, load_frame
from core.db.models import DatasetVersion
from core.errors import ColumnError, TargetError, TrainingCancelled
from core.features import coerce_inputs, feature_columns
from core.labels import whole_classes
from core.training import evaluate
from core.training.budgets import Budget
from core.training.candidates import Candidate, Split, calibrated, ensemble, fitted, rank, with_interval
from core.training.evaluate import METRICS
from core.training.factories import BASELINES, XGBOOST, Baseline, class_weighting, estimator_params, make_xgboost
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
from core.training.selection import check_metric, class_weightings, metric_choice
from core.training.tuning import (
    finished_trials,
    first_trials,
    open_study,
    study_name_for,
    study_storage,
    tune_xgboost,
    tuning_history,
    xgboost_settings,
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
    # the selection metric and why, the winner, its calibration and ensemble weights (see train)
    selection: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {"model": self.model, "version": self.version, "aliases": self.aliases, "metrics": self.metrics}
        if self.warnings:
            out["warnings"] = self.warnings
        if self.rows:
            out["rows"] = self.rows
        if self.selection:
            out["selection"] = {k: v for k, v in self.selection.items() if k != "warnings"}
        return out


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
        self.leader: float | None = None
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
        """The leader so far (its out-of-fold score, in the metric's own units)."""
        if self.leader is None or candidate.cv_score > self.leader:
            self.leader = candidate.cv_score
            self.update.update(leader=candidate.name, leader_score=candidate.cv[candidate.metric])

    def check(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise TrainingCancelled()

    def after_trial(self, trial: Any, finished: int, best: float | None) -> None:
        # a pruned trial has no CV score: the mean of its first folds is not comparable with one
        self.send(trial=finished, best=best, value=trial.value, state=trial.state.name)
        self.check()


def _split(
    frame: pd.DataFrame,
    version: DatasetVersion,
    holdout_fraction: float,
    seed: int,
    *,
    extra_rows: pd.DataFrame | None = None,
    holdout_row_ids: list[int] | None = None,
) -> Split:
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
    return Split(frame, features, X_train, X_hold, y_train, y_hold, unlabelled=unlabelled)


@dataclass
class TuningData:
    """What the XGBoost search runs on: the split, its CV folds and the weighting of imbalanced classes
    (None when the classes are about even)."""

    version: DatasetVersion
    data: Split
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
    metric: str | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    study_name: str | None = None,
    extra_rows: pd.DataFrame | None = None,
    holdout_row_ids: list[int] | None = None,
    before_registering: Callable[[Any, dict[str, Any]], None] | None = None,
) -> TrainingResult:
    """Compare the candidates on one holdout and one set of CV folds; register the winner.

    ``budget`` bounds the XGBoost search and gives the seed (see :class:`core.training.budgets.Budget`;
    none given: the default budget, the settings' seed). ``metric`` (one of
    :data:`core.training.selection.SELECTION_METRICS`) picks the model; None: the default for the
    target. ``progress(update)`` receives a :class:`ProgressUpdate` at each
    stage and after every trial; ``should_stop()`` is polled after every trial, between folds and
    between candidates, and when it says True, :class:`TrainingCancelled` is raised before
    anything is registered. ``study_name`` names the Optuna study in the main database: the same
    name resumes it (default: a new name from the dataset, its version and a run key).

    ``extra_rows`` (the feature columns and the target, e.g. labelled feedback) are added to the
    training part only, never to the holdout; ``holdout_row_ids`` (row ids of the dataset version)
    fix the holdout instead of drawing it, so a retrained model is judged on its champion's.

    ``before_registering(model, contract)`` is handed the fitted winner and its input contract
    after everything is evaluated and before anything is logged or registered (a retrain judges
    the challenger there): if it raises, nothing is registered.
    """
    budget = Budget() if budget is None else budget
    seed = settings.seed if budget.seed is None else budget.seed
    trials, timeout = budget.trials, budget.timeout
    if metric is not None:
        check_metric(metric)
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
    version, data, folds = tuning.version, tuning.data, tuning.folds
    choice = metric_choice(data.y_train, metric)
    weightings = class_weightings(tuning.class_weight, choice.metric)
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
        "metric": choice.metric,
        "weightings": weightings,
    }

    # one thread per fit: on a few shared cores, threaded fits of small data slow everything down;
    # the study opens first, so workers can tune while the baselines run here
    with threadpool_limits(limits=1), study_storage(settings) as storage:
        deadline = None if timeout is None else time.time() + timeout - tracker.elapsed()
        study = open_study(
            storage, study_name, trials=trials, deadline=deadline, recipe=recipe, first_trials=first_trials(weightings)
        )
        candidates = []
        for baseline in BASELINES.values():
            tracker.check()
            tracker.stage(baseline_stage(baseline.label), baseline.name)
            candidate = _baseline(baseline, data, folds, choice.metric, weightings, seed, tracker)
            candidates.append(candidate)
            tracker.scored(candidate)

        tracker.check()
        tracker.stage(STAGE_TUNING, XGBOOST)
        started = time.perf_counter()
        best_here: dict[int, evaluate.CrossValidation] = {}
        tune_xgboost(
            study,
            data.features,
            data.X_train,
            data.y_train,
            folds=folds,
            seed=seed,
            metric=choice.metric,
            weightings=weightings,
            after_trial=tracker.after_trial,
            check_stop=tracker.check,
            best_here=best_here,
        )
        cv_seconds = time.perf_counter() - started
        history = tuning_history(study)
        best = study.best_trial
        done = len(finished_trials(study))

        tracker.check()
        tracker.stage(STAGE_EVALUATING)
        params, weighting = xgboost_settings(best.params)
        pipeline = make_xgboost(data.features, params, seed=seed, class_weight=weighting)
        cv = best_here.get(best.number)
        if cv is None:  # the best trial ran in a tune-worker: its out-of-fold probabilities are not here
            cv = evaluate.cross_validate(pipeline, data.X_train, data.y_train, folds, metric=choice.metric)
        xgboost = fitted(
            XGBOOST, pipeline, data, cv, metric=choice.metric, cv_seconds=cv_seconds, class_weight=weighting
        )
        xgboost.trials = done
        candidates.append(xgboost)
        tracker.scored(xgboost)
        candidates = [calibrated(c, data, folds) for c in candidates]
        mixed = ensemble(candidates, data, folds)
        if mixed is not None:
            candidates.append(mixed)
            tracker.scored(mixed)
        ranked = [with_interval(c, data, seed) for c in rank(candidates)]
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
        "cv_repeats": evaluate.cv_repeats(len(data.y_train)),
        "study_name": study_name,
        "selection_metric": choice.metric,
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
    # what the page and the card say beside the chance check (which they show on their own)
    notes = leakage_warnings(data.frame, version.roles, version.target, seed=seed)
    notes += [w for w in [below_majority(winner, report["chance"])] if w]
    warnings = [w for w in [evaluate.chance_warning(report["chance"]), *notes] if w]
    report["selection"] = choice.as_dict() | {
        "winner": winner.name,
        "calibration": winner.calibration or "none",
        "members": winner.weights or None,
        "cv_folds": len(folds),
        "cv_repeats": evaluate.cv_repeats(len(data.y_train)),
        "warnings": notes,
    }
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
        warnings=warnings,
        rows={"training": len(data.X_train), "holdout": len(data.X_hold), "without_label": data.unlabelled},
        selection=report["selection"],
    )


def _baseline(
    baseline: Baseline,
    data: Split,
    folds: list[tuple[np.ndarray, np.ndarray]],
    metric: str,
    weightings: list[str | None],
    seed: int,
    tracker: _Tracker,
) -> Candidate:
    """A baseline under the class weighting that scores best out of fold (imbalanced classes: both are tried)."""
    tried = []
    for weighting in weightings:
        started = time.perf_counter()
        pipeline = baseline.make(data.features, seed, class_weight=weighting)
        cv = evaluate.cross_validate(
            pipeline, data.X_train, data.y_train, folds, metric=metric, after_fold=lambda *_: tracker.check()
        )
        tried.append(
            (float(np.nanmean(cv.scores)), -len(tried), weighting, pipeline, cv, time.perf_counter() - started)
        )
    _, _, weighting, pipeline, cv, seconds = max(tried, key=lambda t: t[:2])
    return fitted(baseline.name, pipeline, data, cv, metric=metric, cv_seconds=seconds, class_weight=weighting)


def below_majority(winner: Candidate, chance: dict[str, Any]) -> str | None:
    """One sentence when the winner's holdout accuracy is below always answering the majority class
    and the selection metric is not accuracy (it traded accuracy for what the metric rewards)."""
    accuracy, guess = winner.holdout["accuracy"], chance["accuracy"]
    if winner.metric == "accuracy" or not accuracy < guess:
        return None
    return (
        f"Accuracy {accuracy:.3f} is below the {guess:.3f} of always answering '{chance['guess']}', because the "
        f"model was chosen on {METRICS[winner.metric]}, which {TRADES[winner.metric]}; choose accuracy as the "
        "metric if the share of rows right is what matters."
    )


# what each metric rewards, at the cost of accuracy on imbalanced classes
TRADES = {
    "f1_macro": "counts every class equally, so it gives up some majority-class rows to find more of the rare ones",
    "balanced_accuracy": "averages the recall of every class, so it gives up some majority-class rows to find "
    "more of the rare ones",
    "roc_auc": "judges the ranking of rows by probability, not the answers at the default threshold",
    "log_loss": "judges the probabilities, not the answers at the default threshold",
}


def _run_params(candidate: Candidate, training: dict[str, Any]) -> dict[str, Any]:
    """The candidate's own settings, then how it was trained (unset limits left out)."""
    params = estimator_params(candidate.pipeline) | {"estimator": candidate.name}
    params |= {k: v for k, v in training.items() if v is not None}
    params |= {"class_weight": candidate.class_weight or "none", "calibration": candidate.calibration or "none"}
    if candidate.trials is not None:
        params["trials_run"] = candidate.trials
    return params
