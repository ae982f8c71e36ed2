"""The job runner: a queued job's worker, in a detached process or in the foreground.

:func:`start_job` launches ``python -m core run-job ID`` in a process of its own; :func:`run_job`
claims the job, runs its workload with a heartbeat and throttled progress writes, and records the
outcome. The runner never imports the work it runs: its caller hands it ``workloads`` (job kind
-> :class:`Workload`, see :mod:`core.workloads`), so training and retraining stay above it.

A page's "queue a job and run it in the background" is one call:
:func:`start_training`, :func:`resume_in_background` (and :func:`core.retrain_actions.start_retrain`),
each through :func:`queue_and_start`, which commits before it starts the job.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.config import REPO_ROOT, Settings
from core.db import open_database
from core.db.models import Job, utcnow
from core.errors import JobConflict, SiftError, TrainingCancelled
from core.jobs.queue import METRIC, cancel_job, finite_number, get_job, resume_job, submit_training
from core.processes import HOST
from core.training.budgets import Budget

log = logging.getLogger(__name__)

PROGRESS_WRITE_SECONDS = 0.5  # at most one progress write per this many seconds, except at a trial's end
HEARTBEAT_SECONDS = 5.0


class Workload(Protocol):
    """What a job of one kind runs, in the caller's transaction: it reports through ``progress``,
    polls ``should_stop`` (raising :class:`TrainingCancelled` when told to), and returns a result
    whose ``as_dict()`` is the job's ``result``."""

    def __call__(
        self,
        *,
        session: Session,
        settings: Settings,
        dataset: str,
        dataset_version: int,
        budget: Budget,
        metric: str | None,
        progress: Callable[[Any], None],
        should_stop: Callable[[], bool],
        study_name: str | None,
    ) -> Any: ...


def _settings_env(settings: Settings) -> dict[str, str | None]:
    """Environment variables that give a child process these very settings (None: unset it)."""
    env: dict[str, str | None] = {}
    for name, value in settings.model_dump().items():
        text = None if value is None else json.dumps(value) if isinstance(value, list | dict) else str(value)
        env[f"SIFT_{name.upper()}"] = text
    env["MLFLOW_TRACKING_URI"] = env["SIFT_MLFLOW_TRACKING_URI"]
    return env


def job_log_path(settings: Settings, job_id: int) -> Path:
    return settings.artifacts_dir / "jobs" / f"job-{job_id}.log"


def start_command(settings: Settings, args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Run ``python -m core ARGS`` with these settings in a detached process of its own (it outlives
    the page or command that started it), its output appended to ``log_path``; returns the process."""
    env = dict(os.environ)
    for name, value in _settings_env(settings).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "core", *args],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    # reap the child when it ends, so it never lingers as a zombie that looks alive
    threading.Thread(target=process.wait, name=f"sift-{args[0]}-reaper", daemon=True).start()
    return process


def start_job(settings: Settings, job_id: int) -> int:
    """Run a queued job in a detached background process; returns the process id.

    The process has a session of its own (it outlives the page, the browser tab and the
    Streamlit session that started it) and writes its output to ``artifacts/jobs/job-ID.log``.
    A job whose process cannot be started is cancelled before the error is raised.
    """
    sessions = open_database(settings)
    with sessions() as session:
        job = get_job(session=session, job_id=job_id)
        if job.status != "queued":
            raise JobConflict(f"Job {job_id} is {job.status}, not queued: it cannot be started.")
    try:
        process = start_command(settings, ["run-job", str(job_id)], job_log_path(settings, job_id))
    except Exception:  # a job that cannot start is cancelled, never left queued for nobody
        with sessions.begin() as session:
            cancel_job(session=session, job_id=job_id)
        raise
    with sessions.begin() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.pid.is_(None))
            .values(pid=process.pid, host=HOST)
            .execution_options(synchronize_session=False)
        )
    return process.pid


def queue_and_start(*, sessions: sessionmaker[Session], settings: Settings, submit: Callable[[Session], Job]) -> Job:
    """Queue a job with ``submit`` in a transaction of its own, then, once committed, start it in the background.

    Returns the job as started. A job that cannot start is cancelled and the error raised
    (:func:`start_job`); what ``submit`` wrote stays committed.
    """
    with sessions.begin() as session:
        job_id = submit(session).id
    start_job(settings, job_id)
    with sessions() as session:
        return get_job(session=session, job_id=job_id)


def start_training(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    dataset_version: int | None = None,
    budget: Budget | None = None,
    metric: str | None = None,
) -> Job:
    """Train a dataset version in the background (the Train page's Start training); returns the started job."""
    return queue_and_start(
        sessions=sessions,
        settings=settings,
        submit=lambda session: submit_training(
            session=session, dataset=dataset, dataset_version=dataset_version, budget=budget, metric=metric
        ),
    )


def resume_in_background(*, sessions: sessionmaker[Session], settings: Settings, job_id: int) -> Job:
    """Resume an interrupted or failed job in the background, continuing its study; returns the started job."""
    return queue_and_start(
        sessions=sessions, settings=settings, submit=lambda session: resume_job(session=session, job_id=job_id)
    )


class WarningLog:
    """Python warnings written to a log file instead of the terminal, counted."""

    def __init__(self, path: Path):
        self.path = path
        self.count = 0
        self._lock = threading.Lock()

    def show(self, message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        with self._lock:
            self.count += 1
            with self.path.open("a", encoding="utf-8") as out:
                out.write(text)

    def summary(self) -> dict[str, Any]:
        """``{"library_warnings": {"count", "log"}}`` when there were any, else nothing."""
        return {"library_warnings": {"count": self.count, "log": str(self.path)}} if self.count else {}


@contextmanager
def library_warnings(path: Path) -> Iterator[WarningLog]:
    """Send the warnings libraries raise while the block runs (scikit-learn's ConvergenceWarning,
    imputation notices, ...) to ``path``, from every thread, instead of the terminal.

    The warning filters stay as they are (each place warns once unless told otherwise); only where
    the warnings are shown changes, and it is restored afterwards.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    caught = WarningLog(path)
    with warnings.catch_warnings():
        warnings.showwarning = caught.show
        yield caught


def _summary(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text[:500]


class _Worker:
    """What the worker writes while a job runs: progress (throttled), heartbeat, the outcome.

    Every write is guarded by the attempt it claimed, so a worker that lost its claim (the job
    was found interrupted and resumed elsewhere) changes nothing.
    """

    def __init__(self, sessions: sessionmaker[Session], job: Job):
        self.sessions = sessions
        self.job_id = job.id
        self.attempt = job.attempt
        previous = dict(job.progress or {})
        # a resumed job continues its study: its trial count and scores go on from there
        self._last_trial = int(previous.get("trial") or 0)
        self.state: dict[str, Any] = {
            "stage": "starting",
            "trial": self._last_trial,
            "trials": job.parameters.get("trials"),
            "best": previous.get("best"),
            "values": list(previous.get("values") or []),
        }
        self._last_write = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name=f"sift-job-{job.id}-heartbeat", daemon=True)

    def _write(self, **values: Any) -> bool:
        stmt = (
            update(Job)
            .where(Job.id == self.job_id, Job.attempt == self.attempt, Job.status == "running")
            .values(heartbeat_at=utcnow(), **values)
            .execution_options(synchronize_session=False)
        )
        try:
            with self.sessions.begin() as session:
                return session.execute(stmt).rowcount == 1
        except OperationalError as exc:  # the database stayed locked: the next write carries it all
            log.warning("job %s: progress not written: %s", self.job_id, _summary(exc))
            return False

    def progress(self, update_: dict[str, Any]) -> None:
        """Keep train()'s update; write it at a trial's end, else at most every PROGRESS_WRITE_SECONDS."""
        with self._lock:
            state = dict(self.state)
            for key in ("stage", "trial", "trials"):
                if update_.get(key) is not None:
                    state[key] = update_[key]
            if "best" in update_:
                state["best"] = finite_number(update_["best"])
            trial = update_.get("trial")
            trial_end = trial is not None and trial > self._last_trial
            if trial_end:
                self._last_trial = trial
                state["values"] = [*state["values"], finite_number(update_.get("value"))]
            self.state = state
            now = time.monotonic()
            if not trial_end and now - self._last_write < PROGRESS_WRITE_SECONDS:
                return
            self._last_write = now
        self._write(progress=state)

    def should_stop(self) -> bool:
        with self.sessions() as session:
            row = session.execute(
                select(Job.cancel_requested, Job.status, Job.attempt).where(Job.id == self.job_id)
            ).one_or_none()
        return row is None or bool(row.cancel_requested) or row.status != "running" or row.attempt != self.attempt

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self._write()

    def __enter__(self) -> _Worker:
        self._beat.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._beat.join(timeout=HEARTBEAT_SECONDS)

    def finish(self, status: str, *, error: str | None = None, result: dict[str, Any] | None = None) -> None:
        with self._lock:
            state = dict(self.state) | {"stage": status}
        for _ in range(3):
            try:
                with self.sessions.begin() as session:
                    session.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.attempt == self.attempt, Job.status == "running")
                        .values(
                            status=status,
                            error=error,
                            result=result,
                            progress=state,
                            finished_at=utcnow(),
                            heartbeat_at=utcnow(),
                        )
                        .execution_options(synchronize_session=False)
                    )
                return
            except OperationalError as exc:
                log.warning("job %s: outcome not written yet: %s", self.job_id, _summary(exc))
        log.error("job %s: could not record its outcome (%s); it will show as interrupted", self.job_id, status)


def _claim(session: Session, job_id: int) -> Job | None:
    """Mark a queued job running in this process; None if it was cancelled before it started."""
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(
            status="running",
            pid=os.getpid(),
            host=HOST,
            attempt=Job.attempt + 1,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    job = get_job(session=session, job_id=job_id)
    if claimed:
        session.refresh(job)
        return job
    if job.status == "cancelled":
        return None
    raise JobConflict(f"Job {job_id} is {job.status}, not queued: it cannot be run again.")


def run_job(
    *, sessions: sessionmaker[Session], settings: Settings, job_id: int, workloads: Mapping[str, Workload]
) -> Job:
    """Run a queued job in this process, recording its progress and outcome; returns the job.

    ``workloads[job.kind]`` does the work (:data:`core.workloads.WORKLOADS`: a ``train`` job trains a
    dataset version; a ``retrain`` job retrains the champion with the labelled feedback and decides
    on the challenger, see :mod:`core.retrain`).

    A user-fixable problem (:class:`SiftError`) ends the job ``failed`` with its message, a
    cancellation ends it ``cancelled`` with nothing registered; anything else is recorded as
    ``failed`` with a one-line summary and raised again (it is a bug).
    """
    with sessions.begin() as session:
        job = _claim(session, job_id)
    if job is not None:
        # library warnings (solver convergence, imputation, ...) belong in the job's log, not on a terminal
        with _Worker(sessions, job) as worker, library_warnings(job_log_path(settings, job.id)) as caught:
            try:
                workload = workloads[job.kind]
                with sessions.begin() as session:
                    result = workload(
                        session=session,
                        settings=settings,
                        dataset=job.dataset,
                        dataset_version=job.dataset_version,
                        budget=Budget.from_parameters(job.parameters),
                        metric=job.parameters.get(METRIC),
                        progress=worker.progress,
                        should_stop=worker.should_stop,
                        study_name=job.study_name,
                    )
            except TrainingCancelled:
                worker.finish("cancelled")
            except SiftError as exc:
                worker.finish("failed", error=str(exc))
            except (KeyboardInterrupt, SystemExit) as exc:
                worker.finish("interrupted", error=f"The worker was stopped ({type(exc).__name__}).")
                raise
            except BaseException as exc:
                worker.finish("failed", error=_summary(exc))
                raise
            else:
                worker.finish("done", result=result.as_dict() | caught.summary())
    with sessions() as session:
        return get_job(session=session, job_id=job_id)
