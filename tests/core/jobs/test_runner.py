"""The job runner on a real home: run in process or in the background, cancel, fail, and the CLI's train.

Real SQLite, real training, real processes: nothing of ours is mocked.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import update

from core import registry
from core.db.models import Job
from core.errors import JobConflict
from core.jobs import runner
from core.workloads import WORKLOADS
from tests.core.jobs.conftest import read_job, submit_job, wait_until_finished


def test_run_job_in_process_records_progress_and_result(trained_settings, trained_sessions) -> None:
    job_id = submit_job(trained_sessions, trials=2, seed=3)
    job = runner.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job_id, workloads=WORKLOADS)
    assert job.status == "done", job.error
    assert job.result["model"] == "rice" and job.result["version"] == 2
    assert job.result["aliases"] == ["challenger"]
    assert set(job.result["metrics"]) >= {"accuracy", "f1_macro"}
    assert job.progress["trial"] == 2 and job.progress["trials"] == 2
    assert len(job.progress["values"]) == 2 and job.progress["best"] == max(job.progress["values"])
    assert job.pid == os.getpid() and job.started_at <= job.finished_at and job.heartbeat_at is not None
    assert sorted(v.version for v in registry.list_versions(trained_settings, "rice")) == [1, 2]
    with pytest.raises(JobConflict, match="not queued"):
        runner.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job_id, workloads=WORKLOADS)


def test_a_cancel_request_stops_the_run_and_registers_nothing(trained_settings, trained_sessions) -> None:
    job_id = submit_job(trained_sessions, trials=2)
    # another session asks to cancel; the worker only sees it through should_stop, after a trial
    with trained_sessions.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    job = runner.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job_id, workloads=WORKLOADS)
    assert job.status == "cancelled" and job.result is None and job.error is None
    assert job.progress["stage"] == "cancelled"
    assert [v.version for v in registry.list_versions(trained_settings, "rice")] == [1]


def test_a_failing_job_stores_its_reason(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        job = Job(dataset="rice", dataset_version=99, parameters={"trials": 1}, progress={}, study_name="rice-v99")
        session.add(job)
    done = runner.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job.id, workloads=WORKLOADS)
    assert done.status == "failed"
    assert "No dataset 'rice' version 99" in done.error
    assert done.finished_at is not None


def test_start_job_runs_to_done_in_a_background_process(trained_settings, trained_sessions) -> None:
    job_id = submit_job(trained_sessions, trials=1)
    pid = runner.start_job(trained_settings, job_id)
    assert pid != os.getpid()
    job = wait_until_finished(trained_sessions, job_id)
    assert job.status == "done", job.error or runner.job_log_path(trained_settings, job_id).read_text()[-2000:]
    assert job.pid == pid and job.result["version"] == 2
    assert job.progress["values"]
    assert runner.job_log_path(trained_settings, job_id).exists()


def test_a_job_that_cannot_start_is_cancelled_not_left_queued(trained_settings, trained_sessions) -> None:
    job_id = submit_job(trained_sessions, trials=1)
    jobs_folder = runner.job_log_path(trained_settings, job_id).parent
    jobs_folder.parent.mkdir(parents=True, exist_ok=True)
    jobs_folder.write_text("a file where the job logs' folder should be")  # the log cannot be opened
    with pytest.raises(OSError):
        runner.start_job(trained_settings, job_id)
    job = read_job(trained_sessions, job_id)
    assert job.status == "cancelled" and job.pid is None
