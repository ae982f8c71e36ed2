"""Temporary homes for tests: built once per session, copied for each test.

MLflow stores absolute artifact locations in its database, so a copied home has those paths
rewritten to point at the copy.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path


def copy_home(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    store = target / "artifacts" / "mlflow.db"
    if store.exists():
        _rewrite_paths(store, str(source), str(target))
    return target


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
