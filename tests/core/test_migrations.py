"""Sift's schema through Alembic, on SQLite and on PostgreSQL (the ``pg`` cases need SIFT_TEST_DB_URL).

Real databases and real processes: the migrations run exactly as ``open_database`` runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from core.config import REPO_ROOT, Settings
from core.db import migrate, open_database
from core.db.engine import get_engine, reserve_ids
from core.db.models import Counter
from core.db.rows import write_rows
from tests import homes


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of this test's own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sift.db'}"
    assert homes.TEST_DB_URL, "the pg cases need a PostgreSQL server: set SIFT_TEST_DB_URL to an admin URL"
    return homes.new_database()


def _versions(url: str) -> list[str]:
    with get_engine(url).connect() as conn:
        return list(conn.execute(text(f"SELECT version_num FROM {migrate.VERSION_TABLE}")).scalars())


def test_the_migrations_make_exactly_the_models_schema(empty_url: str) -> None:
    engine = get_engine(empty_url)
    migrate.upgrade(engine)
    # neighbours the migrations must leave alone: Optuna's storage and a dataset version's rows
    optuna.storages.RDBStorage(empty_url).engine.dispose()
    with engine.begin() as conn:
        write_rows(conn, "dataset_rows_1", pd.DataFrame({"size": [1.5, 2.0], "colour": ["red", None]}))

    with engine.connect() as conn:
        assert migrate.schema_differences(conn) == []
        assert {"studies", "trials", "alembic_version", "dataset_rows_1"} <= set(inspect(conn).get_table_names())
        one_active = next(i for i in inspect(conn).get_indexes("jobs") if i["name"] == "ix_jobs_one_active_per_dataset")
        assert one_active["unique"]
        where = one_active["dialect_options"][f"{conn.dialect.name}_where"]
        assert "queued" in str(where) and "running" in str(where)

    with engine.begin() as conn:  # the comparison does see a schema that differs from the models
        conn.execute(text("DROP INDEX ix_predictions_created_at"))
    with engine.connect() as conn:
        assert [d[0] for d in migrate.schema_differences(conn)] == ["add_index"]


def test_upgrade_is_idempotent(empty_url: str) -> None:
    engine = get_engine(empty_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE counters SET value = 41"))
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert _versions(empty_url) == [migrate.head_revision()]
    with engine.connect() as conn:
        assert conn.execute(select(Counter.name, Counter.value)).all() == [("prediction", 41)]


def test_a_home_made_before_migrations_is_stamped_and_completed(empty_url: str, tmp_path: Path) -> None:
    engine = get_engine(empty_url)
    # what create_all made in an older home: the baseline's tables but no alert_events yet, no version table
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0001")
        conn.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
        conn.execute(text("DROP TABLE alert_events"))
        conn.execute(Counter.__table__.insert(), [{"name": "prediction", "value": 41}])

    sessions = open_database(Settings(home=tmp_path / "home", db_url=empty_url))
    assert _versions(empty_url) == [migrate.head_revision()]
    with sessions.begin() as session:
        assert reserve_ids(session, "prediction", 1) == 42  # the old home's data is kept
    with engine.connect() as conn:
        assert "alert_events" in inspect(conn).get_table_names()
        assert migrate.schema_differences(conn) == []


OPEN_WHEN_TOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from core.config import Settings
    from core.db import open_database

    go = Path(sys.argv[1])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)
    open_database(Settings())
    print("alembic" in sys.modules)
    """
)


def _open_in_processes(count: int, url: str, folder: Path) -> list[str]:
    """Open the database from ``count`` processes at the same moment; returns what each printed last."""
    go = folder / "go"
    env = os.environ | {"SIFT_HOME": str(folder / "home"), "SIFT_DB_URL": url}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_TOLD, str(go)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for worker in workers:  # every process has imported everything before any of them opens
        assert worker.stdout.readline().strip() == "ready"
    go.touch()
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(out.strip())
    go.unlink()
    return outputs


@pytest.mark.slow
def test_processes_opening_a_fresh_database_together_upgrade_it_once(empty_url: str, tmp_path: Path) -> None:
    assert "True" in _open_in_processes(4, empty_url, tmp_path)  # someone ran the migrations
    assert _versions(empty_url) == [migrate.head_revision()]
    with get_engine(empty_url).connect() as conn:
        assert conn.execute(select(Counter.name, Counter.value)).all() == [("prediction", 0)]
    # at the newest migration, opening the database does not even import Alembic
    assert _open_in_processes(1, empty_url, tmp_path) == ["False"]


def test_head_revision_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    assert script.get_heads() == [migrate.head_revision()]
    assert all(r.revision == Path(r.path).name[:4] for r in script.walk_revisions())
