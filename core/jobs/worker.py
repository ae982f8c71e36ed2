"""A tuning worker: join a training job's Optuna study from another process or machine.

``python -m core tune-worker --dataset NAME --study ID`` reads the study the job created in the
main database (same ``SIFT_DB_URL``), rebuilds exactly the job's objective from what the study
records (dataset version, content hash, seed, holdout fraction; a fingerprint of the training
part and folds proves it), and runs trials until the study has its target number of finished
trials, its deadline passes, or the job ends. Each trial records who ran it (``worker`` =
host:pid). Workers never register a model: the job that owns the study does, once, at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from threadpoolctl import threadpool_limits

from core.config import Settings
from core.db.models import JOB_ACTIVE, Job
from core.errors import StudyNotJoinable
from core.jobs.queue import get_job
from core.processes import worker_id
from core.training.evaluate import OLD_SELECTION_METRIC
from core.training.train import prepare_tuning
from core.training.tuning import (
    WORKER,
    best_value,
    finished_trials,
    load_study,
    study_done,
    study_storage,
    tune_xgboost,
)

WAIT_SECONDS = 1.0  # how often a worker looks for the study of a job that has not created it yet


@dataclass
class WorkerResult:
    study: str
    dataset: str
    worker: str
    trials_run: int
    trials_finished: int
    target: int | None
    best_value: float | None
    stopped: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _JobEnded(Exception):
    """The job that owns the study stopped: no more trials for it."""


def _owning_job(session: Session, study_name: str) -> Job | None:
    job = session.scalar(select(Job).where(Job.study_name == study_name).order_by(Job.id.desc()).limit(1))
    return None if job is None else get_job(session=session, job_id=job.id)  # dead workers read as interrupted


def _job_status(sessions: sessionmaker[Session], study_name: str) -> tuple[int, str] | None:
    with sessions() as session:
        job = _owning_job(session, study_name)
        return None if job is None else (job.id, job.status)


def _refuse_ended_job(job: tuple[int, str] | None, study_name: str) -> None:
    if job is None or job[1] in JOB_ACTIVE:
        return
    job_id, status = job
    hint = f" Resume it first (`python -m core resume --job {job_id}`)." if status in ("interrupted", "failed") else ""
    raise StudyNotJoinable(
        f"Study {study_name!r} belongs to job {job_id}, which is {status}: it takes no more trials.{hint}"
    )


def _wait_for_study(storage: Any, sessions: sessionmaker[Session], dataset: str, study_name: str) -> Any:
    """The study; while its job is queued or still preparing the data, wait for the job to create it."""
    while True:
        study = load_study(storage, study_name)
        if study is not None:
            return study
        job = _job_status(sessions, study_name)
        if job is None:
            raise StudyNotJoinable(
                f"No tuning study {study_name!r}. A running job shows its study in "
                f"`python -m core jobs --dataset {dataset}` (study_name) and on the Train page."
            )
        _refuse_ended_job(job, study_name)
        time.sleep(WAIT_SECONDS)


def join_study(*, sessions: sessionmaker[Session], settings: Settings, dataset: str, study_name: str) -> WorkerResult:
    """Run trials of ``study_name`` (a training job's study of ``dataset``) until it needs no more.

    Refused with :class:`StudyNotJoinable` when there is no such study, it belongs to another
    dataset, it is finished (target reached, time up, its job ended), it is a retrain's (tuned on
    the feedback of its moment, which a worker cannot rebuild), or the data has changed since.
    """
    me = worker_id()
    with study_storage(settings) as storage:
        study = _wait_for_study(storage, sessions, dataset, study_name)
        recipe = study.user_attrs
        if "fingerprint" not in recipe:
            raise StudyNotJoinable(
                f"Study {study_name!r} was not made by a Sift training job (or by an older Sift): it cannot be joined."
            )
        if recipe["dataset"] != dataset:
            raise StudyNotJoinable(
                f"Study {study_name!r} tunes dataset {recipe['dataset']!r}, not {dataset!r}: "
                f"run `python -m core tune-worker --dataset {recipe['dataset']} --study {study_name}`."
            )
        if not recipe.get("shared"):
            raise StudyNotJoinable(
                f"Study {study_name!r} is a retrain's: it tunes on the labelled feedback of its moment, which a "
                "worker cannot rebuild. Only training jobs' studies take workers."
            )
        _refuse_ended_job(_job_status(sessions, study_name), study_name)
        done = study_done(study)
        if done is not None:
            raise StudyNotJoinable(f"Study {study_name!r} is finished: {done}.")

        with sessions() as session:
            tuning = prepare_tuning(
                session=session,
                dataset=dataset,
                dataset_version=recipe["dataset_version"],
                holdout_fraction=recipe["holdout_fraction"],
                seed=recipe["seed"],
            )
        if tuning.version.content_hash != recipe["content_hash"] or tuning.fingerprint() != recipe["fingerprint"]:
            raise StudyNotJoinable(
                f"The data of {dataset} v{recipe['dataset_version']} here differs from the data study {study_name!r} "
                "tunes on: point SIFT_DB_URL at the database of the job's machine."
            )

        def stop_if_job_ended() -> None:
            job = _job_status(sessions, study_name)
            if job is not None and job[1] not in JOB_ACTIVE:
                raise _JobEnded()

        stopped = "the study needs no more trials"
        with threadpool_limits(limits=1):  # as in training: one thread per fit
            try:
                tune_xgboost(
                    study,
                    tuning.data.features,
                    tuning.data.X_train,
                    tuning.data.y_train,
                    folds=tuning.folds,
                    seed=recipe["seed"],
                    metric=recipe.get("metric", OLD_SELECTION_METRIC),
                    weightings=recipe.get("weightings", [tuning.class_weight]),
                    owner=False,
                    check_stop=stop_if_job_ended,
                )
            except _JobEnded:
                stopped = "its job ended"
        finished = finished_trials(study)
        return WorkerResult(
            study=study_name,
            dataset=dataset,
            worker=me,
            trials_run=sum(t.user_attrs.get(WORKER) == me for t in finished),
            trials_finished=len(finished),
            target=recipe.get("target_trials"),
            best_value=best_value(study),
            stopped=stopped,
        )
