"""``serve``'s monitoring schedule: the windows of what the API scores are measured without anyone asking.

A light thread starts ``python -m core monitor`` in a process of its own (so measuring never
competes with scoring for this process's interpreter): every ``SIFT_MONITOR_EVERY`` for every
dataset, and :data:`SETTLE` seconds after the first of a run of scored requests for the datasets
they scored (``SIFT_MONITOR_AFTER_SCORING``), so a burst of requests is measured once. One such
process at a time; what is scored while it runs is measured by the next.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.jobs.runner import start_command
from core.monitoring import schedule

log = logging.getLogger(__name__)

SETTLE = 5.0  # seconds after a scored request before its windows are measured
TICK = 0.5


class Monitoring:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        self.settings = settings
        self.sessions = sessions
        self.every = schedule.parse_duration(settings.monitor_every)  # a bad duration stops serve at start
        self._pending: set[str] = set()
        self._pending_since = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._loop, name="sift-monitor-schedule", daemon=True)

    def scored(self, dataset: str) -> None:
        """Predictions of ``dataset`` were stored: measure its windows soon."""
        if not self.settings.monitor_after_scoring:
            return
        with self._lock:
            if not self._pending:
                self._pending_since = time.monotonic()
            self._pending.add(dataset)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _start(self, args: list[str]) -> None:
        log_path = self.settings.artifacts_dir / "jobs" / "monitor.log"
        self._process = start_command(self.settings, ["monitor", *args], log_path)

    def _loop(self) -> None:
        next_run = time.monotonic() + self.every
        while not self._stop.wait(TICK):
            try:
                if self._process is not None and self._process.poll() is None:
                    continue  # one run at a time
                now = time.monotonic()
                if now >= next_run:
                    next_run = now + self.every
                    with self.sessions() as session:
                        names = schedule.monitored_datasets(session)
                    schedule.note_schedule(self.sessions, self.every, names)
                    with self._lock:
                        self._pending.clear()  # the scheduled run measures them too
                    self._start(["--trigger", "schedule"])
                    continue
                with self._lock:
                    if not self._pending or now - self._pending_since < SETTLE:
                        continue
                    names, self._pending = sorted(self._pending), set()
                self._start((["--dataset", names[0]] if len(names) == 1 else []) + ["--trigger", "scoring"])
            except Exception:  # the schedule outlives a store that is briefly unreachable
                log.exception("the monitoring schedule could not start a run")
