"""The state of a home's database, to show that something changed nothing."""

from __future__ import annotations

import hashlib

from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session, sessionmaker


def fingerprint(sessions: sessionmaker[Session]) -> dict[str, tuple[int, str]]:
    """Every table of the main database: its row count and a hash of its rows (sorted, so order-free)."""
    with sessions() as session:
        connection = session.connection()
        tables = MetaData()
        tables.reflect(connection)
        out = {}
        for name, table in sorted(tables.tables.items()):
            rows = sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            out[name] = (len(rows), digest)
    return out
