"""Monitoring that runs by itself: each dataset's new windows measured, then its alerts delivered.

A **monitor run** (:func:`run`) takes each dataset with predictions in turn (or the one asked
for) and measures what is new in every kind of window (per day, per batch, per
``settings.drift_window_rows`` predictions; :func:`core.monitoring.windows.refresh` measures only
windows that are new or have gained rows, then checks the alerts). Then the alerts raised and the
digests due are delivered to their destinations (:mod:`core.monitoring.delivery`).

What starts a run:

- a scored batch: the Batch page, ``python -m core predict`` and the API call :func:`after_scoring`,
  which starts ``python -m core monitor --dataset NAME`` in a detached process, so scoring is not
  slowed and the command returns at once (``SIFT_MONITOR_AFTER_SCORING=0`` turns this off);
- a schedule: ``python -m core monitor --every 15m`` (or cron / a systemd timer running
  ``python -m core monitor``), and ``serve``, every ``SIFT_MONITOR_EVERY``;
- the Monitor page's "Measure now". Viewing the page never measures.

**Two runs at once do the work once.** A dataset is measured under a lease in ``monitor_state``
(taken by a conditional UPDATE, so one process wins on SQLite and PostgreSQL alike). A run that
finds the lease held asks for another pass (``requested_at``) and moves on; the holder measures
again before it lets go whenever a pass was asked for after it began, so predictions scored
meanwhile are never left unmeasured. A lease whose holder died expires after :data:`LEASE`.
Windows and alerts are unique in the schema besides, so even a run that outlived its lease
cannot store one twice.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.datasets.versions import get_version
from core.db.models import MonitorState, Prediction, utcnow
from core.errors import MonitorOptionError, SiftError
from core.jobs.runner import start_command
from core.monitoring import delivery, windows
from core.processes import worker_id

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)  # renewed while measuring; a dead holder's lapses
RENEW_EVERY = 30.0  # seconds between two renewals of the lease within one kind of window
PASSES = 5  # most passes one run makes over a dataset while others keep asking for more
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds of ``30s``, ``15m``, ``1h``, ``1d`` or a plain number of seconds (at least 1)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text).lower())
    seconds = float(found.group(1)) * _UNITS[found.group(2) or "s"] if found else 0.0
    if seconds < 1:
        raise MonitorOptionError(f"{text!r} is not a duration: write for example 30s, 15m, 1h or 1d.")
    return seconds


def window_kinds(settings: Settings) -> list[tuple[str, int | None]]:
    """The windows a run measures: per day, per batch, and per ``drift_window_rows`` predictions."""
    return [("day", None), ("batch", None), ("count", settings.drift_window_rows)]


@dataclass
class DatasetRun:
    """What one run did for one dataset."""

    dataset: str
    measured: int = 0
    kept: int = 0
    alerts: list[int] = field(default_factory=list)  # ids of the alerts raised
    passes: int = 0
    skipped: str = ""  # why nothing was measured here (another process holds the dataset)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dataset": self.dataset,
            "measured": self.measured,
            "kept": self.kept,
            "alerts": self.alerts,
        }
        if self.skipped:
            out["skipped"] = self.skipped
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class MonitorRun:
    trigger: str
    started_at: datetime
    finished_at: datetime | None = None
    datasets: list[DatasetRun] = field(default_factory=list)
    delivery: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> dict[str, str]:
        return {d.dataset: d.error for d in self.datasets if d.error}

    def as_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "measured": sum(d.measured for d in self.datasets),
            "alerts": sum(len(d.alerts) for d in self.datasets),
            "datasets": [d.as_dict() for d in self.datasets],
            "delivery": self.delivery,
        }


def monitored_datasets(session: Session) -> list[str]:
    """The datasets with predictions: those whose windows there are to measure."""
    return sorted(session.scalars(select(Prediction.dataset).distinct()))


# --- the lease ----------------------------------------------------------------------------------


def _holder() -> str:
    return f"{worker_id()}:{threading.get_native_id()}"  # two threads of one process are two holders


def _ensure_state(sessions: sessionmaker[Session], dataset: str) -> None:
    with sessions.begin() as session:
        if session.get(MonitorState, dataset) is not None:
            return
        try:
            with session.begin_nested():
                session.add(MonitorState(dataset=dataset))
        except IntegrityError:  # another process made it at the same moment
            pass


def _take(sessions: sessionmaker[Session], dataset: str, me: str, trigger: str) -> bool:
    now = utcnow()
    with sessions.begin() as session:
        taken = session.execute(
            update(MonitorState)
            .where(MonitorState.dataset == dataset)
            .where(or_(MonitorState.holder.is_(None), MonitorState.lease_until < now))
            .values(holder=me, lease_until=now + LEASE, last_started_at=now, last_trigger=trigger)
            .execution_options(synchronize_session=False)
        ).rowcount
    return taken == 1


def _acquire(sessions: sessionmaker[Session], dataset: str, me: str, trigger: str) -> str | None:
    """Take the dataset's lease; None when taken, else who holds it (asked to make another pass)."""
    _ensure_state(sessions, dataset)
    if _take(sessions, dataset, me, trigger):
        return None
    with sessions.begin() as session:
        session.execute(
            update(MonitorState)
            .where(MonitorState.dataset == dataset)
            .values(requested_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    if _take(sessions, dataset, me, trigger):  # the holder let go in between, before it saw the request
        return None
    with sessions() as session:
        state = session.get(MonitorState, dataset)
        return (state.holder if state else None) or "another process"


def _renew(sessions: sessionmaker[Session], dataset: str, me: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(MonitorState)
            .where(MonitorState.dataset == dataset, MonitorState.holder == me)
            .values(lease_until=utcnow() + LEASE)
            .execution_options(synchronize_session=False)
        )


def _release(
    sessions: sessionmaker[Session], dataset: str, me: str, began: datetime, done: DatasetRun, *, force: bool
) -> bool:
    """Let go of the lease, recording the run; refused (False) when a pass was asked for after
    ``began`` and ``force`` is not set: the caller then measures again."""
    stmt = update(MonitorState).where(MonitorState.dataset == dataset, MonitorState.holder == me)
    if not force:
        stmt = stmt.where(or_(MonitorState.requested_at.is_(None), MonitorState.requested_at <= began))
    with sessions.begin() as session:
        released = session.execute(
            stmt.values(
                holder=None,
                lease_until=None,
                last_finished_at=utcnow(),
                last_measured=done.measured,
                last_alerts=len(done.alerts),
                last_error=done.error,
            ).execution_options(synchronize_session=False)
        ).rowcount
    return released == 1 or force


# --- a run --------------------------------------------------------------------------------------


def _measure_dataset(
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    kinds: Iterable[tuple[str, int | None]],
    trigger: str,
    now: datetime | None,
    progress: Callable[[str], None] | None,
) -> DatasetRun:
    out = DatasetRun(dataset=dataset)
    me = _holder()
    holder = _acquire(sessions, dataset, me, trigger)
    if holder is not None:
        out.skipped = f"being measured by {holder}, which measures the new predictions too"
        return out
    kinds = list(kinds)
    renewed = [time.monotonic()]

    def renew(force: bool = False) -> None:
        """Keep the lease while measuring a long backlog (at most one write a RENEW_EVERY)."""
        if force or time.monotonic() - renewed[0] >= RENEW_EVERY:
            _renew(sessions, dataset, me)
            renewed[0] = time.monotonic()

    try:
        while True:
            began = utcnow()
            out.passes += 1
            for kind, size in kinds:
                if progress is not None:
                    progress(f"{dataset}: measuring the {kind} windows")
                done = windows.refresh(
                    sessions=sessions,
                    settings=settings,
                    dataset=dataset,
                    kind=kind,
                    size=size,
                    now=now,
                    progress=lambda *_: renew(),
                )
                out.measured += done.measured
                out.kept += done.kept
                out.alerts += [a.id for a in done.alerts]
                renew(force=True)
            if _release(sessions, dataset, me, began, out, force=out.passes >= PASSES):
                return out
    except Exception as exc:  # recorded for the Monitor page and the command's output; other datasets go on
        if not isinstance(exc, SiftError):
            log.exception("measuring the windows of %s failed", dataset)
        out.error = " ".join(str(exc).split())[:500] or type(exc).__name__
        _release(sessions, dataset, me, utcnow(), out, force=True)
        return out


def run(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str | None = None,
    trigger: str = "command",
    now: datetime | None = None,
    extra_kinds: Iterable[tuple[str, int | None]] = (),
    progress: Callable[[str], None] | None = None,
) -> MonitorRun:
    """Measure the new windows of ``dataset`` (every dataset with predictions when None), then
    deliver alerts and digests. ``extra_kinds`` adds windows to the usual ones (the Monitor page's
    count windows of another size). An unknown dataset is refused; a dataset that fails is recorded
    with its error and the others are measured."""
    out = MonitorRun(trigger=trigger, started_at=utcnow())
    with sessions() as session:
        if dataset is not None:
            get_version(session=session, name=dataset)  # an unknown dataset is refused
        names = [dataset] if dataset is not None else monitored_datasets(session)
    kinds = window_kinds(settings) + [k for k in extra_kinds if k not in window_kinds(settings)]
    # the default destination first: it receives the alerts this very run raises
    delivery.sync_default_destination(sessions=sessions, settings=settings)  # deliver() reports its warnings
    for name in names:
        out.datasets.append(_measure_dataset(sessions, settings, name, kinds, trigger, now, progress))
    if progress is not None:
        progress("delivering the alerts")
    try:
        out.delivery = delivery.deliver(sessions=sessions, settings=settings, dataset=dataset).as_dict()
    except Exception as exc:  # undelivered alerts stay queued for the next run; the windows are stored
        log.exception("delivering the alerts failed")
        out.delivery = {"error": " ".join(str(exc).split())[:500] or type(exc).__name__}
    out.finished_at = utcnow()
    return out


# --- schedules ----------------------------------------------------------------------------------


def note_schedule(sessions: sessionmaker[Session], every: float, datasets: Iterable[str]) -> None:
    """Record that a scheduler runs every ``every`` seconds (the Monitor page shows when it is next due)."""
    now = utcnow()
    for dataset in datasets:
        _ensure_state(sessions, dataset)
        with sessions.begin() as session:
            session.execute(
                update(MonitorState)
                .where(MonitorState.dataset == dataset)
                .values(schedule_every=every, schedule_seen_at=now)
                .execution_options(synchronize_session=False)
            )


def run_every(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    every: float,
    dataset: str | None = None,
    stop: threading.Event,
    report: Callable[[MonitorRun], None],
) -> None:
    """Run now, then every ``every`` seconds (from each run's start) until ``stop`` is set."""
    while not stop.is_set():
        started = utcnow()
        with sessions() as session:
            names = [dataset] if dataset is not None else monitored_datasets(session)
        note_schedule(sessions, every, names)
        report(run(sessions=sessions, settings=settings, dataset=dataset, trigger="schedule"))
        spent = (utcnow() - started).total_seconds()
        stop.wait(max(every - spent, 0.0))


def after_scoring(settings: Settings, dataset: str) -> int | None:
    """Measure ``dataset``'s new windows in the background after a scored batch; returns the
    process id (None when ``SIFT_MONITOR_AFTER_SCORING`` is off)."""
    if not settings.monitor_after_scoring:
        return None
    log_path = settings.artifacts_dir / "jobs" / "monitor.log"
    return start_command(settings, ["monitor", "--dataset", dataset, "--trigger", "scoring"], log_path).pid


# --- what the Monitor page shows ----------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """When a dataset's windows were last measured, whether they are being measured, and when next."""

    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_trigger: str
    last_measured: int
    last_error: str | None
    measuring: str | None  # the process measuring now
    schedule_every: float | None  # seconds, of a scheduler seen lately
    next_due: datetime | None  # the scheduler's next run; None: no scheduler seen lately


def status(*, session: Session, dataset: str, now: datetime | None = None) -> Status:
    """A dataset's monitoring status, read only."""
    now = now or utcnow()
    state = session.get(MonitorState, dataset)
    if state is None:
        return Status(None, None, "", 0, None, None, None, None)
    measuring = state.holder if state.holder and state.lease_until and state.lease_until > now else None
    every, seen = state.schedule_every, state.schedule_seen_at
    scheduled = every is not None and seen is not None and now - seen <= timedelta(seconds=2 * every + 60)
    return Status(
        last_started_at=state.last_started_at,
        last_finished_at=state.last_finished_at,
        last_trigger=state.last_trigger,
        last_measured=state.last_measured,
        last_error=state.last_error,
        measuring=measuring,
        schedule_every=every if scheduled else None,
        next_due=seen + timedelta(seconds=every) if scheduled and seen is not None and every is not None else None,
    )
