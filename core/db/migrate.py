"""Sift's schema through Alembic migrations (``core/db/migrations``), on SQLite and PostgreSQL alike.

:func:`upgrade` brings a database to the newest migration. Several processes may open a fresh
home at once, so the upgrade runs under a lock (PostgreSQL: a transaction-level advisory lock;
SQLite: ``BEGIN IMMEDIATE``, which admits one writer) and checks the version again once it holds
it. A database already at the newest migration costs one look at the version table, without
importing Alembic.

To add a migration, change :mod:`core.db.models`, then run
``.venv/bin/python -m core.db.migrate revision "what changed"`` (details in
``core/db/migrations/README.md``).
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, insert, inspect, select, text

from core.db.models import Base, Counter

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
# Optuna's storage, in the same database, keeps its own schema version in ``alembic_version``
VERSION_TABLE = "sift_schema_version"
UPGRADE_LOCK = 0x5F1F7  # PostgreSQL advisory lock key: one schema upgrade at a time per database
COUNTERS = ("prediction",)

# Tables in Sift's database that the migrations leave alone: Optuna's storage (it migrates its own)
# and the rows of each dataset version, made at ingest by core.db.rows.
_FOREIGN_TABLES = re.compile(r"(studies|trials|version_info|alembic_version|study_\w+|trial_\w+|dataset_rows_\d+)")


def include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    """Alembic's filter: compare and generate only the tables that Sift's models define."""
    return not (type_ == "table" and name is not None and _FOREIGN_TABLES.fullmatch(name))


def head_revision() -> str:
    """The newest migration: revision ids are the 4-digit numbers that start the file names."""
    return max(path.name[:4] for path in VERSIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))


def current_revision(connection: Connection) -> str | None:
    """The migration the database is at; None for a database that has never been migrated."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one_or_none()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest migration and seed the counters; cheap when already there.

    A database made before migrations existed (tables by ``create_all``, no version table) goes
    through the baseline like an empty one: the baseline creates only the tables and indexes that
    are missing, so it stamps a complete old home and completes an incomplete one.
    """
    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:
            return
    with engine.connect() as connection:
        _lock(connection)
        if current_revision(connection) != head:  # another process may have upgraded it meanwhile
            from alembic import command

            command.upgrade(alembic_config(connection), "head")
            _seed_counters(connection)
        connection.commit()


def _lock(connection: Connection) -> None:
    """Begin the upgrade's transaction holding the database's upgrade lock (released at commit)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # waits up to the busy timeout for other writers


def _seed_counters(connection: Connection) -> None:
    known = set(connection.execute(select(Counter.name)).scalars())
    missing = [{"name": name, "value": 0} for name in COUNTERS if name not in known]
    if missing:
        connection.execute(insert(Counter), missing)


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for Sift's migrations, running on ``connection`` (no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def schema_differences(connection: Connection) -> list[Any]:
    """What Alembic's autogenerate sees between the database and the models (empty: they match)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    options = {"include_name": include_name, "compare_type": True, "version_table": VERSION_TABLE}
    return compare_metadata(MigrationContext.configure(connection, opts=options), Base.metadata)


def new_revision(message: str) -> Path:
    """Write the next migration, generated from the models against a scratch database at the newest one."""
    from alembic import command

    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/scratch.db")
        try:
            upgrade(engine)
            with engine.begin() as connection:
                rev_id = f"{int(head_revision()) + 1:04d}"
                script = command.revision(alembic_config(connection), message, autogenerate=True, rev_id=rev_id)
        finally:
            engine.dispose()
    return Path(script.path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core.db.migrate", description="Sift's schema migrations.")
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="write the next migration from the changes to core/db/models.py")
    revision.add_argument("message", help='what changed, e.g. "add batch owner"')
    args = parser.parse_args(argv)
    print(new_revision(args.message))


if __name__ == "__main__":
    main()
