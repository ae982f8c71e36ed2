"""The prediction ledger: every write and read of :class:`~core.db.models.Prediction` rows.

Single rows and batch chunks are written by :func:`insert_ledger` (on SQLite through the driver's
``executemany``); they are read back as decoded rows (:func:`recent_predictions`), a batch's
scored rows (:func:`batch_results`, :func:`export_batch`) and the feedback table of recent
predictions with their labels (:func:`prediction_table`).
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.champion import LoadedModel
from core.db.models import Batch, Feedback, Prediction
from core.errors import BatchNotFound, PredictionNotFound
from core.scoring.files import CsvOutput

SOURCES = ("form", "batch", "api")  # who made a prediction
_LEDGER_KEYS = [c.name for c in Prediction.__table__.columns]
_SQLITE_INSERT = f"INSERT INTO predictions ({', '.join(_LEDGER_KEYS)}) VALUES ({', '.join('?' * len(_LEDGER_KEYS))})"


# --- writing predictions -------------------------------------------------------------------------


def _json_lines(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    # pandas' JSON writer is C code: far faster than json.dumps per row
    return frame.to_json(orient="records", lines=True, date_format="iso").rstrip("\n").split("\n")


@dataclass
class LedgerRows:
    """The columns of a block of ledger rows, as lists the driver takes."""

    inputs: list[str]
    predicted: list[str]
    probabilities: list[str]
    confidence: list[float]
    flags: list[str]

    FIELDS: ClassVar[tuple[str, ...]] = ("inputs", "predicted", "probabilities", "confidence", "flags")

    @classmethod
    def build(cls, model: LoadedModel, typed: pd.DataFrame, proba: np.ndarray, flags: pd.Series) -> LedgerRows:
        proba = np.asarray(proba, dtype="float64")
        probabilities = pd.DataFrame(proba, columns=list(model.class_labels)).round(6)
        return cls(
            inputs=_json_lines(typed),
            predicted=model.class_labels[proba.argmax(axis=1)].tolist() if len(proba) else [],
            probabilities=_json_lines(probabilities),
            confidence=proba.max(axis=1).tolist() if len(proba) else [],
            flags=flags.tolist(),
        )


def insert_ledger(
    connection: Connection,
    first_id: int,
    rows: LedgerRows,
    *,
    model: LoadedModel,
    source: str,
    batch_id: str | None,
    now: datetime,
) -> None:
    """Insert ledger rows ``first_id``, ``first_id + 1``, ... in the connection's transaction.

    On SQLite through the driver's ``executemany`` with tuples (the fastest path, no per-row
    dicts); elsewhere through SQLAlchemy Core ``insert()``, which uses each driver's bulk path.
    """
    n = len(rows.inputs)
    columns = {
        "id": range(first_id, first_id + n),
        "created_at": itertools.repeat(now),
        "dataset": itertools.repeat(model.name),
        "model_name": itertools.repeat(model.name),
        "model_version": itertools.repeat(model.version),
        "inputs": rows.inputs,
        "predicted_class": rows.predicted,
        "probabilities": rows.probabilities,
        "confidence": rows.confidence,
        "flags": rows.flags,
        "source": itertools.repeat(source),
        "batch_id": itertools.repeat(batch_id),
    }
    if connection.dialect.name == "sqlite":
        stamp = Prediction.__table__.c.created_at.type.dialect_impl(connection.dialect).bind_processor(
            connection.dialect
        )
        columns["created_at"] = itertools.repeat(stamp(now) if stamp else now)
        cursor = connection.connection.cursor()  # the driver's own, inside the caller's transaction
        try:
            cursor.executemany(_SQLITE_INSERT, zip(*(columns[k] for k in _LEDGER_KEYS), strict=False))
        finally:
            cursor.close()
    else:
        rows_ = zip(*(columns[k] for k in _LEDGER_KEYS), strict=False)
        connection.execute(insert(Prediction), [dict(zip(_LEDGER_KEYS, row, strict=True)) for row in rows_])


def check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")


# --- reading predictions back -------------------------------------------------------------------


def decode_prediction(row: Prediction) -> dict[str, Any]:
    return {
        "prediction_id": row.id,
        "created_at": row.created_at,
        "model_version": row.model_version,
        "prediction": row.predicted_class,
        "confidence": row.confidence,
        "source": row.source,
        "flags": row.flags,
        "batch_id": row.batch_id,
        "inputs": json.loads(row.inputs),
        "probabilities": json.loads(row.probabilities),
    }


def recent_predictions(*, session: Session, dataset: str, limit: int = 50) -> list[dict[str, Any]]:
    """The dataset's latest predictions (single and batch), newest first, decoded."""
    stmt = select(Prediction).where(Prediction.dataset == dataset).order_by(Prediction.id.desc()).limit(limit)
    return [decode_prediction(p) for p in session.scalars(stmt)]


def find_prediction(*, session: Session, prediction_id: int) -> Prediction | None:
    """The prediction of that id, or None (:func:`get_prediction` refuses an unknown id)."""
    return session.get(Prediction, int(prediction_id))


def get_prediction(session: Session, prediction_id: object) -> Prediction:
    """The prediction of that id (a number or its text); an unknown id is refused (PredictionNotFound)."""
    try:
        number = int(str(prediction_id).strip())
    except ValueError:
        number = None
    found = session.get(Prediction, number) if number is not None else None
    if found is None:
        raise PredictionNotFound(
            f"No prediction {prediction_id!r} in the ledger. Use the prediction_id of a scored row "
            "(the Predict page shows it, scored files have it in a column)."
        )
    return found


# --- a batch's predictions -------------------------------------------------------------------------


def get_batch(*, session: Session, batch_id: str) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise BatchNotFound(f"No batch {batch_id!r}. The Batches list (python -m core batches) shows them.")
    return batch


def _read_json_lines(texts: tuple[str, ...] | list[str]) -> pd.DataFrame:
    return pd.read_json(io.StringIO("\n".join(texts)), lines=True, dtype=False, convert_dates=False)


def batch_results(*, session: Session, batch_id: str, page: int = 100_000) -> Iterator[pd.DataFrame]:
    """A batch's scored rows read back from the ledger, in file order, ``page`` rows at a time.

    Columns: the model's input columns, ``prediction_id``, ``prediction``, ``confidence``, one
    ``proba_<class>`` per class and ``flags`` (columns the model did not use are not in the ledger).
    """
    get_batch(session=session, batch_id=batch_id)
    last = -1
    while True:
        rows = session.execute(
            select(
                Prediction.id,
                Prediction.inputs,
                Prediction.predicted_class,
                Prediction.probabilities,
                Prediction.confidence,
                Prediction.flags,
            )
            .where(Prediction.batch_id == batch_id, Prediction.id > last)
            .order_by(Prediction.id)
            .limit(page)
        ).all()
        if not rows:
            return
        ids, inputs, predicted, probabilities, confidence, flags = map(list, zip(*rows, strict=True))
        frame = _read_json_lines(inputs)
        frame["prediction_id"] = ids
        frame["prediction"] = predicted
        frame["confidence"] = confidence
        probas = _read_json_lines(probabilities)
        for label in probas.columns:
            frame[f"proba_{label}"] = probas[label].to_numpy()
        frame["flags"] = flags
        yield frame
        last = ids[-1]


def export_batch(*, session: Session, batch_id: str, sink: str | Path | BinaryIO) -> int:
    """Write a batch's scored rows from the ledger as a spreadsheet-safe CSV; returns the row count."""
    output = CsvOutput(sink)
    try:
        for frame in batch_results(session=session, batch_id=batch_id):
            output.write(frame)
        if output.rows == 0:
            output.write(pd.DataFrame(columns=["prediction_id", "prediction", "confidence", "flags"]))
    finally:
        output.close()
    return output.rows


def batch_csv(*, session: Session, batch_id: str) -> bytes:
    """:func:`export_batch` into memory (for a download)."""
    buffer = io.BytesIO()
    export_batch(session=session, batch_id=batch_id, sink=buffer)
    return buffer.getvalue()


# --- the table of recent predictions ----------------------------------------------------------------


@dataclass
class PredictionFilter:
    """Which predictions the feedback table shows (None: no condition)."""

    since: datetime | None = None
    until: datetime | None = None
    batch_id: str | None = None  # "" for single predictions only
    source: str | None = None  # form | batch | api
    predicted: list[str] | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    flagged: bool | None = None
    labelled: bool | None = None
    limit: int = 500


def prediction_table(*, session: Session, dataset: str, where: PredictionFilter | None = None) -> pd.DataFrame:
    """The dataset's predictions matching ``where``, newest first, with their label if any.

    Columns: ``prediction_id``, ``created_at``, ``source``, ``batch_id``, ``model_version``,
    ``predicted``, ``confidence``, ``flags``, ``label``, ``labelled_by``, ``labelled_at`` and
    ``inputs``: the values the prediction was made from, one dict per row, so a labeller can judge it.
    """
    where = where or PredictionFilter()
    stmt = (
        select(
            Prediction.id.label("prediction_id"),
            Prediction.created_at,
            Prediction.source,
            Prediction.batch_id,
            Prediction.model_version,
            Prediction.predicted_class.label("predicted"),
            Prediction.confidence,
            Prediction.flags,
            Feedback.label,
            Feedback.who.label("labelled_by"),
            Feedback.updated_at.label("labelled_at"),
            Prediction.inputs,
        )
        .outerjoin(Feedback, Feedback.prediction_id == Prediction.id)
        .where(Prediction.dataset == dataset)
    )
    if where.since is not None:
        stmt = stmt.where(Prediction.created_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(Prediction.created_at < where.until)
    if where.batch_id == "":
        stmt = stmt.where(Prediction.batch_id.is_(None))
    elif where.batch_id is not None:
        stmt = stmt.where(Prediction.batch_id == where.batch_id)
    if where.source is not None:
        stmt = stmt.where(Prediction.source == where.source)
    if where.predicted:
        stmt = stmt.where(Prediction.predicted_class.in_(where.predicted))
    if where.min_confidence is not None:
        stmt = stmt.where(Prediction.confidence >= where.min_confidence)
    if where.max_confidence is not None:
        stmt = stmt.where(Prediction.confidence <= where.max_confidence)
    if where.flagged is not None:
        stmt = stmt.where(Prediction.flags != "" if where.flagged else Prediction.flags == "")
    if where.labelled is not None:
        stmt = stmt.where(Feedback.id.is_not(None) if where.labelled else Feedback.id.is_(None))
    stmt = stmt.order_by(Prediction.id.desc()).limit(max(1, int(where.limit)))
    rows = session.execute(stmt).all()
    columns = list(stmt.selected_columns.keys())
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for moment in ("created_at", "labelled_at"):
        frame[moment] = pd.to_datetime(frame[moment], utc=True)
    frame["inputs"] = [json.loads(text) for text in frame["inputs"]]
    return frame


def prediction_span(*, session: Session, dataset: str) -> tuple[datetime | None, datetime | None]:
    """When the dataset's first and latest predictions were made (None, None without any)."""
    first, last = session.execute(
        select(func.min(Prediction.created_at), func.max(Prediction.created_at)).where(Prediction.dataset == dataset)
    ).one()
    return first, last
