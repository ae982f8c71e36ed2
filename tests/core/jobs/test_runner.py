"""The job runner on a real home: run in process or in the background, cancel, fail, and the CLI's train;
the Train page's Start training and Resume, each one call that commits, then starts the job.

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
from core.training.budgets import Budget
from core.workloads import WORKLOADS
from tests.core.jobs.conftest import block_job_logs, job_count, read_job, submit_job, wait_until_finished


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


def test_start_training_commits_the_job_then_runs_it_in_the_background(trained_settings, trained_sessions) -> None:
    job = runner.start_training(
        sessions=trained_sessions, settings=trained_settings, dataset="rice", budget=Budget(trials=1)
    )
    assert (job.kind, job.dataset, job.dataset_version, job.parameters["trials"]) == ("train", "rice", 1, 1)
    assert job.status in ("queued", "running") and job.pid not in (None, os.getpid())
    done = wait_until_finished(trained_sessions, job.id)
    assert done.status == "done", done.error or runner.job_log_path(trained_settings, job.id).read_text()[-2000:]
    assert done.pid == job.pid and done.result["version"] == 2


def test_a_training_that_cannot_start_ends_cancelled_and_frees_the_dataset(trained_settings, trained_sessions) -> None:
    block_job_logs(trained_settings)
    with pytest.raises(OSError):
        runner.start_training(
            sessions=trained_sessions, settings=trained_settings, dataset="rice", budget=Budget(trials=1)
        )
    assert job_count(trained_sessions) == 1
    job = read_job(trained_sessions, 1)
    assert job.status == "cancelled" and job.pid is None
    # the dataset is free again: the next job is queued (and, here too, cancelled when it cannot start)
    with pytest.raises(OSError):
        runner.start_training(
            sessions=trained_sessions, settings=trained_settings, dataset="rice", budget=Budget(trials=1)
        )
    assert [read_job(trained_sessions, n).status for n in (1, 2)] == ["cancelled", "cancelled"]


def test_resume_in_background_runs_the_same_job_again(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        failing = Job(dataset="rice", dataset_version=99, parameters={"trials": 1}, progress={}, study_name="rice-v99")
        session.add(failing)
    runner.run_job(sessions=trained_sessions, settings=trained_settings, job_id=failing.id, workloads=WORKLOADS)
    with pytest.raises(JobConflict, match="not queued"):  # a failed job is resumed, never started as it is
        runner.start_job(trained_settings, failing.id)
    job = runner.resume_in_background(sessions=trained_sessions, settings=trained_settings, job_id=failing.id)
    assert job.id == failing.id and job.pid not in (None, os.getpid())
    again = wait_until_finished(trained_sessions, job.id)
    assert (again.status, again.attempt) == ("failed", 2) and "No dataset 'rice' version 99" in again.error
    with pytest.raises(JobConflict, match="only an interrupted or failed job"):
        runner.resume_in_background(
            sessions=trained_sessions, settings=trained_settings, job_id=submit_job(trained_sessions)
        )


def test_a_resumed_job_that_cannot_start_ends_cancelled(trained_settings, trained_sessions) -> None:
    job_id = submit_job(trained_sessions, trials=1)
    with trained_sessions.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status="interrupted", attempt=1))
    block_job_logs(trained_settings, job_id)
    with pytest.raises(OSError):
        runner.resume_in_background(sessions=trained_sessions, settings=trained_settings, job_id=job_id)
    job = read_job(trained_sessions, job_id)
    assert job.status == "cancelled" and job.pid is None
