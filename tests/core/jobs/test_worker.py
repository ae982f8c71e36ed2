"""Shared tuning: a `tune-worker` process joins a training job's study and its trials count towards it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import optuna
import pytest

from core import registry
from core.config import REPO_ROOT, Settings
from core.datasets.versions import ingest
from core.db import open_database
from core.errors import StudyNotJoinable
from core.jobs import queue, runner
from core.jobs.worker import join_study
from core.training.budgets import Budget
from core.training.train import train
from core.training.tuning import FINISHED
from tests.cli.conftest import user_error
from tests.conftest import RICE
from tests.homes import copy_home

WAIT = 180  # seconds a test waits for a worker before it fails


def start_worker(home, study: str, dataset: str = "rice", env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "--home", str(home), "tune-worker", "--dataset", dataset, "--study", study],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finished_by(study: optuna.Study) -> dict[str, int]:
    """Finished trials per worker (host:pid)."""
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False, states=FINISHED):
        counts[trial.user_attrs["worker"]] = counts.get(trial.user_attrs["worker"], 0) + 1
    return counts


def assert_best_trial_is_the_tuned_candidate(settings, study: optuna.Study) -> None:
    """The job's XGBoost candidate (registered or not) has the study's best parameters."""
    [run] = registry.list_runs(settings, "rice", tags={"sift.study": study.study_name, "sift.estimator": "xgboost"})
    assert {k: run.params[k] for k in study.best_params} == {k: str(v) for k, v in study.best_params.items()}


def test_a_worker_joins_a_queued_jobs_study_and_its_trials_count(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        job = queue.submit_training(session=session, dataset="rice", budget=Budget(trials=4))
    name = job.study_name
    worker = start_worker(trained_settings.home, name)  # it waits for the job to open its study
    worker_id = f"{socket.gethostname()}:{worker.pid}"

    def wait_for_the_worker(update) -> None:
        """After the first trial, the owner waits until the worker has finished one: both surely take part."""
        deadline = time.monotonic() + WAIT
        while update["state"] and worker_id not in finished_by(optuna.load_study(study_name=name, storage=url)):
            assert worker.poll() is None, worker.communicate()[1]
            assert time.monotonic() < deadline, "the worker ran no trial"
            time.sleep(0.2)

    url = trained_settings.database_url
    try:
        with trained_sessions.begin() as session:
            result = train(
                session=session,
                settings=trained_settings,
                dataset="rice",
                budget=Budget(trials=4),
                study_name=name,
                progress=wait_for_the_worker,
            )
        out, err = worker.communicate(timeout=WAIT)
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    joined = json.loads(out)
    study = optuna.load_study(study_name=name, storage=url)
    by_worker = finished_by(study)
    assert sum(by_worker.values()) == 4 == result.trials  # the worker's trials count towards the job's target
    assert set(by_worker) <= {worker_id, f"{socket.gethostname()}:{os.getpid()}"}
    assert joined["study"] == name and joined["worker"] == worker_id and joined["target"] == 4
    assert joined["trials_run"] == by_worker[worker_id] >= 1
    # the worker leaves once every trial left is running elsewhere: the study's figures as it left
    assert joined["trials_run"] <= joined["trials_finished"] <= 4 and joined["best_value"] <= study.best_value
    assert [v.version for v in registry.list_versions(trained_settings, "rice")] == [2, 1]  # registered once
    assert_best_trial_is_the_tuned_candidate(trained_settings, study)


def test_tune_worker_refusals(trained_settings, trained_sessions) -> None:
    home = trained_settings.home
    error = user_error(home, "tune-worker", "--dataset", "rice", "--study", "rice-v1-job99")
    assert error.startswith("error: No tuning study 'rice-v1-job99'.")

    def refusal(dataset: str, study: str) -> str:
        with pytest.raises(StudyNotJoinable) as raised:
            join_study(sessions=trained_sessions, settings=trained_settings, dataset=dataset, study_name=study)
        return str(raised.value)

    [done] = optuna.get_all_study_names(storage=trained_settings.database_url)  # the template's training
    assert "tunes dataset 'rice', not 'wine'" in refusal("wine", done)
    assert refusal("rice", done) == f"Study {done!r} is finished: it has its 2 trials."
    with trained_sessions.begin() as session:
        job = queue.submit_training(session=session, dataset="rice", budget=Budget(trials=1))
        queue.cancel_job(session=session, job_id=job.id)
    assert f"belongs to job {job.id}, which is cancelled" in refusal("rice", job.study_name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the server of SIFT_TEST_DB_URL (an admin URL), dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    admin = os.environ.get("SIFT_TEST_DB_URL")
    if not admin:
        pytest.fail("The pg tests need SIFT_TEST_DB_URL, e.g. postgresql+psycopg://sift:sift@127.0.0.1:5432/postgres")
    name = f"sift_worker_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.mark.pg
def test_two_workers_and_the_job_share_one_postgresql_study(pg_url, empty_template, tmp_path) -> None:
    settings = Settings(home=copy_home(empty_template, tmp_path / "home"), db_url=pg_url)
    sessions = open_database(settings)
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
        job = queue.submit_training(session=session, dataset="rice", budget=Budget(trials=12))
    env = os.environ | {"SIFT_HOME": str(settings.home), "SIFT_DB_URL": pg_url}
    env.pop("MLFLOW_TRACKING_URI", None)
    workers = [start_worker(settings.home, job.study_name, env=env) for _ in range(2)]  # they wait for the study
    try:
        runner.start_job(settings, job.id)
        outputs = [worker.communicate(timeout=WAIT) for worker in workers]
        deadline = time.monotonic() + WAIT
        while True:
            with sessions() as session:
                finished = queue.get_job(session=session, job_id=job.id)
            if finished.status not in ("queued", "running"):
                break
            assert time.monotonic() < deadline, "the job did not finish"
            time.sleep(0.5)
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    assert finished.status == "done", finished.error or runner.job_log_path(settings, job.id).read_text()[-2000:]

    study = optuna.load_study(study_name=job.study_name, storage=pg_url)
    by_worker = finished_by(study)
    worker_ids = {f"{socket.gethostname()}:{w.pid}" for w in workers}
    assert worker_ids <= set(by_worker), by_worker  # both workers ran trials of the job's study
    assert sum(by_worker.values()) == 12
    assert [json.loads(out)["trials_run"] for out, _ in outputs] == [
        by_worker[f"{socket.gethostname()}:{w.pid}"] for w in workers
    ]
    assert [v.version for v in registry.list_versions(settings, "rice")] == [1]  # registered once, by the job
    assert finished.result["version"] == 1
    assert_best_trial_is_the_tuned_candidate(settings, study)


@pytest.mark.pg
def test_processes_opening_the_study_storage_at_once_on_a_fresh_postgresql_database(pg_url, tmp_path) -> None:
    """A job and its workers start together: only one of them may create Optuna's tables."""
    code = (
        "import sys\n"
        "from core.config import Settings\n"
        "from core.training.tuning import study_storage\n"
        "with study_storage(Settings(home=sys.argv[1], db_url=sys.argv[2])):\n"
        "    pass\n"
    )
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "home"), pg_url],
            cwd=REPO_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [opener.communicate(timeout=WAIT)[1] for opener in openers]
    assert [opener.returncode for opener in openers] == [0] * 4, "\n".join(errors)[-2000:]
    assert optuna.get_all_study_names(storage=pg_url) == []  # the tables exist and are usable
