"""Alembic's environment for Sift's schema, run by :mod:`core.db.migrate` (there is no alembic.ini).

The caller hands over a connection inside the transaction that holds the upgrade lock, so the
migrations run in that transaction and never open connections of their own.
"""

from alembic import context

from core.db.migrate import VERSION_TABLE, include_name
from core.db.models import Base

if context.is_offline_mode():
    raise SystemExit("Sift's migrations run against a database: use core.db.migrate, not alembic --sql")

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,  # Optuna's storage keeps its own alembic_version in the same database
    include_name=include_name,
    render_as_batch=True,  # SQLite alters a table by copying it: generated migrations work on both engines
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
