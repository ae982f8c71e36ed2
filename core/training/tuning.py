"""Optuna tuning of XGBoost on the cross-validation folds of the training part.

The study lives in the main database (Optuna's RDB storage adds its own tables there), so an
interrupted training resumes its study and several processes can share one: the job that owns
the study and any number of ``tune-worker`` processes (see :mod:`core.jobs.worker`), on this
machine with SQLite or on several machines once the database is PostgreSQL.

Every process runs the same loop (:func:`tune_xgboost`): it starts a trial only while the
study's finished and running trials are fewer than the target, so the study ends with exactly the
target number of finished trials however many processes help. The owner then waits for the
others' last trials and picks the best; workers never register anything.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sqlalchemy import event, text

from core.config import Settings
from core.db import open_database
from core.db.engine import get_engine, sqlite_pragmas
from core.processes import HOST, process_alive, worker_id
from core.training.evaluate import LOWER_IS_BETTER, CrossValidation, cross_validate
from core.training.factories import XGBOOST_DEFAULTS, make_xgboost

STARTUP_TRIALS = 8  # random trials before TPE models the search space
PRUNE_AFTER_TRIALS = 5  # trials that always run every fold, to compare later ones with
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
RUNNING = optuna.trial.TrialState.RUNNING
WAIT_SECONDS = 0.5  # how often the owner looks at the study while other processes finish its last trials
# On a server database, a running trial records a heartbeat; one silent for GRACE_SECONDS belongs to a
# process that died on another machine, and is marked failed so nobody waits for it.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
OPTUNA_SCHEMA_LOCK = 0x5F1F8  # PostgreSQL advisory lock key: one process creates Optuna's tables
UNCLAIMED_TRIAL = timedelta(seconds=60)  # a running trial that never recorded who runs it
# study user attributes: what a worker needs to rebuild the owner's objective, and when to stop
TARGET_TRIALS = "target_trials"
DEADLINE = "deadline"  # seconds since the epoch
WORKER = "worker"  # trial user attribute: host:pid of the process that ran it
CLASS_WEIGHT, NO_WEIGHTING = "class_weight", "none"  # the class weighting, a searched parameter on imbalanced data


def study_name_for(dataset: str, dataset_version: int, run_key: str | None = None) -> str:
    """``<dataset>-v<version>-<run key>``; a new run key (time and random suffix) if none is given."""
    key = run_key or f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"
    return re.sub(r"[^\w.-]+", "_", f"{dataset}-v{dataset_version}-{key}")


@contextmanager
def study_storage(settings: Settings) -> Iterator[optuna.storages.RDBStorage]:
    """Optuna's storage in the main database, closed on exit.

    On SQLite, Optuna's own connections wait for a busy database (``timeout``, like ours) instead
    of failing at once, and the database is opened through core.db first so it is in WAL mode
    (a persistent setting of the file) before Optuna creates its tables. On a server database,
    running trials record heartbeats, so a trial whose process died elsewhere can be told apart.
    """
    url = settings.database_url
    sqlite = url.startswith("sqlite")
    if sqlite:
        open_database(settings)
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": settings.sqlite_busy_timeout_ms / 1000}}
        heartbeat: dict[str, int] = {}  # one machine: a trial's process is looked up by its pid
    else:
        engine_kwargs = {"pool_pre_ping": True}
        heartbeat = {"heartbeat_interval": HEARTBEAT_SECONDS, "grace_period": GRACE_SECONDS}
    with warnings.catch_warnings(), _one_creator_at_a_time(url):
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **heartbeat)
    if sqlite:
        _tune_sqlite(storage.engine, settings.sqlite_busy_timeout_ms)
    try:
        yield storage
    finally:
        storage.engine.dispose()


@contextmanager
def _one_creator_at_a_time(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock while Optuna creates its tables.

    Optuna's ``create_all`` is not safe to run at once from several processes on a fresh
    PostgreSQL database (a job and its workers starting together): two ``CREATE TYPE`` race and
    one process fails. SQLite serialises the writes itself.
    """
    if not url.startswith("postgresql"):
        yield
        return
    with get_engine(url).connect() as connection:  # the lock is released when the transaction ends
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": OPTUNA_SCHEMA_LOCK})
        yield
        connection.commit()


def _tune_sqlite(engine: Any, busy_timeout_ms: int) -> None:
    """Give Optuna's SQLite connections the pragmas of core.db's: WAL, busy timeout, NORMAL sync."""

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        sqlite_pragmas(dbapi_connection, busy_timeout_ms)

    engine.dispose()  # the connections opened to create the tables reconnect with the pragmas


def _pruner() -> optuna.pruners.BasePruner:
    # a pruner is not stored with the study: the owner and every worker make the same one
    return optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=1)


def open_study(
    storage: optuna.storages.BaseStorage,
    study_name: str,
    *,
    trials: int | None,
    deadline: float | None,
    recipe: dict[str, Any] | None = None,
    first_trials: list[dict[str, Any]] | None = None,
) -> optuna.Study:
    """Create the study, or load it to resume; record its target, deadline and ``recipe``.

    The recipe (dataset, version, seed, metric...) is what a worker needs to rebuild the objective.
    ``first_trials`` (default: the library defaults) are the first trials of a new study.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name, storage=storage, direction="maximize", load_if_exists=True, pruner=_pruner()
    )
    for key, value in ((recipe or {}) | {TARGET_TRIALS: trials, DEADLINE: deadline}).items():
        study.set_user_attr(key, value)
    if not study.get_trials(deepcopy=False):
        for params in first_trials or [dict(XGBOOST_DEFAULTS)]:
            study.enqueue_trial(params)
    return study


def load_study(storage: optuna.storages.BaseStorage, study_name: str) -> optuna.Study | None:
    """An existing study, or None."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=study_name, storage=storage, pruner=_pruner())
    except KeyError:
        return None


def weighting_choice(weighting: str | None) -> str:
    """A class weighting as the search stores it (``"none"`` for no weighting)."""
    return weighting or NO_WEIGHTING


def xgboost_settings(params: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A trial's parameters as (XGBoost's parameters, the class weighting)."""
    params = dict(params)
    weighting = params.pop(CLASS_WEIGHT, None)
    return XGBOOST_DEFAULTS | params, None if weighting in (None, NO_WEIGHTING) else weighting


def first_trials(weightings: list[str | None]) -> list[dict[str, Any]]:
    """The library defaults under each class weighting to try, the preferred one first."""
    if len(weightings) == 1:
        return [dict(XGBOOST_DEFAULTS)]
    return [XGBOOST_DEFAULTS | {CLASS_WEIGHT: weighting_choice(w)} for w in weightings]


def suggest_xgboost(trial: optuna.Trial, weightings: list[str | None] | None = None) -> dict[str, Any]:
    """A trial's parameters; with more than one class weighting to try, the weighting is one of them."""
    weighting = {}
    if weightings and len(weightings) > 1:
        weighting = {CLASS_WEIGHT: trial.suggest_categorical(CLASS_WEIGHT, [weighting_choice(w) for w in weightings])}
    return weighting | {
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


def study_done(study: optuna.Study) -> str | None:
    """Why the study takes no more trials (target reached, deadline passed), or None."""
    target, deadline = study.user_attrs.get(TARGET_TRIALS), study.user_attrs.get(DEADLINE)
    done = len(finished_trials(study))
    if target is not None and done >= target:
        return f"it has its {target} trials"
    if deadline is not None and time.time() >= deadline:
        return f"its time limit passed ({done} trials)"
    return None


def _abandoned(trial: optuna.trial.FrozenTrial) -> bool:
    """A running trial whose process is gone: it died on this machine, or never said who runs it."""
    host, _, pid = str(trial.user_attrs.get(WORKER, "")).rpartition(":")
    if not host:
        return trial.datetime_start is not None and datetime.now() - trial.datetime_start > UNCLAIMED_TRIAL
    return host == HOST and pid.isdigit() and not process_alive(int(pid))


def _live_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Finished trials and those running in a live process; running trials of dead ones are marked failed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # no heartbeat for GRACE_SECONDS (server databases only)
    live = []
    for trial in study.get_trials(deepcopy=False, states=(*FINISHED, RUNNING)):
        if trial.state == RUNNING and _abandoned(trial):
            try:
                study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                live.append(study._storage.get_trial(trial._trial_id))  # it ended meanwhile
            continue
        live.append(trial)
    return [t for t in live if t.state in (*FINISHED, RUNNING)]


@contextmanager
def _heartbeat(storage: optuna.storages.BaseStorage, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat while it runs (server databases, see :func:`study_storage`)."""
    if not isinstance(storage, optuna.storages.RDBStorage) or storage.heartbeat_interval is None:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            with suppress(Exception):  # a missed beat is retried; the grace period is several beats
                storage.record_heartbeat(trial_id)
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=beat, name=f"sift-trial-{trial_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def tune_xgboost(
    study: optuna.Study,
    features: list[dict[str, Any]],
    X: pd.DataFrame,  # noqa: N803
    y: np.ndarray,
    *,
    folds: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
    metric: str,
    weightings: list[str | None] | None = None,
    owner: bool = True,
    after_trial: Callable[[optuna.trial.FrozenTrial, int, float | None], None] | None = None,
    check_stop: Callable[[], None] | None = None,
    best_here: dict[int, CrossValidation] | None = None,
) -> int:
    """Maximise the cross-validated ``metric`` in ``study`` until its target or deadline; returns the trials run here.

    The objective is the mean over folds of :func:`core.training.evaluate.score` (higher is
    better: a log loss is negated). ``weightings`` are the class weightings to search over (one:
    not searched). ``best_here``, when given, keeps the cross-validation (with its out-of-fold
    probabilities) of the best trial run in this process, by trial number, so the owner need not
    cross-validate the winner again.

    The target (:data:`TARGET_TRIALS`) counts the study's finished trials, whoever ran them, so a
    resumed study only runs what is left; past the deadline no new trial starts, except for the
    owner of a study without a result yet. The owner waits for trials still running elsewhere, so
    its study is complete when it returns; a worker (``owner=False``) leaves as soon as nothing
    is left to start. Each fold reports the running mean, so the median pruner stops a trial that
    is behind the others after two folds. The model's seed is ``seed`` in every process; the
    sampler's differs per process, so processes do not propose the same parameters.

    ``after_trial(trial, finished, best)`` runs for every finished trial of the study, in order
    (progress; the owner sees the workers' trials too); ``check_stop`` runs between folds and
    while waiting, and may raise to stop.
    """
    started_with = study.get_trials(deepcopy=False)
    # the owner: a fresh seed per resumption, so a resumed study does not replay its first random trials
    sampler_seed = seed + len(started_with) if owner else seed + zlib.crc32(worker_id().encode())
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=STARTUP_TRIALS)
    target, deadline = study.user_attrs.get(TARGET_TRIALS), study.user_attrs.get(DEADLINE)

    def objective(trial: optuna.Trial) -> float:
        params, weighting = xgboost_settings(suggest_xgboost(trial, weightings))
        pipeline = make_xgboost(features, params, seed=seed, class_weight=weighting)

        def after_fold(fold: int, running_mean: float) -> None:
            trial.report(running_mean, step=fold)
            if check_stop is not None:
                check_stop()
            if fold < len(folds) - 1 and trial.should_prune():
                trial.set_user_attr("pruned_at_fold", fold + 1)
                raise optuna.TrialPruned()

        cv = cross_validate(pipeline, X, y, folds, metric=metric, after_fold=after_fold)
        value = float(np.nanmean(cv.scores))
        trial.set_user_attr("fold_scores", cv.scores)
        trial.set_user_attr("cv_std", float(np.nanstd(cv.scores)))
        kept = next(iter(best_here.values()), None) if best_here is not None else None
        if best_here is not None and (kept is None or value > float(np.nanmean(kept.scores))):
            best_here.clear()
            best_here[trial.number] = cv
        return value

    reported = {t.number for t in started_with if t.state in FINISHED}
    ran = 0
    while True:
        live = _live_trials(study)
        finished = [t for t in live if t.state in FINISHED]
        for trial in sorted((t for t in finished if t.number not in reported), key=lambda t: t.number):
            reported.add(trial.number)
            if after_trial is not None:
                after_trial(trial, len(reported), best_value(study))
        has_result = any(t.state == optuna.trial.TrialState.COMPLETE for t in finished)
        must_run = owner and not has_result  # a study without a completed trial has no best parameters yet
        if not must_run and target is not None and len(finished) >= target:
            break
        if not must_run and deadline is not None and time.time() >= deadline:
            break
        if not must_run and target is not None and len(live) >= target:  # the last trials run elsewhere
            if not owner:
                break
            if check_stop is not None:
                check_stop()
            time.sleep(WAIT_SECONDS)
            continue
        _run_trial(study, objective, target=None if must_run else target)
        ran += 1
    return ran


def _run_trial(study: optuna.Study, objective: Callable[[optuna.Trial], float], *, target: int | None) -> None:
    """Ask, run and tell one trial; a trial started when the target was already taken is failed unrun.

    Optuna numbers trials in the order they were created (it locks the study to do so), so a
    trial is one too many when the live trials numbered before it already make the target: two
    processes that both saw one slot left cannot both fill it.
    """
    with warnings.catch_warnings():  # Sift records the heartbeats itself (see _heartbeat), outside Study.optimize
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        trial = study.ask()
    trial.set_user_attr(WORKER, worker_id())
    with _heartbeat(study._storage, trial._trial_id):
        if target is not None and sum(t.number < trial.number for t in _live_trials(study)) >= target:
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except BaseException:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        else:
            study.tell(trial, value)


def tuning_history(study: optuna.Study) -> dict[str, Any]:
    """Every trial of the study that ran: number, state, CV score, parameters, duration and who ran it."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("surplus") or t.state == optuna.trial.TrialState.WAITING:  # never ran (queued first trials)
            continue
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
                "worker": t.user_attrs.get(WORKER),
            }
        )
    return {
        "study_name": study.study_name,
        "metric": f"cv_{study.user_attrs.get('metric', 'f1_macro')}",
        "direction": "maximize",
        "negated": study.user_attrs.get("metric") in LOWER_IS_BETTER,  # a log loss is maximised as its negative
        "best_number": study.best_trial.number if best_value(study) is not None else None,
        "trials": rows,
    }
