"""The Train page (AppTest) on a real home: job progress read from the database, Start and Cancel."""

from __future__ import annotations

import os
import time

from streamlit.testing.v1 import AppTest

from core import jobs, registry
from core.config import REPO_ROOT
from core.db.models import Job
from core.training.budgets import BUDGETS

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/train.py"
DEADLINE = 180


def _train_page() -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.run()
    assert not at.exception
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _add_job(sessions, **fields) -> int:
    now = jobs._now()
    values = {"dataset": "rice", "dataset_version": 1, "parameters": {"trials": 10, "budget": None}}
    values |= {"study_name": "rice-v1-job1", "started_at": now, "heartbeat_at": now, "host": jobs.HOST}
    with sessions.begin() as session:
        job = Job(**(values | fields))
        session.add(job)
    return job.id


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "subheader", "success", "info", "warning", "error")
        for e in at.get(kind)
    ]
    return "\n".join(str(p) for p in parts)


def test_page_renders_on_an_empty_home(settings) -> None:
    at = _train_page()
    assert not at.error


def test_page_renders_with_a_champion_and_no_job(trained_settings) -> None:
    at = _train_page()
    assert not at.error
    assert at.selectbox(key="train_version").value == 1
    assert at.button(key="train_start").disabled is False


def test_a_running_job_shows_its_progress(trained_sessions) -> None:
    progress = {"stage": "tuning", "trial": 3, "trials": 10, "best": 0.9234, "values": [0.91, 0.9234, 0.92]}
    job_id = _add_job(trained_sessions, status="running", progress=progress, pid=os.getpid())
    at = _train_page()
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Trial"] == "3 of 10"
    assert metrics["Best CV macro F1 so far"] == "0.9234"
    assert at.get("plotly_chart")
    assert at.button(key="train_start").disabled is True
    assert at.button(key=f"train_cancel_{job_id}")
    assert any("Training rice: trial 3 of 10" in str(link.proto.label) for link in at.get("page_link"))

    at.button(key=f"train_cancel_{job_id}").click().run()
    assert not at.exception
    with trained_sessions() as session:
        assert jobs.get_job(session=session, job_id=job_id).cancel_requested


def test_a_finished_job_shows_its_result_and_an_interrupted_one_offers_resume(
    trained_settings, trained_sessions
) -> None:
    champion = registry.list_versions(trained_settings, "rice")[0]
    result = {"model": "rice", "version": 1, "aliases": ["champion"], "metrics": champion.metrics}
    done = _add_job(trained_sessions, status="done", progress={"trial": 2, "trials": 2, "values": [0.9, 0.91]})
    with trained_sessions.begin() as session:
        session.get(Job, done).result = result
        session.get(Job, done).finished_at = jobs._now()
    at = _train_page()
    assert not at.exception and not at.error
    assert "Registered rice **v1**" in _texts(at)
    assert "**champion**" in _texts(at)
    assert "Leaderboard" in _texts(at)  # the training report

    gone = _add_job(trained_sessions, status="running", progress={"trial": 4, "trials": 10}, pid=999_999_999)
    at = _train_page()
    assert not at.exception
    assert f"Job {gone} was interrupted after 4 trial(s)" in _texts(at)
    assert at.button(key=f"train_resume_{gone}")
    assert len(at.dataframe[-1].value) == 2  # past jobs


def test_start_creates_a_background_job_that_cancel_stops(trained_settings, trained_sessions) -> None:
    smallest = min(BUDGETS, key=lambda name: BUDGETS[name].trials or 10**9)
    at = _train_page()
    at.radio(key="train_budget").set_value(smallest).run()
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    with trained_sessions() as session:
        job = jobs.latest_job(session=session, dataset="rice")
    assert job is not None and job.parameters["budget"] == smallest and job.pid
    assert job.status in ("queued", "running")

    at.button(key=f"train_cancel_{job.id}").click().run()
    assert not at.exception
    end = time.monotonic() + DEADLINE
    while jobs.process_alive(job.pid) and time.monotonic() < end:
        time.sleep(1)
    assert not jobs.process_alive(job.pid), "the background worker did not stop"
    with trained_sessions() as session:
        assert jobs.get_job(session=session, job_id=job.id).status == "cancelled"
    assert [v.version for v in registry.list_versions(trained_settings, "rice")] == [1]
