"""Engine and session factory, one per database URL. Nothing connects at import."""

from __future__ import annotations

import sqlite3
import time
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db.models import Counter


@lru_cache(maxsize=8)
def get_engine(url: str, busy_timeout_ms: int = 30_000) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            sqlite_pragmas(dbapi_connection, busy_timeout_ms)
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        return engine
    if url.startswith("postgresql"):
        # UTC sessions: the UTC day of a timestamp (monitoring's day windows) must not depend on the server's zone
        return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c timezone=UTC"})
    return create_engine(url, pool_pre_ping=True)


def sqlite_pragmas(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    """Busy timeout, WAL and NORMAL sync for a new SQLite connection.

    Switching a fresh file to WAL needs an exclusive lock, and SQLite may answer "database is
    locked" at once instead of waiting (several processes opening a new home together), so the
    switch is retried until the busy timeout. WAL is a setting of the file: once it is on, later
    connections only read it.
    """
    dbapi_connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                dbapi_connection.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


@lru_cache(maxsize=8)
def get_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration (see :mod:`core.db.migrate`). Idempotent; never at import."""
    from core.db import migrate  # here, not at the top: ``python -m core.db.migrate`` imports core.db first

    migrate.upgrade(engine)


def reserve_ids(session: Session | Connection, name: str, count: int) -> int:
    """Reserve ``count`` consecutive ids from counter ``name``; returns the first one.

    An ``UPDATE ... RETURNING`` is atomic on SQLite and PostgreSQL, so concurrent writers
    never get overlapping ids. Call it inside the transaction that uses the ids.
    """
    stmt = update(Counter).where(Counter.name == name).values(value=Counter.value + count).returning(Counter.value)
    last = session.execute(stmt).scalar_one()
    return last - count + 1


def counter_value(session: Session, name: str) -> int:
    return session.execute(select(Counter.value).where(Counter.name == name)).scalar_one_or_none() or 0


_initialised: set[str] = set()


def open_database(settings: Settings) -> sessionmaker[Session]:
    """The session factory for the settings' database, brought to the newest schema once per process."""
    if settings.db_url is None:
        settings.ensure_folders()
    engine = get_engine(settings.database_url, settings.sqlite_busy_timeout_ms)
    if settings.database_url not in _initialised:
        init_db(engine)
        _initialised.add(settings.database_url)
    return get_sessionmaker(engine)
