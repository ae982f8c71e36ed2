"""Background training jobs on a real home: submit, run, cancel, fail, interrupt, resume.

Real SQLite, real training, real processes: nothing of ours is mocked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core import jobs, registry
from core.datasets.demo import load_demo
from core.datasets.versions import ingest
from core.db.models import Job
from core.errors import DatasetNotFound, InvalidBudget, JobConflict, JobNotFound
from core.processes import HOST
from tests.conftest import RICE

DEADLINE = 180  # seconds a background job may take on two shared cores


def _submit(sessions, dataset: str = "rice", **parameters) -> int:
    with sessions.begin() as session:
        return jobs.submit_training(session=session, dataset=dataset, **parameters).id


def _job(sessions, job_id: int) -> Job:
    with sessions() as session:
        return jobs.get_job(session=session, job_id=job_id)


def _job_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Job))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _wait_until_finished(sessions, job_id: int, deadline: float = DEADLINE) -> Job:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        job = _job(sessions, job_id)
        if job.status not in ("queued", "running"):
            return job
        time.sleep(1)
    raise AssertionError(f"job {job_id} still {job.status} after {deadline} s: {job.progress}")


def test_one_active_job_per_dataset(trained_sessions) -> None:
    first = _submit(trained_sessions, trials=1)
    job = _job(trained_sessions, first)
    assert job.status == "queued" and job.dataset_version == 1
    assert job.study_name == f"rice-v1-job{first}"
    assert job.parameters == {"trials": 1, "timeout": None, "seed": None, "budget": None}

    with pytest.raises(JobConflict, match=rf"Only one training job per dataset at a time: job {first} is queued"):
        _submit(trained_sessions, trials=1)

    with trained_sessions.begin() as session:
        ingest(session=session, path=RICE, name="grains", target="Class")
    other = _submit(trained_sessions, dataset="grains", trials=1)
    with trained_sessions() as session:
        assert jobs.active_job(session=session, dataset="rice").id == first
        assert jobs.active_job(session=session, dataset="grains").id == other
        assert [j.id for j in jobs.list_jobs(session=session, dataset="rice")] == [first]


def test_concurrent_submissions_leave_one_job(trained_sessions) -> None:
    barrier, outcomes = threading.Barrier(4), []

    def submit() -> None:
        barrier.wait()
        try:
            outcomes.append(_submit(trained_sessions, trials=1))
        except JobConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert _job_count(trained_sessions) == 1


def test_submit_refuses_unknown_datasets_and_bad_budgets(trained_sessions) -> None:
    with pytest.raises(DatasetNotFound, match="No dataset 'nope'"):
        _submit(trained_sessions, dataset="nope")
    with pytest.raises(DatasetNotFound, match="version 9"):
        _submit(trained_sessions, dataset_version=9)
    with pytest.raises(InvalidBudget, match="at least 1"):
        _submit(trained_sessions, trials=0)
    with pytest.raises(InvalidBudget, match="No budget 'huge'"):
        _submit(trained_sessions, budget="huge")
    assert _job_count(trained_sessions) == 0


def test_cancel_of_a_queued_job_is_immediate(trained_sessions) -> None:
    job_id = _submit(trained_sessions, trials=1)
    with trained_sessions.begin() as session:
        job = jobs.cancel_job(session=session, job_id=job_id)
    assert job.status == "cancelled" and job.finished_at is not None
    with pytest.raises(JobConflict, match="already cancelled"), trained_sessions.begin() as session:
        jobs.cancel_job(session=session, job_id=job_id)
    with pytest.raises(JobNotFound), trained_sessions.begin() as session:
        jobs.cancel_job(session=session, job_id=999)
    with trained_sessions() as session:
        assert jobs.active_job(session=session, dataset="rice") is None
    _submit(trained_sessions, trials=1)  # the dataset is free again


def test_run_job_in_process_records_progress_and_result(trained_settings, trained_sessions) -> None:
    job_id = _submit(trained_sessions, trials=2, seed=3)
    job = jobs.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job_id)
    assert job.status == "done", job.error
    assert job.result["model"] == "rice" and job.result["version"] == 2
    assert job.result["aliases"] == ["challenger"]
    assert set(job.result["metrics"]) >= {"accuracy", "f1_macro"}
    assert job.progress["trial"] == 2 and job.progress["trials"] == 2
    assert len(job.progress["values"]) == 2 and job.progress["best"] == max(job.progress["values"])
    assert job.pid == os.getpid() and job.started_at <= job.finished_at and job.heartbeat_at is not None
    assert sorted(v.version for v in registry.list_versions(trained_settings, "rice")) == [1, 2]
    with pytest.raises(JobConflict, match="not queued"):
        jobs.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job_id)


def test_a_cancel_request_stops_the_run_and_registers_nothing(trained_settings, trained_sessions) -> None:
    job_id = _submit(trained_sessions, trials=2)
    # another session asks to cancel; the worker only sees it through should_stop, after a trial
    with trained_sessions.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(cancel_requested=True))
    job = jobs.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job_id)
    assert job.status == "cancelled" and job.result is None and job.error is None
    assert job.progress["stage"] == "cancelled"
    assert [v.version for v in registry.list_versions(trained_settings, "rice")] == [1]


def test_a_failing_job_stores_its_reason(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        job = Job(dataset="rice", dataset_version=99, parameters={"trials": 1}, progress={}, study_name="rice-v99")
        session.add(job)
    done = jobs.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job.id)
    assert done.status == "failed"
    assert "No dataset 'rice' version 99" in done.error
    assert done.finished_at is not None


def test_start_job_runs_to_done_in_a_background_process(trained_settings, trained_sessions) -> None:
    job_id = _submit(trained_sessions, trials=1)
    pid = jobs.start_job(trained_settings, job_id)
    assert pid != os.getpid()
    job = _wait_until_finished(trained_sessions, job_id)
    assert job.status == "done", job.error or jobs.job_log_path(trained_settings, job_id).read_text()[-2000:]
    assert job.pid == pid and job.result["version"] == 2
    assert job.progress["values"]
    assert jobs.job_log_path(trained_settings, job_id).exists()


def test_a_job_that_cannot_start_is_cancelled_not_left_queued(trained_settings, trained_sessions) -> None:
    job_id = _submit(trained_sessions, trials=1)
    jobs_folder = jobs.job_log_path(trained_settings, job_id).parent
    jobs_folder.parent.mkdir(parents=True, exist_ok=True)
    jobs_folder.write_text("a file where the job logs' folder should be")  # the log cannot be opened
    with pytest.raises(OSError):
        jobs.start_job(trained_settings, job_id)
    job = _job(trained_sessions, job_id)
    assert job.status == "cancelled" and job.pid is None


def test_a_job_whose_worker_is_gone_is_interrupted_and_can_be_resumed(trained_sessions) -> None:
    now = jobs._now()
    with trained_sessions.begin() as session:
        dead = Job(
            dataset="rice",
            dataset_version=1,
            status="running",
            parameters={"trials": 5},
            progress={"stage": "tuning", "trial": 2, "trials": 5, "best": 0.9, "values": [0.88, 0.9]},
            pid=_dead_pid(),
            host=HOST,
            study_name="rice-v1-job1",
            started_at=now,
            heartbeat_at=now,
        )
        session.add(dead)
    with trained_sessions() as session:
        assert jobs.get_job(session=session, job_id=dead.id).status == "interrupted"
        assert jobs.active_job(session=session, dataset="rice") is None
        assert jobs.list_jobs(session=session, dataset="rice")[0].status == "interrupted"
    assert _job(trained_sessions, dead.id).status == "interrupted"  # reading never wrote it

    with trained_sessions.begin() as session:
        resumed = jobs.resume_job(session=session, job_id=dead.id)
    assert resumed.status == "queued" and resumed.study_name == "rice-v1-job1"
    assert resumed.progress["values"] == [0.88, 0.9] and resumed.pid is None
    with pytest.raises(JobConflict, match=f"job {dead.id} is queued"):
        _submit(trained_sessions, trials=1)


def test_liveness_needs_a_live_process_and_a_recent_heartbeat(trained_sessions) -> None:
    now = jobs._now()
    with trained_sessions.begin() as session:
        alive = Job(
            dataset="rice",
            dataset_version=1,
            status="running",
            parameters={},
            progress={},
            pid=os.getpid(),
            host=HOST,
            started_at=now,
            heartbeat_at=now,
        )
        session.add(alive)
    assert _job(trained_sessions, alive.id).status == "running"
    with pytest.raises(JobConflict, match=r"job \d+ is running \(started \d+ s ago\)"):
        _submit(trained_sessions, trials=1)

    with trained_sessions.begin() as session:
        stale = now - jobs.STALE_AFTER - timedelta(seconds=5)
        session.execute(update(Job).where(Job.id == alive.id).values(heartbeat_at=stale))
    assert _job(trained_sessions, alive.id).status == "interrupted"
    new = _submit(trained_sessions, trials=1)  # records the stale job as interrupted, then queues
    assert _job(trained_sessions, new).status == "queued"
    with trained_sessions() as session:
        assert session.get(Job, alive.id).status == "interrupted"


def test_job_progress_is_one_reading_of_a_job_and_its_winner(trained_settings, trained_sessions) -> None:
    job_id = _submit(trained_sessions, trials=12)
    progress = jobs.job_progress(_job(trained_sessions, job_id))
    assert (progress.state, progress.trial, progress.trials, progress.best) == ("queued", 0, 12, None)
    assert (progress.trial_text, progress.summary) == ("0 of 12", "queued, 0 of 12 trials")

    with trained_sessions.begin() as session:  # done: tuning's best and the registered winner differ
        job = session.get(Job, job_id)
        job.status = "done"
        job.progress = {"stage": "done", "trial": 12, "trials": 12, "best": 0.9834, "values": []}
        job.result = {"version": 1, "aliases": ["challenger"], "metrics": {"cv_f1_macro": 0.9969}}
    aliases = jobs.current_aliases(trained_settings, "rice")
    assert aliases == {1: ["champion"]}
    progress = jobs.job_progress(_job(trained_sessions, job_id), aliases=aliases)
    assert (progress.best, progress.score, progress.shown_score) == (0.9834, 0.9969, 0.9969)
    assert (progress.version, progress.aliases, progress.summary) == (1, ["champion"], "done: v1")
    assert jobs.job_progress(_job(trained_sessions, job_id)).aliases == []  # stale aliases are never reported


def test_current_aliases_of_a_dataset_without_a_model(sessions, settings) -> None:
    assert jobs.current_aliases(settings, "rice") == {}


def test_load_demo_stores_the_bundled_rice_once(sessions) -> None:
    with sessions.begin() as session:
        version, created = load_demo(session=session)
        assert (version.name, version.version, version.target, created) == ("rice", 1, "Class", True)
    with sessions.begin() as session:
        assert load_demo(session=session)[1] is False
