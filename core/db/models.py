"""SQLAlchemy 2.x typed models for Sift's own state.

Rows of each dataset version live in a table of their own (see :mod:`core.db.rows`), with
positional column names, so a user's column names are only ever data, never SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DatasetVersion(Base):
    """An immutable snapshot of a labelled table: its rows, roles and target."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(Text)
    # [{"name", "role", "reason", "dtype"}], in file order; "position" maps to the rows table.
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    missing_markers: Mapped[list[str]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(Integer)
    column_count: Mapped[int] = mapped_column(Integer)
    source_file: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def rows_table(self) -> str:
        return f"dataset_rows_{self.id}"

    @property
    def roles(self) -> dict[str, str]:
        return {c["name"]: c["role"] for c in self.columns}

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


class Batch(Base):
    """One scored file: its size, outcome and the model version that scored it."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    source_file: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | complete | failed
    rows: Mapped[int] = mapped_column(Integer, default=0)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Prediction(Base):
    """The prediction ledger: one row per scored input, with the model version that scored it.

    ``inputs`` and ``probabilities`` hold JSON text written in bulk through SQLAlchemy Core.
    """

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    dataset: Mapped[str] = mapped_column(String(64), index=True)
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[str] = mapped_column(Text)
    predicted_class: Mapped[str] = mapped_column(Text)
    probabilities: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    flags: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(8))  # form | batch | api
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), nullable=True, index=True)


class Counter(Base):
    """Named counters; prediction ids are reserved here in blocks, atomically, on any engine."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
