import pytest
from sqlalchemy import text

from core.db.engine import reserve_ids
from tests.homes import TEST_DB_URL


@pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's pragmas: the main database is on PostgreSQL (SIFT_TEST_DB_URL)")
def test_sqlite_runs_in_wal_mode_with_busy_timeout(sessions) -> None:
    with sessions() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def test_reserved_ids_are_consecutive_and_never_reused(sessions) -> None:
    with sessions.begin() as session:
        first = reserve_ids(session, "prediction", 10)
    with sessions.begin() as session:
        second = reserve_ids(session, "prediction", 1)
    assert first == 1
    assert second == 11


@pytest.mark.pg
def test_postgresql_sessions_are_in_utc(sessions) -> None:
    assert TEST_DB_URL, "set SIFT_TEST_DB_URL to a PostgreSQL admin URL (make test-pg)"
    with sessions() as session:
        assert session.execute(text("SHOW timezone")).scalar() == "UTC"


def test_switching_a_fresh_file_to_wal_waits_for_a_writer_that_sqlite_would_not_wait_for(tmp_path) -> None:
    """Another process mid-write on a new file: SQLite says "locked" at once, without its busy handler."""
    import sqlite3
    import threading

    from core.db.engine import sqlite_pragmas

    path = tmp_path / "fresh.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (1)")
    opener = sqlite3.connect(path, timeout=5, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # what a plain switch does
        opener.execute("PRAGMA journal_mode=WAL")
    done = threading.Timer(0.5, writer.execute, ("COMMIT",))
    done.start()
    try:
        sqlite_pragmas(opener, busy_timeout_ms=10_000)
    finally:
        done.join()
    assert opener.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert opener.execute("SELECT x FROM t").fetchall() == [(1,)]
