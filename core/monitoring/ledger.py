"""Windows of the prediction ledger: which predictions an analyst looks at, and their inputs.

A :class:`Selection` is what an analyst picks for a one-off look (the last N predictions, a date
range, one batch). A :class:`Span` is one window of a series over time: a day, a batch, or a
run of N predictions of one model version (by prediction id), with its counts. A window's
``rejected`` counts the input rows the contract refused: a batch file's (kept on its batch) and
the scoring API's (one :class:`~core.db.models.Rejection` per request), placed in a day window by
their date, and in a count window by the prediction id they came after. Inputs come back
typed like the model's inputs (:func:`core.features.coerce_inputs`), so a window and the
training data are compared like for like.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from core.db.models import Batch, Prediction, Rejection, utcnow
from core.errors import BatchNotFound, NoPredictions
from core.features import coerce_inputs
from core.monitoring.sampling import positions
from core.scoring.batch import batch_status

KINDS = ("day", "batch", "count")
KIND_LABELS = {"day": "per day", "batch": "per batch", "count": "every N predictions"}
READ_PAGE = 50_000
SAMPLE_PAGE = 1000  # sampled ids per IN (...) query: within SQLite's and PostgreSQL's bound-parameter limits


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    """Predictions of a dataset an analyst chose: the last ``last``, those from ``start`` to ``end``
    (dates, both included), or one batch. Nothing chosen: every prediction."""

    last: int | None = None
    start: date | None = None
    end: date | None = None
    batch: str | None = None

    def describe(self) -> str:
        if self.batch:
            return f"batch {self.batch}"
        if self.last:
            return f"the last {self.last:,} predictions"
        if self.start or self.end:
            return f"predictions from {self.start or 'the first'} to {self.end or 'today'}"
        return "every prediction"

    def where(self, dataset: str) -> list[Any]:
        clauses: list[Any] = [Prediction.dataset == dataset]
        if self.batch:
            clauses.append(Prediction.batch_id == self.batch)
        if self.start:
            clauses.append(Prediction.created_at >= _day_start(self.start))
        if self.end:
            clauses.append(Prediction.created_at < _day_start(self.end) + timedelta(days=1))
        return clauses


@dataclass
class Span:
    """One window of a series: its key, model version, prediction ids and counts."""

    kind: str
    key: str
    model_version: int
    first_id: int
    last_id: int
    rows: int
    flagged: int
    rejected: int = 0
    closed: bool = False
    start: datetime | None = None
    end: datetime | None = None

    @property
    def name(self) -> str:
        """How alerts and pages name the window: ``"day:2025-01-31:v1"``."""
        return f"{self.kind}:{self.key}:v{self.model_version}"

    def where(self, dataset: str) -> list[Any]:
        clauses = [
            Prediction.dataset == dataset,
            Prediction.model_version == self.model_version,
            Prediction.id.between(self.first_id, self.last_id),
        ]
        if self.kind == "day":  # a range, not date(created_at) = key: PostgreSQL will not compare a date with text
            start = _day_start(date.fromisoformat(self.key))
            clauses += [Prediction.created_at >= start, Prediction.created_at < start + timedelta(days=1)]
        elif self.kind == "batch":
            clauses.append(Prediction.batch_id == self.key)
        return clauses


def window_label(kind: str, key: str, model_version: int) -> str:
    """A window's name for people: ``"2025-01-31 · v1"``, ``"batch 3f2a… · v2"``, ``"predictions 1,001-2,000 · v1"``."""
    if kind == "batch":
        return f"batch {key[:8]} · v{model_version}"
    if kind == "count":
        size, index = (int(p) for p in key.split(":"))
        return f"predictions {index * size + 1:,}-{(index + 1) * size:,} · v{model_version}"
    return f"{key} · v{model_version}"


# --- reading inputs ---------------------------------------------------------------------------


def _inputs_frame(texts: list[str]) -> pd.DataFrame:
    if not texts:
        return pd.DataFrame()
    return pd.read_json(io.StringIO("\n".join(texts)), lines=True, dtype=False, convert_dates=False)


def read_inputs(
    session: Session,
    where: list[Any],
    features: list[dict[str, Any]],
    *,
    last: int | None = None,
    sample: int | None = None,
    seed: int = 0,
):
    """The inputs of the predictions matching ``where`` (the ``last`` ones by id, if given), typed
    for the model; features the rows do not have come back empty. Returns (frame, prediction ids);
    the frame's index holds its rows' ids.

    With ``sample``, more matching predictions than that are read as a seeded sample of ``sample``
    of them (:func:`core.monitoring.sampling.positions` of their ids in order, so the same ``seed``
    reads the same rows): their ids are listed, then the inputs of the sampled ids only are read,
    by primary key in pages. The ids returned are then those of every matching prediction."""
    if sample:
        count = session.scalar(select(func.count()).select_from(Prediction).where(*where)) or 0
        if min(count, last or count) > sample:
            return _read_sample(session, where, features, last=last, sample=int(sample), seed=seed)
    stmt: Select = select(Prediction.id, Prediction.inputs).where(*where)
    stmt = stmt.order_by(Prediction.id.desc()).limit(int(last)) if last else stmt.order_by(Prediction.id)
    result = session.execute(stmt.execution_options(yield_per=READ_PAGE))
    typed, ids = _typed_pages(result.partitions(), features)
    if last:
        typed = typed.sort_index()
    return typed, np.asarray(sorted(ids), dtype=np.int64)


def _read_sample(
    session: Session, where: list[Any], features: list[dict[str, Any]], *, last: int | None, sample: int, seed: int
):
    stmt: Select = select(Prediction.id).where(*where)
    stmt = stmt.order_by(Prediction.id.desc()).limit(int(last)) if last else stmt.order_by(Prediction.id)
    every = np.sort(np.fromiter(session.scalars(stmt), dtype=np.int64))
    chosen = every[positions(len(every), sample, seed)]
    pages = (
        session.execute(
            select(Prediction.id, Prediction.inputs).where(Prediction.id.in_(part.tolist())).order_by(Prediction.id)
        ).all()
        for part in np.array_split(chosen, -(-len(chosen) // SAMPLE_PAGE))
    )
    typed, _ = _typed_pages(pages, features)
    return typed, every


def _typed_pages(pages, features: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[int]]:
    """Pages of (id, inputs JSON) rows as one frame typed for the model (index: the ids)."""
    ids: list[int] = []
    parts: list[pd.DataFrame] = []
    for page in pages:
        ids.extend(r[0] for r in page)
        parts.append(_inputs_frame([r[1] for r in page]))
    raw = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    for spec in features:
        if spec["name"] not in raw.columns:
            raw[spec["name"]] = None
    typed = coerce_inputs(raw, features)
    typed.index = pd.Index(ids, name="prediction_id")
    return typed, ids


def selection_inputs(session: Session, dataset: str, selection: Selection, features: list[dict[str, Any]]):
    """The inputs of a :class:`Selection`, typed; raises when it holds no prediction."""
    if selection.batch and session.get(Batch, selection.batch) is None:
        raise BatchNotFound(
            f"No scored batch {selection.batch!r}. The Batch page and `python -m core predict` give ids."
        )
    frame, ids = read_inputs(session, selection.where(dataset), features, last=selection.last)
    if not len(frame):
        raise NoPredictions(f"No predictions of {dataset!r} in {selection.describe()}. Score some rows first.")
    return frame, ids


def read_outputs(session: Session, where: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, largest probability) of the predictions matching ``where``."""
    rows = session.execute(select(Prediction.predicted_class, Prediction.confidence).where(*where)).all()
    if not rows:
        return np.empty(0, dtype=object), np.empty(0, dtype="float64")
    predicted, confidence = zip(*rows, strict=True)
    return np.asarray(predicted, dtype=object), np.asarray(confidence, dtype="float64")


# --- windows over time ------------------------------------------------------------------------

_FLAGGED = func.sum(case((Prediction.flags != "", 1), else_=0))


def _batch_rejections(session: Session, dataset: str) -> list[Batch]:
    return list(session.scalars(select(Batch).where(Batch.dataset == dataset)))


def _day_rejections(session: Session, dataset: str) -> dict[tuple[int, str], int]:
    """Rows refused per (model version, UTC date): batch files' and the scoring API's (a day on which a
    version only refused rows has no window to count them in)."""
    rejected: dict[tuple[int, str], int] = {}
    for batch in _batch_rejections(session, dataset):
        moment = batch.created_at
        if moment is not None and batch.rejected:
            k = (batch.model_version, moment.date().isoformat())
            rejected[k] = rejected.get(k, 0) + batch.rejected
    day = func.date(Rejection.created_at)  # the same expression as the predictions' day, so the keys match
    stmt = (
        select(Rejection.model_version, day, func.sum(Rejection.rows))
        .where(Rejection.dataset == dataset)
        .group_by(Rejection.model_version, day)
    )
    for version, key, rows in session.execute(stmt):
        k = (int(version), str(key))
        rejected[k] = rejected.get(k, 0) + int(rows or 0)
    return rejected


def _count_rejections(session: Session, dataset: str, version: int, last_ids: np.ndarray) -> np.ndarray:
    """Rows the scoring API refused per count window of ``version`` (windows given by their last ids).

    A rejection counts in the window whose id range holds its ``after_id``; one that came between
    two windows (after the first was full) in the later; one before the first window in the
    first, one after the last in the last.
    """
    totals = np.zeros(len(last_ids), dtype=np.int64)
    stmt = (
        select(Rejection.after_id, func.sum(Rejection.rows))
        .where(Rejection.dataset == dataset, Rejection.model_version == version)
        .group_by(Rejection.after_id)
    )
    found = session.execute(stmt).all()
    if found:
        after, rows = np.asarray(found, dtype=np.int64).T
        index = np.minimum(np.searchsorted(last_ids, after, side="left"), len(last_ids) - 1)
        np.add.at(totals, index, rows)
    return totals


def day_spans(session: Session, dataset: str, *, now: datetime | None = None) -> list[Span]:
    """One window per UTC day and model version; today's stays open."""
    today = (now or utcnow()).date().isoformat()
    day = func.date(Prediction.created_at)
    stmt = (
        select(
            Prediction.model_version,
            day,
            func.min(Prediction.id),
            func.max(Prediction.id),
            func.count(),
            _FLAGGED,
            func.min(Prediction.created_at),
            func.max(Prediction.created_at),
        )
        .where(Prediction.dataset == dataset)
        .group_by(Prediction.model_version, day)
        .order_by(day, Prediction.model_version)
    )
    rejected = _day_rejections(session, dataset)
    spans = []
    for version, key, first, last, rows, flagged, start, end in session.execute(stmt):
        key = str(key)
        spans.append(
            Span(
                kind="day",
                key=key,
                model_version=int(version),
                first_id=int(first),
                last_id=int(last),
                rows=int(rows),
                flagged=int(flagged or 0),
                rejected=rejected.get((int(version), key), 0),
                closed=key < today,
                start=start,
                end=end,
            )
        )
    return spans


def batch_spans(session: Session, dataset: str) -> list[Span]:
    """One window per scored batch; a batch still being scored stays open."""
    stmt = (
        select(
            Prediction.batch_id,
            Prediction.model_version,
            func.min(Prediction.id),
            func.max(Prediction.id),
            func.count(),
            _FLAGGED,
            func.min(Prediction.created_at),
            func.max(Prediction.created_at),
        )
        .where(Prediction.dataset == dataset, Prediction.batch_id.is_not(None))
        .group_by(Prediction.batch_id, Prediction.model_version)
        .order_by(func.min(Prediction.id))
    )
    batches = {b.id: b for b in _batch_rejections(session, dataset)}
    spans = []
    for batch_id, version, first, last, rows, flagged, start, end in session.execute(stmt):
        batch = batches.get(batch_id)
        spans.append(
            Span(
                kind="batch",
                key=str(batch_id),
                model_version=int(version),
                first_id=int(first),
                last_id=int(last),
                rows=int(rows),
                flagged=int(flagged or 0),
                rejected=int(batch.rejected) if batch is not None else 0,
                closed=batch is not None and batch_status(batch) != "running",
                start=start,
                end=end,
            )
        )
    return spans


def count_spans(session: Session, dataset: str, size: int) -> list[Span]:
    """Runs of ``size`` predictions per model version, by prediction id; the last run of a
    version stays open until it is full. Rows the scoring API refused count in the run that was
    being filled when they came (:func:`_count_rejections`)."""
    stmt = (
        select(Prediction.model_version, Prediction.id, case((Prediction.flags != "", 1), else_=0))
        .where(Prediction.dataset == dataset)
        .order_by(Prediction.model_version, Prediction.id)
    )
    rows = session.execute(stmt).all()
    if not rows:
        return []
    table = np.asarray(rows, dtype=np.int64)
    spans = []
    for version in np.unique(table[:, 0]):
        part = table[table[:, 0] == version]
        starts = range(0, len(part), size)
        last_ids = part[[min(begin + size, len(part)) - 1 for begin in starts], 1]
        rejected = _count_rejections(session, dataset, int(version), last_ids)
        for index, begin in enumerate(starts):
            chunk = part[begin : begin + size]
            spans.append(
                Span(
                    kind="count",
                    key=f"{size}:{index}",
                    model_version=int(version),
                    first_id=int(chunk[0, 1]),
                    last_id=int(chunk[-1, 1]),
                    rows=len(chunk),
                    flagged=int(chunk[:, 2].sum()),
                    rejected=int(rejected[index]),
                    closed=len(chunk) == size,
                )
            )
    return sorted(spans, key=lambda s: s.first_id)


def spans(session: Session, dataset: str, kind: str, *, size: int, now: datetime | None = None) -> list[Span]:
    if kind == "day":
        return day_spans(session, dataset, now=now)
    if kind == "batch":
        return batch_spans(session, dataset)
    if kind == "count":
        return count_spans(session, dataset, size)
    raise ValueError(f"unknown window kind {kind!r}; use one of {', '.join(KINDS)}")


def span_times(session: Session, dataset: str, span: Span) -> tuple[datetime, datetime]:
    """The first and last prediction time of a span (looked up when the enumeration lacks them)."""
    if span.start is not None and span.end is not None:
        return span.start, span.end
    first, last = session.execute(
        select(func.min(Prediction.created_at), func.max(Prediction.created_at)).where(and_(*span.where(dataset)))
    ).one()
    return first, last
