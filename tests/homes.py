"""Temporary homes for tests: built once per session, copied for each test.

MLflow stores absolute artifact locations in its database, so a copied home has those paths
rewritten to point at the copy.

With ``SIFT_TEST_DB_URL`` set (a PostgreSQL admin URL), a home's main database lives on that
server instead of in the home's SQLite file: the home names it in ``DATABASE_FILE``, and copying
the home copies the database with ``CREATE DATABASE ... TEMPLATE``. The MLflow store stays in
the home folder either way.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from functools import cache
from itertools import count
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url, text

from core.config import Settings
from core.db.engine import get_engine

TEST_DB_URL = os.environ.get("SIFT_TEST_DB_URL")
DATABASE_FILE = "database-url"  # in a home whose main database is on the PostgreSQL server
_RUN = uuid.uuid4().hex[:8]  # this test session's databases are sift_test_<run>_<n>, never the same name twice
_NUMBERS = count()
created: list[str] = []  # the databases this session made, oldest first


def new_home(home: Path) -> Path:
    """An empty folder for a new home, with an empty database of its own on PostgreSQL if tests use it."""
    home.mkdir(parents=True)
    if TEST_DB_URL:
        (home / DATABASE_FILE).write_text(new_database())
    return home


def new_database(template: str | None = None) -> str:
    """The URL of a new PostgreSQL database (a copy of ``template`` if given).

    conftest drops it after the test that made it, or at the end of the session if a session fixture made it.
    """
    return _url(_create_database(template))


def copy_home(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    store = target / "artifacts" / "mlflow.db"
    if store.exists():
        _rewrite_paths(store, str(source), str(target))
    if source_url := database_url(source):
        (target / DATABASE_FILE).write_text(new_database(template=make_url(source_url).database))
    return target


def database_url(home: Path) -> str | None:
    """The home's PostgreSQL database, or None when it uses its own SQLite file."""
    marker = home / DATABASE_FILE
    return marker.read_text() if marker.exists() else None


def home_settings(home: Path) -> Settings:
    """Settings for a home, whichever kind of database it has."""
    return Settings(home=home, db_url=database_url(home))


def drop_databases(since: int = 0) -> None:
    """Drop the databases made since the ``since``-th one, newest first (connections to them are ended)."""
    while len(created) > since:
        name = created.pop()
        # closing core's pooled connections first spares DROP ... WITH (FORCE) its wait for them to end
        get_engine(_url(name), Settings().sqlite_busy_timeout_ms).dispose()
        with _admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _create_database(template: str | None = None) -> str:
    name = f"sift_test_{_RUN}_{next(_NUMBERS)}"
    with _admin().connect() as conn:
        if template:
            # a template must have no other connection: end the idle ones left in this process's pools
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": template},
            )
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    created.append(name)
    return name


def _url(name: str) -> str:
    return make_url(TEST_DB_URL).set(database=name).render_as_string(hide_password=False)


@cache
def _admin() -> Engine:
    return create_engine(TEST_DB_URL, isolation_level="AUTOCOMMIT")


def _rewrite_paths(database: Path, old: str, new: str) -> None:
    conn = sqlite3.connect(database)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for _cid, column, kind, *_ in conn.execute(f'PRAGMA table_info("{table}")').fetchall():
                if "CHAR" in kind.upper() or "TEXT" in kind.upper():
                    conn.execute(
                        f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) WHERE "{column}" LIKE ?',
                        (old, new, f"%{old}%"),
                    )
        conn.commit()
    finally:
        conn.close()
