"""The job queue: training jobs' rows, their claims and states, and how each is read.

A job is a row of the ``jobs`` table. Its worker (``python -m core run-job ID``, started detached
by :func:`core.jobs.runner.start_job`, or the CLI's ``train`` in the foreground) writes progress
and a heartbeat there; pages and the CLI only read the row. So leaving the page, reloading the
browser or closing the session does not stop training, and any session can watch or cancel it.

At most one job per dataset is queued or running at a time, across the CLI and every browser
session. A job marked running whose process is gone (its pid is not alive, or no heartbeat for
:data:`STALE_AFTER`) is reported as ``interrupted`` when read, and can be resumed: the Optuna study
lives in the main database under the job's study name, so the resumed run continues it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import registry
from core.config import Settings
from core.datasets.versions import get_version
from core.db.models import JOB_ACTIVE, Job, utcnow
from core.errors import JobConflict, JobFailed, JobNotFound, ModelNotFound
from core.processes import HOST, process_alive
from core.training.budgets import Budget
from core.training.evaluate import OLD_SELECTION_METRIC
from core.training.selection import check_metric

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
TRAIN = "train"  # the kind of a training job (a retrain's is core.retrain.RETRAIN)
METRIC = "metric"  # the job parameter holding the chosen selection metric
STALE_AFTER = timedelta(seconds=120)  # a running job without a heartbeat for this long has lost its worker
UNCLAIMED_AFTER = timedelta(seconds=120)  # a queued job no worker was started for


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` as '12 s ago', '3 min ago', '2 h ago' or a date."""
    if moment is None:
        return "at an unknown time"
    seconds = ((now or utcnow()) - moment).total_seconds()
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
    end = job.finished_at or now or utcnow()
    return max(0.0, (end - job.started_at).total_seconds())


# ---- liveness ---------------------------------------------------------------------------------


def worker_gone(job: Job, now: datetime | None = None) -> bool:
    """Whether a queued or running job's worker is gone, so the job will never finish."""
    if job.status not in JOB_ACTIVE:
        return False
    now = now or utcnow()
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
    now = utcnow()
    return [_observe(job, now) for job in session.scalars(stmt)]


def active_jobs(*, session: Session) -> list[Job]:
    """Queued and running jobs whose worker is alive, oldest first."""
    now = utcnow()
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

    ``best`` is the best tuning score so far (the tuned XGBoost's CV score of the selection metric, a
    log loss negated); ``score`` is the out-of-fold selection metric of the model that was registered
    (the winner, which may be a baseline or an ensemble), known once the job is done; ``metric`` is that
    metric when known (chosen, or named by the result). ``aliases`` are the aliases the registered
    version holds now (the registry's, not those it got when it was registered), when the caller passed them.
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
    metric: str | None = None

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
    # the selection metric: the one the result names, else the one asked for (None: the target's default)
    metric = (result.get("selection") or {}).get("metric") or (job.parameters or {}).get(METRIC)
    return JobProgress(
        job_id=job.id,
        kind=job.kind,
        dataset=job.dataset,
        state=job.status,
        stage=progress.get("stage") or job.status,
        trial=int(progress.get("trial") or 0),
        trials=int(planned) if planned else None,
        best=finite_number(progress.get("best")),
        values=list(progress.get("values") or []),
        version=None if version is None else int(version),
        score=finite_number(metrics.get(f"cv_{metric or OLD_SELECTION_METRIC}")) if version is not None else None,
        metric=metric,
        aliases=list((aliases or {}).get(int(version), [])) if version is not None else [],
    )


def finite_number(value: Any) -> float | None:
    """A progress value as a float, None when missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


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
    now = utcnow()
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
    budget: Budget | None = None,
    metric: str | None = None,
    kind: str = TRAIN,
) -> Job:
    """Queue a training job for a dataset version (default: the latest one), to spend ``budget``
    (default: the default budget); its ``parameters`` are :meth:`Budget.as_parameters`, and the
    selection ``metric`` when one is chosen (None: the default for the target, or a retrain's champion's).

    Refuses with :class:`JobConflict` while another job for the same dataset is queued or running.
    The check and the insert happen in one write transaction, so it holds across processes.
    """
    parameters = (Budget() if budget is None else budget).as_parameters()
    if metric is not None:
        parameters[METRIC] = check_metric(metric)
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
    now = utcnow()
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
    job.created_at = utcnow()  # the unclaimed-job clock starts again
    job.progress = dict(job.progress or {}) | {"stage": "queued"}
    try:
        session.flush()
    except IntegrityError as exc:
        raise _insert_conflict(job.dataset) from exc
    return job
