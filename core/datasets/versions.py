"""Dataset versions: ingest a file once, keep its rows, roles and target immutable."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import MetaData, Table, func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from core.config import Settings

from core import registry
from core.datasets.reading import normalise_markers, read_csv
from core.datasets.roles import FEATURE_ROLES, ROLES, ColumnRole, apply_conversions, infer_roles
from core.db import rows
from core.db.models import DatasetVersion  # also the name pages type a version by (they never import core.db)
from core.errors import ColumnError, DatasetNotFound, InvalidName, TargetError, VersionInUse

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# a class needs rows in the holdout and in each of 3 cross-validation folds
MIN_ROWS_PER_CLASS = 5
# a target with more different values than this (or than half its rows) is a quantity, not classes
MAX_CLASSES = 20
# rare classes named in a refusal; the others are counted
RARE_CLASSES_SHOWN = 5


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
    rows = int(counts.sum())
    if len(counts) > max(MAX_CLASSES, rows / 2):
        what, looks, hint = "values", "an id or free text", ""
        if pd.api.types.is_numeric_dtype(frame[target]):
            what, looks = "numbers", "a quantity to predict (regression)"
            hint = ", or group the values into bands first"
        raise TargetError(
            f"Target column {target!r} has {len(counts):,} different {what} in {rows:,} rows: it looks like "
            f"{looks}, not classes. Sift builds classifiers: choose a column with a few classes{hint}."
        )
    rare = counts[counts < MIN_ROWS_PER_CLASS].sort_values(kind="stable")
    if len(rare):
        listed = ", ".join(f"{label!r} ({n} rows)" for label, n in rare.head(RARE_CLASSES_SHOWN).items())
        if len(rare) > RARE_CLASSES_SHOWN:
            listed += f" and {len(rare) - RARE_CLASSES_SHOWN} more"
        raise TargetError(
            f"Target classes with too few rows: {listed}. Each class needs at least {MIN_ROWS_PER_CLASS} rows "
            "for the holdout and cross-validation: add rows or merge rare classes."
        )


def _columns(
    frame: pd.DataFrame, target: str, overrides: dict[str, str], inferred: list[ColumnRole]
) -> list[dict[str, Any]]:
    unknown = sorted(set(overrides) - set(frame.columns))
    if unknown:
        shown = ", ".join(map(repr, list(frame.columns)[:20]))
        raise ColumnError(
            f"Role given for columns not in the file: {', '.join(map(repr, unknown))}. Columns are: {shown}."
        )
    bad = {c: r for c, r in overrides.items() if r not in ROLES}
    if bad:
        raise ColumnError(f"Unknown roles {bad}. Roles are: {', '.join(ROLES)}.")
    columns = []
    for position, col in enumerate(inferred):
        entry = col.as_dict() | {"position": position}
        if col.name in overrides and overrides[col.name] != col.role:
            entry.pop("format", None)  # the format found belongs to the inferred role
            entry.update(role=overrides[col.name], reason=f"set by you (inferred: {col.role}, {col.reason})")
        if col.name == target:
            entry.pop("format", None)
            entry.update(role="target", reason="the column to predict")
        columns.append(entry)
    if not any(c["role"] in FEATURE_ROLES for c in columns):
        raise ColumnError("No column can be used as a feature: every column is the target, an id or constant.")
    return columns


def ingest(
    *,
    session: Session,
    path: str | Path,
    name: str,
    target: str,
    roles: dict[str, str] | None = None,
    missing_markers: list[str] | None = None,
    source_name: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[DatasetVersion, bool]:
    """Store a CSV file as a dataset version. Returns (version, created).

    ``roles`` overrides inferred roles by column name; ``missing_markers`` replaces
    :data:`DEFAULT_MISSING_MARKERS`. The same content with the same target, roles and markers is
    the same version (``created`` False). Everything is checked before anything is stored;
    ``progress(fraction)`` follows the row writes from 0 to 1. The caller owns the transaction:
    commit after this returns.
    """
    validate_name(name)
    path = Path(path)
    markers = normalise_markers(missing_markers)
    csv_file = read_csv(path, missing_markers=markers)
    frame = csv_file.frame
    check_target(frame, target)
    columns = _columns(frame, target, roles or {}, infer_roles(frame))

    content_hash = file_hash(path)
    role_map = {c["name"]: c["role"] for c in columns}
    for existing in session.scalars(
        select(DatasetVersion).where(DatasetVersion.name == name, DatasetVersion.content_hash == content_hash)
    ):
        if existing.target == target and existing.roles == role_map and existing.missing_markers == markers:
            return existing, False

    stored = apply_conversions(frame, columns)
    for entry in columns:
        entry["dtype"] = str(stored[entry["name"]].dtype)
        if entry["role"] == "target":  # kept in the version, left out of training: said wherever rows are counted
            entry["unlabelled"] = int(stored[entry["name"]].isna().sum())
    latest = session.scalar(select(func.max(DatasetVersion.version)).where(DatasetVersion.name == name)) or 0
    version = DatasetVersion(
        name=name,
        version=latest + 1,
        content_hash=content_hash,
        target=target,
        columns=columns,
        missing_markers=markers,
        row_count=len(stored),
        column_count=stored.shape[1],
        source_file=source_name or path.name,
    )
    session.add(version)
    session.flush()
    rows.write_rows(session.connection(), version.rows_table, stored, progress=progress)
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


def unlabelled_rows(*, session: Session, version: DatasetVersion) -> int:
    """Rows of the version without a label (an empty target): kept in the version, left out of training.

    Counted at ingest; counted in the stored rows for a version ingested before that.
    """
    if version.unlabelled_rows is not None:
        return version.unlabelled_rows
    position = next(i for i, c in enumerate(version.columns) if c["name"] == version.target)
    table = Table(version.rows_table, MetaData(), autoload_with=session.connection())
    return int(session.scalar(select(func.count()).select_from(table).where(table.c[f"c{position}"].is_(None))))


def load_frame(*, session: Session, version: DatasetVersion, limit: int | None = None) -> pd.DataFrame:
    """The version's rows with their original column names."""
    return rows.read_rows(session.get_bind(), version.rows_table, [c["name"] for c in version.columns], limit)


def load_target(*, session: Session, version: DatasetVersion) -> pd.Series:
    """The version's target column alone (missing labels included)."""
    position = [c["name"] for c in version.columns].index(version.target)
    return rows.read_column(session.get_bind(), version.rows_table, position, version.target)


@dataclass(frozen=True)
class VersionComparison:
    """What changed from version ``a`` to version ``b`` of a dataset."""

    dataset: str
    a: int
    b: int
    same_content: bool
    added: list[dict[str, str]]  # [{"name", "role"}] in b, not in a
    removed: list[dict[str, str]]  # [{"name", "role"}] in a, not in b
    role_changed: list[dict[str, str]]  # [{"name", "a", "b"}]
    target: dict[str, str]  # {"a", "b"}
    rows: dict[str, int]  # {"a", "b", "change"}
    columns: dict[str, int]  # {"a", "b", "change"}
    missing_markers: dict[str, list[str]]  # {"a", "b"}

    @property
    def schema_changed(self) -> bool:
        return bool(self.added or self.removed or self.role_changed or self.target["a"] != self.target["b"])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"schema_changed": self.schema_changed}


def compare_versions(*, session: Session, name: str, a: int, b: int) -> VersionComparison:
    """Schema differences (columns added, removed, role changed) and size differences of two versions."""
    first, second = (
        get_version(session=session, name=name, version=a),
        get_version(session=session, name=name, version=b),
    )
    roles_a, roles_b = first.roles, second.roles
    return VersionComparison(
        dataset=name,
        a=first.version,
        b=second.version,
        same_content=first.content_hash == second.content_hash,
        added=[{"name": c, "role": r} for c, r in roles_b.items() if c not in roles_a],
        removed=[{"name": c, "role": r} for c, r in roles_a.items() if c not in roles_b],
        role_changed=[
            {"name": c, "a": roles_a[c], "b": r} for c, r in roles_b.items() if c in roles_a and roles_a[c] != r
        ],
        target={"a": first.target, "b": second.target},
        rows={"a": first.row_count, "b": second.row_count, "change": second.row_count - first.row_count},
        columns={"a": first.column_count, "b": second.column_count, "change": second.column_count - first.column_count},
        missing_markers={"a": list(first.missing_markers), "b": list(second.missing_markers)},
    )


def delete_version(*, session: Session, name: str, version: int, settings: Settings) -> DatasetVersion:
    """Delete a dataset version and its rows, unless a registered model was trained on it.

    Models carry the tag ``sift.dataset_version``; delete those model versions first. The caller
    owns the transaction.
    """
    found = get_version(session=session, name=name, version=version)
    users = [m for m in registry.list_versions(settings, name) if registry.trained_on(m) == (name, found.version)]
    if users:
        listed = ", ".join(
            f"{m.version} ({', '.join(m.aliases)})" if m.aliases else str(m.version)
            for m in sorted(users, key=lambda m: m.version)
        )
        raise VersionInUse(
            f"{found.label} cannot be deleted: registered model {name!r} version(s) {listed} were trained on it. "
            "Keep this version, or delete those model versions first."
        )
    rows.drop_rows(session.connection(), found.rows_table)
    session.delete(found)
    session.flush()
    return found
