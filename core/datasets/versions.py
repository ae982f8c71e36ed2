"""Dataset versions: ingest a file once, keep its rows, roles and target immutable."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.datasets.reading import read_csv
from core.datasets.roles import FEATURE_ROLES, ROLES, infer_roles
from core.db import rows
from core.db.models import DatasetVersion
from core.errors import ColumnError, DatasetNotFound, InvalidName, TargetError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# a class needs rows in the holdout and in each of 3 cross-validation folds
MIN_ROWS_PER_CLASS = 5


def validate_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidName(
            f"{name!r} is not a valid dataset name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_target(frame: pd.DataFrame, target: str) -> None:
    if target not in frame.columns:
        shown = ", ".join(map(repr, list(frame.columns)[:20]))
        raise ColumnError(f"Target column {target!r} is not in the file. Columns are: {shown}.")
    counts = frame[target].dropna().value_counts()
    if len(counts) < 2:
        raise TargetError(
            f"Target column {target!r} has {len(counts)} class; a classifier needs at least two. "
            "Pick another target column."
        )
    rare = counts[counts < MIN_ROWS_PER_CLASS]
    if len(rare):
        listed = ", ".join(f"{label!r} ({n} rows)" for label, n in rare.items())
        raise TargetError(
            f"Target classes with too few rows: {listed}. Each class needs at least {MIN_ROWS_PER_CLASS} rows "
            "for the holdout and cross-validation: add rows or merge rare classes."
        )


def ingest(
    *,
    session: Session,
    path: str | Path,
    name: str,
    target: str,
    roles: dict[str, str] | None = None,
    source_name: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[DatasetVersion, bool]:
    """Store a CSV file as a dataset version. Returns (version, created).

    The same content with the same target and roles is the same version (``created`` False).
    The caller owns the transaction: commit after this returns.
    """
    validate_name(name)
    path = Path(path)
    csv_file = read_csv(path)
    frame = csv_file.frame
    check_target(frame, target)
    inferred = infer_roles(frame)
    overrides = roles or {}
    unknown = sorted(set(overrides) - set(frame.columns))
    if unknown:
        raise ColumnError(f"Role given for columns not in the file: {', '.join(map(repr, unknown))}.")
    bad = {c: r for c, r in overrides.items() if r not in ROLES}
    if bad:
        raise ColumnError(f"Unknown roles {bad}. Roles are: {', '.join(ROLES)}.")
    columns = []
    for position, col in enumerate(inferred):
        entry = col.as_dict() | {"position": position}
        if col.name in overrides and overrides[col.name] != col.role:
            entry.update(role=overrides[col.name], reason=f"set by you (inferred: {col.role}, {col.reason})")
        if col.name == target:
            entry.update(role="target", reason="the column to predict")
        columns.append(entry)
    if not any(c["role"] in FEATURE_ROLES for c in columns):
        raise ColumnError("No column can be used as a feature: every column is the target, an id or constant.")

    content_hash = file_hash(path)
    for existing in session.scalars(
        select(DatasetVersion).where(DatasetVersion.name == name, DatasetVersion.content_hash == content_hash)
    ):
        if existing.target == target and existing.roles == {c["name"]: c["role"] for c in columns}:
            return existing, False

    latest = session.scalar(select(func.max(DatasetVersion.version)).where(DatasetVersion.name == name)) or 0
    version = DatasetVersion(
        name=name,
        version=latest + 1,
        content_hash=content_hash,
        target=target,
        columns=columns,
        missing_markers=csv_file.missing_markers,
        row_count=len(frame),
        column_count=frame.shape[1],
        source_file=source_name or path.name,
    )
    session.add(version)
    session.flush()
    rows.write_rows(session.connection(), version.rows_table, frame, progress=progress)
    return version, True


def list_versions(*, session: Session, name: str | None = None) -> list[DatasetVersion]:
    stmt = select(DatasetVersion).order_by(DatasetVersion.name, DatasetVersion.version.desc())
    if name:
        stmt = stmt.where(DatasetVersion.name == name)
    return list(session.scalars(stmt))


def get_version(*, session: Session, name: str, version: int | None = None) -> DatasetVersion:
    stmt = select(DatasetVersion).where(DatasetVersion.name == name)
    stmt = stmt.where(DatasetVersion.version == version) if version else stmt.order_by(DatasetVersion.version.desc())
    found = session.scalars(stmt.limit(1)).first()
    if found is None:
        known = sorted({v.name for v in list_versions(session=session)})
        hint = f" Known datasets: {', '.join(known)}." if known else " Ingest a CSV file first."
        what = f"{name!r} version {version}" if version else f"{name!r}"
        raise DatasetNotFound(f"No dataset {what}.{hint}")
    return found


def load_frame(*, session: Session, version: DatasetVersion, limit: int | None = None) -> pd.DataFrame:
    """The version's rows with their original column names."""
    return rows.read_rows(session.get_bind(), version.rows_table, [c["name"] for c in version.columns], limit)
