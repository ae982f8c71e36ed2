"""Background training jobs: submit, run, watch, cancel and resume.

A job is a row of the ``jobs`` table. Its worker (``python -m core run-job ID``, started detached
by :func:`start_job`, or the CLI's ``train`` in the foreground) writes progress and a heartbeat
there; pages and the CLI only read the row. So leaving the page, reloading the browser or closing
the session does not stop training, and any session can watch or cancel it.

At most one job per dataset is queued or running at a time, across the CLI and every browser
session. A job marked running whose process is gone (its pid is not alive, or no heartbeat for
:data:`STALE_AFTER`) is reported as ``interrupted`` when read, and can be resumed: the Optuna study
lives in the main database under the job's study name, so the resumed run continues it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from core import registry
from core.config import REPO_ROOT, Settings
from core.db.models import JOB_ACTIVE, Job
from core.errors import JobConflict, JobFailed, JobNotFound, ModelNotFound, SiftError
from core.processes import HOST, process_alive

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
PROGRESS_WRITE_SECONDS = 0.5  # at most one progress write per this many seconds, except at a trial's end
HEARTBEAT_SECONDS = 5.0
STALE_AFTER = timedelta(seconds=120)  # a running job without a heartbeat for this long has lost its worker
UNCLAIMED_AFTER = timedelta(seconds=120)  # a queued job no worker was started for


def _now() -> datetime:
    return datetime.now(UTC)


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` as '12 s ago', '3 min ago', '2 h ago' or a date."""
    if moment is None:
        return "at an unknown time"
    seconds = ((now or _now()) - moment).total_seconds()
    if seconds < 90:
        return f"{max(0, round(seconds))} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"on {moment:%Y-%m-%d %H:%M} UTC"


def elapsed_seconds(job: Job, now: datetime | None = None) -> float | None:
    """Seconds the job has been (or was) running; None before a worker started it."""
    if job.started_at is None:
        return None
    end = job.finished_at or now or _now()
    return max(0.0, (end - job.started_at).total_seconds())


# ---- liveness ---------------------------------------------------------------------------------


def worker_gone(job: Job, now: datetime | None = None) -> bool:
    """Whether a queued or running job's worker is gone, so the job will never finish."""
    if job.status not in JOB_ACTIVE:
        return False
    now = now or _now()
    if job.pid is not None and job.host == HOST and not process_alive(job.pid):
        return True
    if job.status == "running":
        last = job.heartbeat_at or job.started_at
        return last is None or now - last > STALE_AFTER
    return job.pid is None and now - job.created_at > UNCLAIMED_AFTER


def _observe(job: Job, now: datetime | None = None) -> Job:
    """Report a job whose worker is gone as interrupted (in memory only: reading never writes)."""
    if worker_gone(job, now):
        set_committed_value(job, "status", "interrupted")
    return job


# ---- reading ----------------------------------------------------------------------------------


def get_job(*, session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(f"No job {job_id}. List a dataset's jobs with `python -m core jobs --dataset NAME`.")
    return _observe(job)


def list_jobs(*, session: Session, dataset: str | None = None, limit: int | None = None) -> list[Job]:
    """Jobs, newest first; only ``dataset``'s when given."""
    stmt = select(Job).order_by(Job.id.desc())
    if dataset is not None:
        stmt = stmt.where(Job.dataset == dataset)
    if limit:
        stmt = stmt.limit(limit)
    now = _now()
    return [_observe(job, now) for job in session.scalars(stmt)]


def active_jobs(*, session: Session) -> list[Job]:
    """Queued and running jobs whose worker is alive, oldest first."""
    now = _now()
    found = session.scalars(select(Job).where(Job.status.in_(JOB_ACTIVE)).order_by(Job.id))
    return [job for job in found if _observe(job, now).status in JOB_ACTIVE]


def active_job(*, session: Session, dataset: str) -> Job | None:
    """The dataset's queued or running job, if its worker is alive."""
    return next((job for job in active_jobs(session=session) if job.dataset == dataset), None)


def latest_job(*, session: Session, dataset: str) -> Job | None:
    """The dataset's newest job (active or finished), if any."""
    jobs = list_jobs(session=session, dataset=dataset, limit=1)
    return jobs[0] if jobs else None


def job_as_dict(job: Job) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": job.id,
        "kind": job.kind,
        "dataset": job.dataset,
        "dataset_version": job.dataset_version,
        "status": job.status,
        "parameters": job.parameters,
        "progress": job.progress,
        "result": job.result,
        "error": job.error,
        "cancel_requested": job.cancel_requested,
        "pid": job.pid,
        "study_name": job.study_name,
        "created_at": moment(job.created_at),
        "started_at": moment(job.started_at),
        "finished_at": moment(job.finished_at),
        "heartbeat_at": moment(job.heartbeat_at),
    }


def training_result(job: Job) -> dict[str, Any]:
    """A done job's ``TrainingResult.as_dict()``; a :class:`JobFailed` saying why for any other."""
    if job.status == "done" and job.result is not None:
        return job.result
    if job.status == "cancelled":
        raise JobFailed(f"Training job {job.id} was cancelled: nothing was registered.")
    if job.status == "failed":
        raise JobFailed(job.error or f"Training job {job.id} failed.")
    if job.status == "interrupted":
        raise JobFailed(
            f"Training job {job.id} was interrupted: nothing was registered. "
            f"Resume it with `python -m core resume --job {job.id}`."
        )
    raise JobFailed(f"Training job {job.id} is {job.status}: no result yet.")


@dataclass(frozen=True)
class JobProgress:
    """What a job has done, read from its row once: the live panel, the sidebar and Past jobs all show
    this, so they never disagree.

    ``best`` is the best tuning score so far (the tuned XGBoost's CV macro F1); ``score`` is the CV macro
    F1 of the model that was registered (the winner, which may be a baseline), known once the job is done.
    ``aliases`` are the aliases the registered version holds now (the registry's, not those it got when
    it was registered), when the caller passed them.
    """

    job_id: int
    kind: str
    dataset: str
    state: str  # one of STATUSES
    stage: str
    trial: int
    trials: int | None
    best: float | None
    values: list[float | None] = field(default_factory=list)
    version: int | None = None
    score: float | None = None
    aliases: list[str] = field(default_factory=list)

    @property
    def trial_text(self) -> str:
        """'3 of 12', or '3' without a planned number of trials."""
        return f"{self.trial:,} of {self.trials:,}" if self.trials else f"{self.trial:,}"

    @property
    def shown_score(self) -> float | None:
        """The winner's score once done, else the best tuning score so far."""
        return self.score if self.state == "done" and self.score is not None else self.best

    @property
    def summary(self) -> str:
        """One line for a status bar: 'queued, 0 of 12 trials', 'trial 3 of 12', 'done: v2'."""
        if self.state == "running":
            return f"trial {self.trial_text}"
        if self.state == "done" and self.version is not None:
            return f"done: v{self.version}"
        return f"{self.state}, {self.trial_text} trial{'s' if (self.trials or self.trial) != 1 else ''}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "kind": self.kind,
            "dataset": self.dataset,
            "state": self.state,
            "stage": self.stage,
            "trial": self.trial,
            "trials": self.trials,
            "best": self.best,
            "version": self.version,
            "score": self.score,
            "aliases": list(self.aliases),
        }


def job_progress(job: Job, *, aliases: Mapping[int, list[str]] | None = None) -> JobProgress:
    """The job's progress and outcome, the one reading every view of a job uses.

    ``aliases`` (version -> aliases, see :func:`current_aliases`) gives the registered version's aliases
    as they are now; without it, none are reported (a version's aliases at registration go stale after
    a promotion or a retrain).
    """
    progress, result = job.progress or {}, job.result or {}
    planned = progress.get("trials") or (job.parameters or {}).get("trials")
    version = result.get("version") if job.status == "done" else None
    metrics = result.get("metrics") or {}
    return JobProgress(
        job_id=job.id,
        kind=job.kind,
        dataset=job.dataset,
        state=job.status,
        stage=progress.get("stage") or job.status,
        trial=int(progress.get("trial") or 0),
        trials=int(planned) if planned else None,
        best=_number(progress.get("best")),
        values=list(progress.get("values") or []),
        version=None if version is None else int(version),
        score=_number(metrics.get("cv_f1_macro")) if version is not None else None,
        aliases=list((aliases or {}).get(int(version), [])) if version is not None else [],
    )


def current_aliases(settings: Settings, dataset: str) -> dict[int, list[str]]:
    """Which version holds which alias now in the registry (version -> aliases)."""
    found: dict[int, list[str]] = {}
    for alias in (registry.CHAMPION, registry.CHALLENGER):
        try:
            found.setdefault(registry.alias_version(settings, dataset, alias), []).append(alias)
        except ModelNotFound:
            continue
    return found


# ---- submitting, cancelling, resuming ---------------------------------------------------------


def training_parameters(
    *, trials: int | None = None, timeout: float | None = None, seed: int | None = None, budget: str | None = None
) -> dict[str, Any]:
    """A job's parameters: explicit trials/seconds win, a named budget fills in the rest.

    With neither, the default budget applies (see :func:`core.training.budgets.resolve_budget`).
    """
    from core.training.budgets import DEFAULT_BUDGET, resolve_budget

    if budget is None and trials is None and timeout is None:
        budget = DEFAULT_BUDGET
    trials, timeout = resolve_budget(budget, trials=trials, timeout=timeout)
    return {"trials": trials, "timeout": timeout, "seed": None if seed is None else int(seed), "budget": budget}


def _lock_dataset_jobs(session: Session, dataset: str) -> None:
    """Open the transaction with a write on the dataset's active jobs.

    On SQLite a write takes the database's write lock (even when no row matches), so two
    submissions are serialised and the second one sees the first one's job; on PostgreSQL it
    locks the active rows, and the partial unique index on ``jobs`` catches the rest.
    """
    session.execute(
        update(Job)
        .where(Job.dataset == dataset, Job.status.in_(JOB_ACTIVE))
        .values(cancel_requested=Job.cancel_requested)
        .execution_options(synchronize_session=False)
    )


def _refuse_if_active(session: Session, dataset: str, *, besides: int | None = None) -> None:
    """Raise :class:`JobConflict` if the dataset has a live job; record dead ones as interrupted."""
    now = _now()
    for other in session.scalars(select(Job).where(Job.dataset == dataset, Job.status.in_(JOB_ACTIVE))):
        if other.id == besides:
            continue
        if worker_gone(other, now):
            other.status = "interrupted"
            other.error = other.error or "The worker process stopped before the job finished."
            other.finished_at = now
            continue
        since = (
            f"started {ago(other.started_at, now)}" if other.started_at else f"submitted {ago(other.created_at, now)}"
        )
        raise JobConflict(
            f"Only one training job per dataset at a time: job {other.id} is {other.status} ({since}). "
            "Wait for it or cancel it."
        )
    session.flush()


def _insert_conflict(dataset: str) -> JobConflict:
    return JobConflict(
        f"Only one training job per dataset at a time: another job for {dataset} was submitted just now. "
        "Wait for it or cancel it."
    )


def submit_training(
    *,
    session: Session,
    dataset: str,
    dataset_version: int | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    budget: str | None = None,
    kind: str = "train",
) -> Job:
    """Queue a training job for a dataset version (default: the latest one).

    Refuses with :class:`JobConflict` while another job for the same dataset is queued or running.
    The check and the insert happen in one write transaction, so it holds across processes.
    """
    from core.datasets.versions import get_version

    parameters = training_parameters(trials=trials, timeout=timeout, seed=seed, budget=budget)
    _lock_dataset_jobs(session, dataset)
    version = get_version(session=session, name=dataset, version=dataset_version)
    _refuse_if_active(session, dataset)
    job = Job(
        kind=kind,
        dataset=dataset,
        dataset_version=version.version,
        status="queued",
        parameters=parameters,
        progress={"stage": "queued", "trial": 0, "trials": parameters["trials"], "best": None, "values": []},
        cancel_requested=False,
    )
    session.add(job)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _insert_conflict(dataset) from exc
    job.study_name = f"{dataset}-v{version.version}-job{job.id}"
    session.flush()
    return job


def cancel_job(*, session: Session, job_id: int) -> Job:
    """Cancel a job: a queued one at once; a running one stops after its current trial."""
    now = _now()
    cancelled = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(status="cancelled", cancel_requested=True, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    job = get_job(session=session, job_id=job_id)
    if cancelled:
        session.refresh(job)
        return job
    if job.status == "running":
        job.cancel_requested = True
    elif job.status == "interrupted":  # nobody will resume it now
        job.status = "cancelled"
        job.cancel_requested = True
        job.finished_at = job.finished_at or now
    else:
        raise JobConflict(f"Job {job_id} is already {job.status}: nothing to cancel.")
    session.flush()
    return job


def resume_job(*, session: Session, job_id: int) -> Job:
    """Queue an interrupted or failed job again; its worker continues the same Optuna study."""
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(cancel_requested=Job.cancel_requested)
        .execution_options(synchronize_session=False)
    )
    job = get_job(session=session, job_id=job_id)
    if job.status not in ("interrupted", "failed"):
        raise JobConflict(f"Job {job_id} is {job.status}: only an interrupted or failed job can be resumed.")
    _refuse_if_active(session, job.dataset, besides=job.id)
    job.status = "queued"
    job.cancel_requested = False
    job.error = None
    job.result = None
    job.pid = job.host = None
    job.finished_at = job.heartbeat_at = None
    job.created_at = _now()  # the unclaimed-job clock starts again
    job.progress = dict(job.progress or {}) | {"stage": "queued"}
    try:
        session.flush()
    except IntegrityError as exc:
        raise _insert_conflict(job.dataset) from exc
    return job


# ---- running ----------------------------------------------------------------------------------


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


def start_job(settings: Settings, job_id: int) -> int:
    """Run a queued job in a detached background process; returns the process id.

    The process has a session of its own (it outlives the page, the browser tab and the
    Streamlit session that started it) and writes its output to ``artifacts/jobs/job-ID.log``.
    A job whose process cannot be started is cancelled before the error is raised.
    """
    from core.db import open_database

    sessions = open_database(settings)
    with sessions() as session:
        job = get_job(session=session, job_id=job_id)
        if job.status != "queued":
            raise JobConflict(f"Job {job_id} is {job.status}, not queued: it cannot be started.")
    env = dict(os.environ)
    for name, value in _settings_env(settings).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    path = job_log_path(settings, job_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "core", "run-job", str(job_id)],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except Exception:  # a job that cannot start is cancelled, never left queued for nobody
        with sessions.begin() as session:
            cancel_job(session=session, job_id=job_id)
        raise
    # reap the child when it ends, so it never lingers as a zombie that looks alive
    threading.Thread(target=process.wait, name=f"sift-job-{job_id}-reaper", daemon=True).start()
    with sessions.begin() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.pid.is_(None))
            .values(pid=process.pid, host=HOST)
            .execution_options(synchronize_session=False)
        )
    return process.pid


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


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


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
            .values(heartbeat_at=_now(), **values)
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
                state["best"] = _number(update_["best"])
            trial = update_.get("trial")
            trial_end = trial is not None and trial > self._last_trial
            if trial_end:
                self._last_trial = trial
                state["values"] = [*state["values"], _number(update_.get("value"))]
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
                            finished_at=_now(),
                            heartbeat_at=_now(),
                        )
                        .execution_options(synchronize_session=False)
                    )
                return
            except OperationalError as exc:
                log.warning("job %s: outcome not written yet: %s", self.job_id, _summary(exc))
        log.error("job %s: could not record its outcome (%s); it will show as interrupted", self.job_id, status)


def _claim(session: Session, job_id: int) -> Job | None:
    """Mark a queued job running in this process; None if it was cancelled before it started."""
    now = _now()
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


def run_job(*, sessions: sessionmaker[Session], settings: Settings, job_id: int) -> Job:
    """Run a queued job in this process, recording its progress and outcome; returns the job.

    A ``train`` job trains a dataset version; a ``retrain`` job retrains the champion with the
    labelled feedback and decides on the challenger (:mod:`core.training.retrain`).

    A user-fixable problem (:class:`SiftError`) ends the job ``failed`` with its message, a
    cancellation ends it ``cancelled`` with nothing registered; anything else is recorded as
    ``failed`` with a one-line summary and raised again (it is a bug).
    """
    from core.errors import TrainingCancelled
    from core.training.retrain import RETRAIN, retrain
    from core.training.train import train

    with sessions.begin() as session:
        job = _claim(session, job_id)
    if job is not None:
        parameters = job.parameters or {}
        # library warnings (solver convergence, imputation, ...) belong in the job's log, not on a terminal
        with _Worker(sessions, job) as worker, library_warnings(job_log_path(settings, job.id)) as caught:
            try:
                common = {
                    "settings": settings,
                    "dataset": job.dataset,
                    "trials": parameters.get("trials"),
                    "timeout": parameters.get("timeout"),
                    "seed": parameters.get("seed"),
                    "progress": worker.progress,
                    "should_stop": worker.should_stop,
                    "study_name": job.study_name,
                }
                with sessions.begin() as session:
                    if job.kind == RETRAIN:  # the champion's data plus feedback, then the decision
                        result = retrain(session=session, **common)
                    else:
                        result = train(session=session, dataset_version=job.dataset_version, **common)
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
