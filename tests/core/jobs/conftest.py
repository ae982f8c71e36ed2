"""Helpers for the job tests: submit a job with a budget, read it back, wait for it, keep it from starting."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from sqlalchemy import func, select

from core.db.models import Job
from core.jobs import queue, runner
from core.training.budgets import Budget

DEADLINE = 180  # seconds a background job may take on two shared cores


def submit_job(
    sessions, dataset: str = "rice", *, dataset_version: int | None = None, budget: str | None = None, **limits
) -> int:
    """Queue a training job; ``budget`` names a preset, ``limits`` are the Budget's trials, timeout and seed."""
    with sessions.begin() as session:
        return queue.submit_training(
            session=session, dataset=dataset, dataset_version=dataset_version, budget=Budget(budget, **limits)
        ).id


def read_job(sessions, job_id: int) -> Job:
    with sessions() as session:
        return queue.get_job(session=session, job_id=job_id)


def job_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Job))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def block_job_logs(settings, job_id: int = 1) -> None:
    """Put a file where the jobs' log folder should be (the logs of jobs already ended are removed):
    no job can be started in the background."""
    folder = runner.job_log_path(settings, job_id).parent
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the job logs' folder should be")


def wait_until_finished(sessions, job_id: int, deadline: float = DEADLINE) -> Job:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        job = read_job(sessions, job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(1)
    raise AssertionError(f"job {job_id} still {job.status} after {deadline} s: {job.progress}")
