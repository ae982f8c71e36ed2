"""Fixtures: each test gets its own home (SQLite database, MLflow store) copied from a template.

With ``SIFT_TEST_DB_URL`` set (a PostgreSQL admin URL), each home's main database is a PostgreSQL
database of its own instead, copied from the template's (see tests/homes.py) and dropped after
the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import REPO_ROOT, Settings, get_settings
from core.training.budgets import Budget
from tests import homes
from tests.homes import copy_home, home_settings, new_home

# scoring starts a background measuring process (core.monitoring.schedule.after_scoring): only the tests
# of that (tests/*/test_schedule*.py) turn it on, so the others' homes are not written behind their backs
os.environ.setdefault("SIFT_MONITOR_AFTER_SCORING", "0")

RICE = REPO_ROOT / "data" / "demo" / "rice_cammeo_osmancik.csv"
TEST_TRIALS = 2


def _build_empty_home(home: Path) -> Path:
    from core import registry
    from core.db import open_database

    settings = home_settings(new_home(home))
    open_database(settings)
    registry.ensure_store(settings)
    return home


@pytest.fixture(scope="session", autouse=True)
def _drop_session_databases() -> Iterator[None]:
    """On PostgreSQL: drop the template databases at the end of the session."""
    yield
    homes.drop_databases()


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """On PostgreSQL: drop the databases made for this test (session templates are made before it starts)."""
    before = len(homes.created)
    yield
    homes.drop_databases(since=before)


@pytest.fixture(scope="session")
def empty_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_empty_home(tmp_path_factory.mktemp("templates") / "empty")


def add_penguins(home: Path, folder: Path) -> Path:
    """Ingest palmerpenguins' table (target species) into ``home`` and train a champion; returns ``home``."""
    import palmerpenguins

    from core.datasets.versions import ingest
    from core.db import open_database
    from core.training.train import train

    source = folder / "penguins.csv"
    palmerpenguins.load_penguins().to_csv(source, index=False)
    settings = home_settings(home)
    with open_database(settings).begin() as session:
        ingest(session=session, path=source, name="penguins", target="species")
    with open_database(settings).begin() as session:
        train(session=session, settings=settings, dataset="penguins", budget=Budget(trials=TEST_TRIALS))
    return home


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory, empty_template: Path) -> Path:
    """A home with the rice data ingested and a champion trained (once per test session)."""
    from core.datasets.versions import ingest
    from core.db import open_database
    from core.training.train import train

    home = copy_home(empty_template, tmp_path_factory.mktemp("templates") / "trained")
    settings = home_settings(home)
    with open_database(settings).begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
    with open_database(settings).begin() as session:
        train(session=session, settings=settings, dataset="rice", budget=Budget(trials=TEST_TRIALS))
    return home


def _use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> Settings:
    # a developer's own settings must not leak into a test home (passwords: tests/app/test_access.py sets them)
    variables = (
        "SIFT_DB_URL",
        "MLFLOW_TRACKING_URI",
        "SIFT_MLFLOW_TRACKING_URI",
        "SIFT_PASSWORD",
        "SIFT_ADMIN_PASSWORD",
    )
    for variable in variables:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SIFT_HOME", str(home))
    if url := homes.database_url(home):
        monkeypatch.setenv("SIFT_DB_URL", url)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def settings(tmp_path: Path, empty_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for a fresh, empty home of this test's own."""
    yield _use_home(monkeypatch, copy_home(empty_template, tmp_path / "home"))
    get_settings.cache_clear()


@pytest.fixture
def trained_settings(tmp_path: Path, trained_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for a home of this test's own holding the rice data and a champion."""
    yield _use_home(monkeypatch, copy_home(trained_template, tmp_path / "home"))
    get_settings.cache_clear()


@pytest.fixture
def sessions(settings: Settings):
    from core.db import open_database

    return open_database(settings)


@pytest.fixture
def trained_sessions(trained_settings: Settings):
    from core.db import open_database

    return open_database(trained_settings)


@pytest.fixture(scope="session")
def challenger_template(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Path:
    """The trained home plus a second version of rice (a challenger), trained once per session."""
    from core.db import open_database
    from core.training.train import train

    home = copy_home(trained_template, tmp_path_factory.mktemp("templates") / "challenger")
    settings = home_settings(home)
    with open_database(settings).begin() as session:
        train(session=session, settings=settings, dataset="rice", budget=Budget(trials=1))
    return home


@pytest.fixture
def two_settings(tmp_path: Path, challenger_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for a home of this test's own with rice v1 (champion) and v2 (challenger)."""
    yield _use_home(monkeypatch, copy_home(challenger_template, tmp_path / "home"))
    get_settings.cache_clear()


@pytest.fixture
def two_sessions(two_settings: Settings):
    from core.db import open_database

    return open_database(two_settings)
