"""The job queue on a real home: one active job per dataset, cancel, interrupt, resume, liveness, progress.

Real SQLite, real processes: nothing of ours is mocked.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.datasets.demo import load_demo
from core.datasets.versions import ingest
from core.db.models import Job, utcnow
from core.errors import DatasetNotFound, InvalidBudget, JobConflict, JobNotFound
from core.jobs import queue
from core.processes import HOST
from tests.conftest import RICE
from tests.core.jobs.conftest import dead_pid, job_count, read_job, submit_job


def test_one_active_job_per_dataset(trained_sessions) -> None:
    first = submit_job(trained_sessions, trials=1)
    job = read_job(trained_sessions, first)
    assert job.status == "queued" and job.dataset_version == 1
    assert job.study_name == f"rice-v1-job{first}"
    assert job.parameters == {"trials": 1, "timeout": None, "seed": None, "budget": None}

    with pytest.raises(JobConflict, match=rf"Only one training job per dataset at a time: job {first} is queued"):
        submit_job(trained_sessions, trials=1)

    with trained_sessions.begin() as session:
        ingest(session=session, path=RICE, name="grains", target="Class")
    other = submit_job(trained_sessions, dataset="grains", trials=1)
    with trained_sessions() as session:
        assert queue.active_job(session=session, dataset="rice").id == first
        assert queue.active_job(session=session, dataset="grains").id == other
        assert [j.id for j in queue.list_jobs(session=session, dataset="rice")] == [first]


def test_concurrent_submissions_leave_one_job(trained_sessions) -> None:
    barrier, outcomes = threading.Barrier(4), []

    def submit() -> None:
        barrier.wait()
        try:
            outcomes.append(submit_job(trained_sessions, trials=1))
        except JobConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, int) for o in outcomes) == 1
    assert job_count(trained_sessions) == 1


def test_submit_refuses_unknown_datasets_and_bad_budgets(trained_sessions) -> None:
    with pytest.raises(DatasetNotFound, match="No dataset 'nope'"):
        submit_job(trained_sessions, dataset="nope")
    with pytest.raises(DatasetNotFound, match="version 9"):
        submit_job(trained_sessions, dataset_version=9)
    with pytest.raises(InvalidBudget, match="at least 1"):
        submit_job(trained_sessions, trials=0)
    with pytest.raises(InvalidBudget, match="No budget 'huge'"):
        submit_job(trained_sessions, budget="huge")
    assert job_count(trained_sessions) == 0


def test_cancel_of_a_queued_job_is_immediate(trained_sessions) -> None:
    job_id = submit_job(trained_sessions, trials=1)
    with trained_sessions.begin() as session:
        job = queue.cancel_job(session=session, job_id=job_id)
    assert job.status == "cancelled" and job.finished_at is not None
    with pytest.raises(JobConflict, match="already cancelled"), trained_sessions.begin() as session:
        queue.cancel_job(session=session, job_id=job_id)
    with pytest.raises(JobNotFound), trained_sessions.begin() as session:
        queue.cancel_job(session=session, job_id=999)
    with trained_sessions() as session:
        assert queue.active_job(session=session, dataset="rice") is None
    submit_job(trained_sessions, trials=1)  # the dataset is free again


def test_a_job_whose_worker_is_gone_is_interrupted_and_can_be_resumed(trained_sessions) -> None:
    now = utcnow()
    with trained_sessions.begin() as session:
        dead = Job(
            dataset="rice",
            dataset_version=1,
            status="running",
            parameters={"trials": 5},
            progress={"stage": "tuning", "trial": 2, "trials": 5, "best": 0.9, "values": [0.88, 0.9]},
            pid=dead_pid(),
            host=HOST,
            study_name="rice-v1-job1",
            started_at=now,
            heartbeat_at=now,
        )
        session.add(dead)
    with trained_sessions() as session:
        assert queue.get_job(session=session, job_id=dead.id).status == "interrupted"
        assert queue.active_job(session=session, dataset="rice") is None
        assert queue.list_jobs(session=session, dataset="rice")[0].status == "interrupted"
    assert read_job(trained_sessions, dead.id).status == "interrupted"  # reading never wrote it

    with trained_sessions.begin() as session:
        resumed = queue.resume_job(session=session, job_id=dead.id)
    assert resumed.status == "queued" and resumed.study_name == "rice-v1-job1"
    assert resumed.progress["values"] == [0.88, 0.9] and resumed.pid is None
    with pytest.raises(JobConflict, match=f"job {dead.id} is queued"):
        submit_job(trained_sessions, trials=1)


def test_liveness_needs_a_live_process_and_a_recent_heartbeat(trained_sessions) -> None:
    now = utcnow()
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
    assert read_job(trained_sessions, alive.id).status == "running"
    with pytest.raises(JobConflict, match=r"job \d+ is running \(started \d+ s ago\)"):
        submit_job(trained_sessions, trials=1)

    with trained_sessions.begin() as session:
        stale = now - queue.STALE_AFTER - timedelta(seconds=5)
        session.execute(update(Job).where(Job.id == alive.id).values(heartbeat_at=stale))
    assert read_job(trained_sessions, alive.id).status == "interrupted"
    new = submit_job(trained_sessions, trials=1)  # records the stale job as interrupted, then queues
    assert read_job(trained_sessions, new).status == "queued"
    with trained_sessions() as session:
        assert session.get(Job, alive.id).status == "interrupted"


def test_job_progress_is_one_reading_of_a_job_and_its_winner(trained_settings, trained_sessions) -> None:
    job_id = submit_job(trained_sessions, trials=12)
    progress = queue.job_progress(read_job(trained_sessions, job_id))
    assert (progress.state, progress.trial, progress.trials, progress.best) == ("queued", 0, 12, None)
    assert (progress.trial_text, progress.summary) == ("0 of 12", "queued, 0 of 12 trials")

    with trained_sessions.begin() as session:  # done: tuning's best and the registered winner differ
        job = session.get(Job, job_id)
        job.status = "done"
        job.progress = {"stage": "done", "trial": 12, "trials": 12, "best": 0.9834, "values": []}
        job.result = {"version": 1, "aliases": ["challenger"], "metrics": {"cv_f1_macro": 0.9969}}
    aliases = queue.current_aliases(trained_settings, "rice")
    assert aliases == {1: ["champion"]}
    progress = queue.job_progress(read_job(trained_sessions, job_id), aliases=aliases)
    assert (progress.best, progress.score, progress.shown_score) == (0.9834, 0.9969, 0.9969)
    assert (progress.version, progress.aliases, progress.summary) == (1, ["champion"], "done: v1")
    assert queue.job_progress(read_job(trained_sessions, job_id)).aliases == []  # stale aliases are never reported


def test_current_aliases_of_a_dataset_without_a_model(sessions, settings) -> None:
    assert queue.current_aliases(settings, "rice") == {}


def test_load_demo_stores_the_bundled_rice_once(sessions) -> None:
    with sessions.begin() as session:
        version, created = load_demo(session=session)
        assert (version.name, version.version, version.target, created) == ("rice", 1, "Class", True)
    with sessions.begin() as session:
        assert load_demo(session=session)[1] is False
