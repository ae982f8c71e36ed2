"""The rows of a dataset version: one table per version, columns named by position.

Column names from users never reach SQL: the table has ``row_id, c0, c1, ...`` and the
version's ``columns`` metadata maps positions back to names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Boolean, Column, Engine, Float, Integer, MetaData, Table, Text, insert, select
from sqlalchemy.engine import Connection

INSERT_CHUNK = 50_000


def _sql_type(dtype: np.dtype):
    if pd.api.types.is_bool_dtype(dtype):
        return Boolean
    if pd.api.types.is_integer_dtype(dtype):
        return BigInteger
    if pd.api.types.is_float_dtype(dtype):
        return Float
    return Text


def rows_table(name: str, dtypes: Iterable[np.dtype]) -> Table:
    columns = [Column("row_id", Integer, primary_key=True, autoincrement=False)]
    columns += [Column(f"c{i}", _sql_type(dt)) for i, dt in enumerate(dtypes)]
    return Table(name, MetaData(), *columns)


def write_rows(
    conn: Connection,
    table_name: str,
    frame: pd.DataFrame,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Create the table and insert every row, in chunks, through SQLAlchemy Core."""
    table = rows_table(table_name, frame.dtypes)
    table.create(conn)
    positional = frame.copy(deep=False)
    positional.columns = [f"c{i}" for i in range(frame.shape[1])]
    positional.insert(0, "row_id", np.arange(len(frame)))
    stmt = insert(table)
    total = len(positional)
    for start in range(0, total, INSERT_CHUNK):
        chunk = positional.iloc[start : start + INSERT_CHUNK]
        # object dtype so NaN becomes None and numpy scalars become Python ones
        records = chunk.astype(object).where(chunk.notna(), None).to_dict("records")
        conn.execute(stmt, records)
        if progress:
            progress(min(1.0, (start + len(chunk)) / max(total, 1)))


def read_rows(engine: Engine, table_name: str, names: list[str], limit: int | None = None) -> pd.DataFrame:
    """Read a version's rows back with their original column names, in file order."""
    table = Table(table_name, MetaData(), autoload_with=engine)
    stmt = select(table).order_by(table.c.row_id)
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn, index_col="row_id")
    frame.columns = names
    frame.index.name = None
    return frame


def drop_rows(conn: Connection, table_name: str) -> None:
    Table(table_name, MetaData(), autoload_with=conn).drop(conn)
