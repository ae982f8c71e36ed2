"""The Optuna study lives in the main database: it resumes, and two processes can share it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import optuna
import pytest
from sqlalchemy import create_engine, inspect, text

from core import registry
from core.config import REPO_ROOT
from core.errors import TrainingCancelled
from core.training.budgets import Budget
from core.training.train import train
from core.training.tuning import study_name_for, study_storage
from tests.homes import TEST_DB_URL


def test_an_interrupted_study_resumes_where_it_stopped(settings, sessions, wine) -> None:
    name = study_name_for(wine, 1, "job7")
    assert name == "wine-v1-job7"
    updates = []
    with sessions.begin() as session, pytest.raises(TrainingCancelled):
        train(
            session=session,
            settings=settings,
            dataset=wine,
            budget=Budget(trials=3),
            study_name=name,
            progress=updates.append,
            should_stop=lambda: any(u["trial"] >= 1 for u in updates),
        )
    # Optuna's tables sit beside ours, in the main database
    tables = set(inspect(create_engine(settings.database_url)).get_table_names())
    assert {"studies", "trials", "dataset_versions"} <= tables
    study = optuna.load_study(study_name=name, storage=settings.database_url)
    # the first trials are queued in advance (the library defaults, weighted and not): only one ran
    assert [t.number for t in study.trials if t.state.is_finished()] == [0]

    resumed = []
    with sessions.begin() as session:
        result = train(
            session=session,
            settings=settings,
            dataset=wine,
            budget=Budget(trials=3),
            study_name=name,
            progress=resumed.append,
        )
    assert [u["trial"] for u in resumed if u["state"]] == [2, 3]  # one trial was already done
    assert result.trials == 3 and result.study_name == name
    study = optuna.load_study(study_name=name, storage=settings.database_url)
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert registry.list_versions(settings, wine)[0].aliases == ["champion"]


@pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's pragmas: the main database is on PostgreSQL (SIFT_TEST_DB_URL)")
def test_optuna_keeps_the_database_in_wal_mode(settings) -> None:
    with study_storage(settings) as storage:
        optuna.create_study(study_name="probe", storage=storage)
        with storage.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == settings.sqlite_busy_timeout_ms
    with create_engine(settings.database_url).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


WORKER = textwrap.dedent(
    """
    import sys
    import optuna
    from core.config import Settings
    from core.training.tuning import study_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with study_storage(Settings(home=sys.argv[1])) as storage:
        study = optuna.create_study(study_name="shared", storage=storage, load_if_exists=True)
        study.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=40)
    """
)


def test_two_processes_share_one_study_on_sqlite(settings) -> None:
    with study_storage(settings) as storage:  # tables first, as training does
        optuna.create_study(study_name="shared", storage=storage)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(settings.home)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=settings.database_url)
    assert len(study.trials) == 80
    assert len({t.number for t in study.trials}) == 80
