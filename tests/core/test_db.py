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
