"""The rows of a dataset version: one table per version, columns named by position.

Column names from users never reach SQL: the table has ``row_id, c0, c1, ...`` and the
version's ``columns`` metadata maps positions back to names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Boolean, Column, Engine, Float, Integer, MetaData, Table, Text, insert, select
from sqlalchemy.engine import Connection

# cells per insert batch: about 20,000 rows of 10 columns, fewer rows when there are many columns
INSERT_CELLS = 200_000


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


def _python_values(series: pd.Series, sqlite: bool) -> list[Any]:
    """One column as Python values the database driver takes, missing values as None.

    SQLite stores a float NaN as NULL, so there float columns and text columns as read (str,
    None and NaN) go as they are; a value the driver cannot take (pd.NA) fails loudly.
    """
    values = series.to_numpy()
    if values.dtype.kind == "M":
        values = series.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
    if values.dtype.kind in "biu" or (sqlite and values.dtype.kind in "fO"):
        return values.tolist()
    missing = pd.isna(values)
    if missing.any():
        values = values.astype(object)  # a copy: the frame is left as it is
        values[missing] = None
    out = values.tolist()
    if any(isinstance(v, np.generic) for v in out[:100]):
        out = [v.item() if isinstance(v, np.generic) else v for v in out]
    return out


def write_rows(
    conn: Connection,
    table_name: str,
    frame: pd.DataFrame,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Create the table and insert every row, in batches; ``progress`` goes from 0 to 1.

    On SQLite the rows go through the driver's ``executemany`` as tuples (the fastest path);
    elsewhere through SQLAlchemy Core ``insert()``, which uses each driver's bulk path.
    """
    table = rows_table(table_name, frame.dtypes)
    table.create(conn)
    total, width = frame.shape
    batch = max(1, INSERT_CELLS // (width + 1))
    sqlite = conn.dialect.name == "sqlite"
    keys = [c.name for c in table.columns]
    if sqlite:
        quoted = conn.dialect.identifier_preparer.quote(table_name)
        statement = f"INSERT INTO {quoted} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})"
        cursor = conn.connection.cursor()  # the driver's own, inside the caller's transaction
    if progress:
        progress(0.0)
    for start in range(0, total, batch):
        stop = min(start + batch, total)
        part = frame.iloc[start:stop]
        columns = [range(start, stop)] + [_python_values(part.iloc[:, i], sqlite) for i in range(width)]
        if sqlite:
            # a generator: the driver binds each row as it comes, no list of tuples is built
            cursor.executemany(statement, zip(*columns, strict=True))
        else:
            conn.execute(insert(table), [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)])
        if progress:
            progress(stop / total)
    if sqlite:
        cursor.close()


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


def read_column(engine: Engine, table_name: str, position: int, name: str) -> pd.Series:
    """One column of a version's rows (its position among the original columns), in file order."""
    table = Table(table_name, MetaData(), autoload_with=engine)
    stmt = select(table.c.row_id, table.c[f"c{position}"]).order_by(table.c.row_id)
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn, index_col="row_id")
    return frame.iloc[:, 0].rename(name).rename_axis(None)


def drop_rows(conn: Connection, table_name: str) -> None:
    """Drop a version's rows table (nothing happens if it is already gone)."""
    Table(table_name, MetaData()).drop(conn, checkfirst=True)
