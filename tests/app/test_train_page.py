"""The Train page (AppTest) on a real home: job progress read from the database, Start and Cancel."""

from __future__ import annotations

import os
import time

import pandas as pd
from streamlit.testing.v1 import AppTest

from core import registry
from core.config import REPO_ROOT
from core.db.models import Job, utcnow
from core.feedback import feedback_counts, record_label, set_retrain_policy
from core.jobs import queue, runner
from core.processes import HOST, process_alive
from core.promotion import promote
from core.scoring.single import score_row
from core.training.budgets import BUDGETS, Budget
from core.workloads import WORKLOADS
from tests.conftest import RICE

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
    now = utcnow()
    values = {"dataset": "rice", "dataset_version": 1, "parameters": {"trials": 10, "budget": None}}
    values |= {"study_name": "rice-v1-job1", "started_at": now, "heartbeat_at": now, "host": HOST}
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
    assert metrics["Best CV score so far"] == "0.923"
    assert at.get("plotly_chart")
    assert at.button(key="train_start").disabled is True
    assert at.button(key=f"train_cancel_{job_id}")
    assert any("Training rice: trial 3 of 10" in str(link.proto.label) for link in at.get("page_link"))

    at.button(key=f"train_cancel_{job_id}").click().run()
    assert not at.exception
    with trained_sessions() as session:
        assert queue.get_job(session=session, job_id=job_id).cancel_requested


def test_a_finished_job_shows_its_result_and_an_interrupted_one_offers_resume(
    trained_settings, trained_sessions
) -> None:
    champion = registry.list_versions(trained_settings, "rice")[0]
    result = {"model": "rice", "version": 1, "aliases": ["champion"], "metrics": champion.metrics}
    done = _add_job(trained_sessions, status="done", progress={"trial": 2, "trials": 2, "values": [0.9, 0.91]})
    with trained_sessions.begin() as session:
        session.get(Job, done).result = result
        session.get(Job, done).finished_at = utcnow()
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
    picker = at.selectbox(key="train_metric")
    assert picker.value is None and picker.format_func(None) == "ROC AUC (the default for this target)"
    assert any(c.value.startswith("ROC AUC: two classes and the classes are about even") for c in at.caption)
    picker.set_value("accuracy").run()
    assert any(c.value.startswith("Accuracy: the share of rows predicted right") for c in at.caption)
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error
    with trained_sessions() as session:
        job = queue.latest_job(session=session, dataset="rice")
    assert job is not None and job.parameters["budget"] == smallest and job.pid
    assert job.parameters["metric"] == "accuracy"  # what the analyst picked goes with the job
    assert job.status in ("queued", "running")

    at.button(key=f"train_cancel_{job.id}").click().run()
    assert not at.exception
    end = time.monotonic() + DEADLINE
    while process_alive(job.pid) and time.monotonic() < end:
        time.sleep(1)
    assert not process_alive(job.pid), "the background worker did not stop"
    with trained_sessions() as session:
        assert queue.get_job(session=session, job_id=job.id).status == "cancelled"
    assert [v.version for v in registry.list_versions(trained_settings, "rice")] == [1]


# ---- counters from one source (issue 13) --------------------------------------------------------


def _sidebar_job_links(at: AppTest) -> list[str]:
    return [str(link.proto.label) for link in at.sidebar.get("page_link") if "rice:" in str(link.proto.label)]


def _past_jobs(at: AppTest):
    return at.dataframe[-1].value.set_index("job")


def test_sidebar_live_panel_and_past_jobs_count_the_same_trials(trained_sessions) -> None:
    with trained_sessions.begin() as session:
        job_id = queue.submit_training(session=session, dataset="rice", budget=Budget(trials=12)).id
    at = _train_page()
    assert {m.label: m.value for m in at.metric}["Trial"] == "0 of 12"
    assert _sidebar_job_links(at) == ["Training rice: queued, 0 of 12 trials"]
    assert _past_jobs(at).loc[job_id, ["status", "trials"]].tolist() == ["queued", "0 of 12"]

    # the worker claims the job and finishes three trials, as a real worker writes them
    with trained_sessions.begin() as session:
        claimed = runner._claim(session, job_id)
    worker = runner._Worker(trained_sessions, claimed)
    for trial, (value, best) in enumerate([(0.91, 0.91), (0.93, 0.93), (0.92, 0.93)], start=1):
        worker.progress({"stage": "tuning", "trial": trial, "trials": 12, "best": best, "value": value})
    at.run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Trial"] == "3 of 12"
    assert _sidebar_job_links(at) == ["Training rice: trial 3 of 12"]
    assert _past_jobs(at).loc[job_id, ["status", "trials"]].tolist() == ["running", "3 of 12"]
    with trained_sessions() as session:
        progress = queue.job_progress(queue.get_job(session=session, job_id=job_id))
    assert (progress.state, progress.trial_text, progress.best) == ("running", "3 of 12", 0.93)


def test_past_jobs_show_the_registered_winners_score_and_offer_a_prediction(trained_settings, trained_sessions) -> None:
    champion = registry.list_versions(trained_settings, "rice")[0]
    # tuning's best (the XGBoost) scored 0.9834; the registered winner, a baseline, 0.9969
    metrics = champion.metrics | {"cv_f1_macro": 0.9969}
    result = {"model": "rice", "version": 1, "aliases": ["champion"], "metrics": metrics}
    progress = {"stage": "done", "trial": 2, "trials": 2, "best": 0.9834, "values": [0.97, 0.9834]}
    done = _add_job(trained_sessions, status="done", progress=progress, result=result, finished_at=utcnow())
    at = _train_page()
    assert not at.exception and not at.error
    assert _past_jobs(at).loc[done, "best CV score"] == 0.9969
    assert any(str(link.proto.label) == "Make a prediction" for link in at.main.get("page_link"))


def test_after_a_new_champion_only_it_is_marked_champion_in_past_jobs(trained_settings, trained_sessions) -> None:
    first = _add_job(
        trained_sessions,
        status="done",
        progress={"stage": "done", "trial": 2, "trials": 2},
        result={"model": "rice", "version": 1, "aliases": ["champion"], "metrics": {}},
        finished_at=utcnow(),
    )
    with trained_sessions.begin() as session:
        second = queue.submit_training(session=session, dataset="rice", budget=Budget(trials=1)).id
    runner.run_job(sessions=trained_sessions, settings=trained_settings, job_id=second, workloads=WORKLOADS)
    with trained_sessions.begin() as session:
        promote(session=session, settings=trained_settings, dataset="rice", version=2, reason="retrained")
    with trained_sessions.begin() as session:  # as a promoted retrain records it: registered as champion
        session.get(Job, second).result = session.get(Job, second).result | {"aliases": ["champion"]}

    at = _train_page()
    assert not at.exception and not at.error
    past = _past_jobs(at)
    assert past.loc[second, "model version"] == 2 and past.loc[first, "model version"] == 1
    assert past.loc[second, "aliases"] == "champion"
    assert "champion" not in past.loc[first, "aliases"]
    assert (past["aliases"] == "champion").sum() == 1


def test_labels_past_the_threshold_say_retrain_due_not_46_of_30(trained_settings, trained_sessions) -> None:
    rows = pd.read_csv(RICE, nrows=3)
    with trained_sessions.begin() as session:
        set_retrain_policy(session=session, settings=trained_settings, dataset="rice", threshold=2)
        for _, row in rows.iterrows():
            values = row.drop("Class").to_dict()
            scored = score_row(session=session, settings=trained_settings, dataset="rice", values=values, explain=False)
            record_label(session=session, prediction_id=scored.prediction_id, label=row["Class"])
    at = _train_page()
    assert not at.exception and not at.error
    captions = [c.value for c in at.sidebar.caption]
    assert "3 labels since champion v1 (threshold 2): a retrain is due" in captions
    assert not any("3 of 2" in text for text in captions)
    since = next(m for m in at.metric if m.label == "Labels since champion v1")
    assert since.value == "3" and "threshold 2: a retrain is due" in str(since.proto.delta)

    with trained_sessions() as session:
        counts = feedback_counts(session=session, settings=trained_settings, dataset="rice")
    assert counts.threshold_text == "3 labels since champion v1 (threshold 2): a retrain is due"

    with trained_sessions.begin() as session:
        set_retrain_policy(session=session, settings=trained_settings, dataset="rice", threshold=30)
    at.run()
    assert "3 of 30 labels since champion v1" in [c.value for c in at.sidebar.caption]
