"""Batch scoring: a CSV file in chunks through a reader, the ledger and a writer, with resume and batch listing.

**Batches** (:func:`score_file`) go in chunks through three threads with bounded queues, so
memory stays flat: a reader reads, checks and predicts the next chunk (the prediction runs
outside the GIL) while the calling thread stores the current one (its ledger rows, its
:class:`~core.db.models.BatchChunk` record and the batch's counters in one transaction, through
the driver's ``executemany``) and a writer writes the output files (pyarrow's CSV writer, also
outside the GIL). A batch is complete once every chunk is stored. Scoring a file again while its
batch is incomplete (interrupted, or its process gone) resumes that batch under the same id, with
its model version: the chunks already stored keep their prediction ids and are not recorded again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.champion import LoadedModel, load_champion, load_version
from core.config import Settings
from core.contract import check_columns, check_inputs, refuse_missing
from core.datasets.reading import iter_csv, sniff
from core.db.engine import reserve_ids
from core.db.models import Batch, BatchChunk, utcnow
from core.errors import BatchInProgress, InputFileError, ModelNotFound
from core.labels import written_classes
from core.processes import HOST, process_alive
from core.scoring.files import (
    CsvOutput,
    FileScan,
    cell_breaks,
    cells_as_written,
    check_outputs,
    line_breaks,
    rejected_path,
    scan_file,
)
from core.scoring.ledger import LedgerRows, check_source, insert_ledger

log = logging.getLogger(__name__)

CHUNK_ROWS = 100_000
STALE_AFTER = timedelta(minutes=5)  # a running batch without a stored chunk for this long has lost its worker
CONFIDENCE_BINS = 20
PENDING_CHUNKS = 1  # chunks read and predicted ahead of the one being stored: bounds memory
OUTPUT_COLUMNS = ("prediction_id", "prediction", "confidence")


def batch_status(batch: Batch, now: datetime | None = None) -> str:
    """running | complete | incomplete; a running batch whose worker is gone is incomplete."""
    if batch.status != "running":
        return batch.status
    if batch.pid is not None and batch.host == HOST and not process_alive(batch.pid):
        return "incomplete"
    last = batch.heartbeat_at or batch.created_at
    return "incomplete" if last is None or (now or utcnow()) - last > STALE_AFTER else "running"


def find_unfinished(*, session: Session, dataset: str, input_hash: str) -> Batch | None:
    """The latest batch of this file (by content) for the dataset that is not complete, if any."""
    stmt = (
        select(Batch)
        .where(Batch.dataset == dataset, Batch.input_hash == input_hash, Batch.status != "complete")
        .order_by(Batch.created_at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


@dataclass
class _Chunk:
    number: int
    first_row: int  # rows of the file before this chunk
    frame: pd.DataFrame
    cells: pd.DataFrame  # the same rows as written in the file, as text: what the output files carry
    breaks: int  # line breaks inside its cells
    good: np.ndarray
    reasons: pd.Series
    flags: pd.Series
    typed: pd.DataFrame  # the good rows
    proba: np.ndarray
    stored: BatchChunk | None  # already in the ledger (a resumed batch)

    @property
    def scored(self) -> int:
        return len(self.typed)


def _class_mix(model: LoadedModel, proba: np.ndarray) -> dict[str, int]:
    if not len(proba):
        return {}
    counts = np.bincount(proba.argmax(axis=1), minlength=len(model.classes))
    return {label: int(n) for label, n in zip(model.class_labels, counts, strict=True) if n}


def _confidence_bins(proba: np.ndarray) -> list[int]:
    if not len(proba):
        return [0] * CONFIDENCE_BINS
    counts, _ = np.histogram(proba.max(axis=1), bins=CONFIDENCE_BINS, range=(0.0, 1.0))
    return counts.astype(int).tolist()


def _renamed(names: list[str], taken: set[str]) -> dict[str, str]:
    """Input columns that clash with the columns scoring adds, and their names in the output."""
    renames = {}
    for name in names:
        if name in taken:
            new = f"input_{name}"
            while new in taken or new in names:
                new = f"input_{new}"
            renames[name] = new
    return renames


class _Worker(threading.Thread):
    """A daemon thread fed through a bounded queue; its error is raised in the main thread."""

    def __init__(self, name: str, size: int):
        super().__init__(name=name, daemon=True)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=size)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def put(self, item: Any) -> None:
        """Queue ``item``, waiting for room; gives up when the thread has stopped."""
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if not self.is_alive():
                    raise RuntimeError(f"{self.name} stopped unexpectedly") from self.error


class _Reader(_Worker):
    """Reads, checks and predicts chunks ahead of the main thread, which stores them.

    The prediction runs outside the GIL, beside the main thread's ledger inserts.
    """

    def __init__(
        self,
        chunks: Iterator[pd.DataFrame],
        cells: Iterator[pd.DataFrame],
        model: LoadedModel,
        done: dict[int, BatchChunk],
        *,
        quoted: bool,
        line_end: str | None,
    ):
        super().__init__("sift-batch-reader", PENDING_CHUNKS)
        self.chunks = chunks
        self.cells = cells
        self.model = model
        self.done = done
        self.quoted = quoted
        self.line_end = line_end

    def _offer(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            first_row = 0
            for number, frame in enumerate(self.chunks):
                cells = next(self.cells, None)
                if cells is None or len(cells) != len(frame):  # cannot happen with the same parser rules
                    raise RuntimeError(f"chunk {number + 1}: the cells as written do not match the rows read")
                cells.index = frame.index
                breaks = cell_breaks(cells, self.line_end) if self.quoted else 0
                chunk = _predict_chunk(self.model, number, first_row, frame, cells, breaks, self.done.get(number))
                first_row += len(frame)
                if not self._offer(chunk):
                    return
            self._offer(None)
        except BaseException as exc:
            self._offer(exc)

    def __iter__(self) -> Iterator[_Chunk]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()


class _FileWriter(_Worker):
    """Writes the scored and rejected rows of each stored chunk (pyarrow writes outside the GIL)."""

    def __init__(self, model: LoadedModel, output: CsvOutput, rejected: CsvOutput, renames: tuple[dict, dict]):
        super().__init__("sift-batch-writer", 1)
        self.model = model
        self.output = output
        self.rejected = rejected
        self.renames, self.renames_rejected = renames

    def run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self._write(*item)
                except BaseException as exc:
                    self.error = exc

    def finish(self) -> None:
        """Write what is queued, then stop."""
        if self.is_alive():
            self.queue.put(None)
            self.join()

    def _write(self, chunk: _Chunk, first_id: int) -> None:
        model, good, proba = self.model, chunk.good, chunk.proba
        scored = chunk.cells if good.all() else chunk.cells[good]
        out = scored.rename(columns=self.renames) if self.renames else scored.copy()
        out["prediction_id"] = np.arange(first_id, first_id + chunk.scored, dtype="int64")
        out["prediction"] = written_classes(model.classes)[proba.argmax(axis=1)] if chunk.scored else []
        out["confidence"] = proba.max(axis=1) if chunk.scored else np.empty(0)
        for i, label in enumerate(model.class_labels):
            out[f"proba_{label}"] = proba[:, i] if chunk.scored else np.empty(0)
        out["flags"] = chunk.flags[good].to_numpy(dtype=object)
        self.output.write(out)
        bad = ~good
        rejects = chunk.cells[bad].rename(columns=self.renames_rejected)
        rejects["row"] = np.flatnonzero(bad) + chunk.first_row + 1
        rejects["reason"] = chunk.reasons[bad].to_numpy(dtype=object)
        self.rejected.write(rejects)


def _predict_chunk(
    model: LoadedModel,
    number: int,
    first_row: int,
    frame: pd.DataFrame,
    cells: pd.DataFrame,
    breaks: int,
    stored: BatchChunk | None,
) -> _Chunk:
    typed, reasons, flags = check_inputs(frame, model.contract)
    good = (reasons == "").to_numpy()
    typed = typed if good.all() else typed[good]
    if len(typed):
        proba = np.asarray(model.pipeline.predict_proba(typed))
    else:
        proba = np.empty((0, len(model.classes)), dtype="float64")
    if stored is not None and (stored.rows, stored.scored) != (len(frame), len(typed)):
        raise InputFileError(
            f"Chunk {number + 1} of the file does not match what its batch stored: the batch cannot be resumed. "
            "Score the file again as a new batch."
        )
    return _Chunk(number, first_row, frame, cells, breaks, good, reasons, flags, typed, proba, stored)


def _store_chunk(sessions: sessionmaker[Session], batch: Batch, model: LoadedModel, source: str, chunk: _Chunk) -> int:
    """Store a chunk's ledger rows, its record and the batch's counters in one transaction; returns its first id."""
    now = utcnow()
    rows = LedgerRows.build(model, chunk.typed, chunk.proba, chunk.flags[chunk.good])
    first_id = 0
    with sessions.begin() as session:
        if chunk.scored:
            first_id = reserve_ids(session, "prediction", chunk.scored)
            insert_ledger(session.connection(), first_id, rows, model=model, source=source, batch_id=batch.id, now=now)
        session.add(
            BatchChunk(
                batch_id=batch.id,
                number=chunk.number,
                first_id=first_id,
                rows=len(chunk.frame),
                scored=chunk.scored,
                rejected=len(chunk.frame) - chunk.scored,
                class_mix=_class_mix(model, chunk.proba),
                confidence_bins=_confidence_bins(chunk.proba),
                created_at=now,
            )
        )
        claimed = session.execute(
            update(Batch)
            .where(Batch.id == batch.id, Batch.attempt == batch.attempt)
            .execution_options(synchronize_session=False)
            .values(
                rows=Batch.rows + len(chunk.frame),
                scored=Batch.scored + chunk.scored,
                rejected=Batch.rejected + len(chunk.frame) - chunk.scored,
                chunks_done=Batch.chunks_done + 1,
                heartbeat_at=now,
            )
        ).rowcount
        if claimed != 1:
            raise BatchInProgress(
                f"Batch {batch.id} was taken over by another worker, so this run stopped. "
                "Look at the Batches list for its state."
            )
    return first_id


def _claim(
    session: Session, *, batch: Batch | None, dataset: str, model: LoadedModel, digest: str, **values: Any
) -> Batch:
    """Create the batch, or take over an unfinished one (refused while its worker is alive)."""
    now = utcnow()
    if batch is None:
        batch = Batch(
            id=uuid.uuid4().hex[:16],
            dataset=dataset,
            model_version=model.version,
            input_hash=digest,
            status="running",
            pid=os.getpid(),
            host=HOST,
            attempt=1,
            heartbeat_at=now,
            created_at=now,
            **values,
        )
        session.add(batch)
        session.flush()
        return batch
    if batch_status(batch) == "running":
        raise BatchInProgress(
            f"This file is being scored right now (batch {batch.id}, {batch.rows:,} rows so far). "
            "Wait for it to finish, or look at the Batches list."
        )
    taken = session.execute(
        update(Batch)
        .where(Batch.id == batch.id, Batch.attempt == batch.attempt)
        .execution_options(synchronize_session=False)
        .values(status="running", pid=os.getpid(), host=HOST, attempt=batch.attempt + 1, heartbeat_at=now, error=None)
    ).rowcount
    if taken != 1:
        raise BatchInProgress(f"Another worker has just resumed batch {batch.id}. Look at the Batches list.")
    session.refresh(batch)
    return batch


def _summary(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:500] if text else type(exc).__name__


def score_file(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    input_path: str | Path,
    output_path: str | Path,
    source: str = "batch",
    source_name: str | None = None,
    chunk_size: int = CHUNK_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score a CSV file in chunks with the champion; write scored and rejected rows; fill the ledger.

    Every input row ends in exactly one of ``output_path`` (scored) and
    ``<output stem>.rejected.csv`` (with ``row``, its number in the file, and ``reason``), its cells
    as written in the file; blank lines are in neither and counted (``blank_lines`` and a note), so
    scored + rejected + blank lines account for every line after the header.
    ``progress(rows_done, rows_expected)`` is called after each chunk (``rows_expected`` is
    counted from the file's line breaks: an estimate when values hold line breaks). An
    unfinished batch of the same file is resumed with its own model version and chunk size.
    """
    check_source(source)
    input_path, output_path = Path(input_path), Path(output_path)
    fingerprint: dict[str, Any] = {}

    fmt = sniff(input_path)  # refuses what is not a readable CSV file before anything else

    def hash_file() -> None:
        try:
            fingerprint["value"] = scan_file(input_path, fmt)
        except BaseException as exc:  # reported when joined
            fingerprint["error"] = exc

    check_outputs(input_path, output_path)
    hasher = threading.Thread(target=hash_file, name="sift-batch-hash", daemon=True)
    hasher.start()
    with sessions() as session:
        model = load_champion(settings, dataset, session=session)
    missing, extra = check_columns(fmt.names, model.contract)
    refuse_missing(missing)
    hasher.join()
    if "error" in fingerprint:
        raise InputFileError(f"{input_path.name} cannot be read: {fingerprint['error']}")
    scan: FileScan = fingerprint["value"]
    digest = scan.digest

    with sessions.begin() as session:
        unfinished = find_unfinished(session=session, dataset=dataset, input_hash=digest)
        if unfinished is not None and unfinished.model_version != model.version:
            try:  # a batch is scored by one version: resume with the one it started with
                model = load_version(settings, dataset, unfinished.model_version)
            except ModelNotFound:  # that version is gone: score the file as a new batch
                unfinished = None
        resumed = unfinished is not None
        chunk_size = unfinished.chunk_size if resumed and unfinished.chunk_size else chunk_size
        read_as, chunks = iter_csv(input_path, chunksize=chunk_size)
        first = next(chunks, None)
        if first is None or first.empty:
            raise InputFileError(f"{input_path.name} has a header but no rows. Add rows to score and try again.")
        batch = _claim(
            session,
            batch=unfinished,
            dataset=dataset,
            model=model,
            digest=digest,
            source=source,
            source_file=source_name or input_path.name,
            chunk_size=chunk_size,
            extra_columns=extra,
        )
        done = {c.number: c for c in session.scalars(select(BatchChunk).where(BatchChunk.batch_id == batch.id))}
    renames = (
        _renamed(fmt.names, {*OUTPUT_COLUMNS, *(f"proba_{c}" for c in model.class_labels), "flags"}),
        _renamed(fmt.names, {"row", "reason"}),
    )
    output, rejected = CsvOutput(output_path), CsvOutput(rejected_path(output_path))
    cells = cells_as_written(input_path, read_as, chunk_size, skip_initial_space=scan.space_before_quote)
    reader = _Reader(
        itertools.chain([first], chunks), cells, model, done, quoted=scan.quoted, line_end=read_as.line_end
    )
    writer = _FileWriter(model, output, rejected, renames)
    expected = max(scan.lines - 1, 1)
    rows = breaks = 0
    reader.start()
    writer.start()
    try:
        for chunk in reader:
            stored = chunk.stored
            first_id = stored.first_id if stored is not None else _store_chunk(sessions, batch, model, source, chunk)
            writer.put((chunk, first_id))
            rows += len(chunk.frame)
            breaks += chunk.breaks
            if progress is not None:
                progress(rows, max(expected, rows))
        writer.finish()
        if writer.error is not None:
            raise writer.error
    except BaseException as exc:
        reader.close()
        with contextlib.suppress(BaseException):  # the writer's own error is already on its way up
            writer.finish()
        _mark_incomplete(sessions, batch, exc)
        raise
    finally:
        output.close()
        rejected.close()
        reader.join(timeout=60)  # it stops after the chunk in hand
        if not reader.is_alive():
            chunks.close()  # ends the reader's generator (and its warning filters) now, not at garbage collection
            cells.close()
    with sessions.begin() as session:
        totals = _complete(session, batch)
    # every line of the file is the header, a row (scored or rejected), part of a value that spans
    # lines, or blank (empty, or spaces only): the parser skips blank lines, so they are counted here
    header = 1 + sum(line_breaks(name, fmt.line_end) for name in fmt.names)
    blank = max(scan.lines - header - rows - breaks, 0)
    notes = []
    if blank:
        notes.append(
            f"{blank:,} blank line{'s' if blank > 1 else ''} (no values at all) skipped: in neither output file. "
            f"Every other row is in the scored file ({totals.scored:,}) or the rejected file ({totals.rejected:,})."
        )
    if extra:
        notes.append(
            f"Extra column{'s' if len(extra) > 1 else ''} kept in the output and ignored by the model: "
            f"{', '.join(map(repr, extra))}."
        )
    renamed = renames[0] | renames[1]
    if renamed:
        notes.append(
            "Input columns renamed in the output files, as scoring adds columns of the same name: "
            + ", ".join(f"{a!r} -> {b!r}" for a, b in renamed.items())
            + "."
        )
    if resumed:
        notes.append(
            f"Resumed batch {batch.id} with model version {model.version}: {sum(c.rows for c in done.values()):,} rows "
            "were already in the ledger and were not recorded again."
        )
    return {
        "batch_id": batch.id,
        "rows": totals.rows,
        "scored": totals.scored,
        "rejected": totals.rejected,
        "blank_lines": blank,
        "model_version": model.version,
        "status": totals.status,
        "resumed": resumed,
        "output": str(output_path),
        "rejected_output": str(rejected_path(output_path)),
        "extra_columns": extra,
        "class_mix": totals.class_mix,
        "confidence_bins": totals.confidence_bins,
        "notes": notes,
    }


def _mark_incomplete(sessions: sessionmaker[Session], batch: Batch, exc: BaseException) -> None:
    try:
        with sessions.begin() as session:
            session.execute(
                update(Batch)
                .where(Batch.id == batch.id, Batch.attempt == batch.attempt)
                .execution_options(synchronize_session=False)
                .values(status="incomplete", error=_summary(exc), heartbeat_at=utcnow())
            )
    except Exception:  # the database itself may be what failed: the batch then reads as incomplete later
        log.exception("could not mark batch %s incomplete", batch.id)


def _complete(session: Session, batch: Batch) -> Batch:
    chunks = list(session.scalars(select(BatchChunk).where(BatchChunk.batch_id == batch.id)))
    mix: dict[str, int] = {}
    bins = np.zeros(CONFIDENCE_BINS, dtype=int)
    for chunk in chunks:
        for label, n in chunk.class_mix.items():
            mix[label] = mix.get(label, 0) + int(n)
        if chunk.confidence_bins:
            bins += np.asarray(chunk.confidence_bins, dtype=int)
    values = {
        "status": "complete",
        "rows": sum(c.rows for c in chunks),
        "scored": sum(c.scored for c in chunks),
        "rejected": sum(c.rejected for c in chunks),
        "chunks_done": len(chunks),
        "class_mix": mix,
        "confidence_bins": bins.tolist(),
        "finished_at": utcnow(),
        "heartbeat_at": utcnow(),
    }
    stmt = update(Batch).where(Batch.id == batch.id).execution_options(synchronize_session=False)
    session.execute(stmt.values(**values))
    return session.get(Batch, batch.id, populate_existing=True)


def list_batches(*, session: Session, dataset: str, limit: int | None = None) -> list[Batch]:
    """The dataset's batches, newest first."""
    stmt = select(Batch).where(Batch.dataset == dataset).order_by(Batch.created_at.desc())
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def batch_as_dict(batch: Batch) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "batch_id": batch.id,
        "dataset": batch.dataset,
        "created_at": moment(batch.created_at),
        "finished_at": moment(batch.finished_at),
        "source_file": batch.source_file,
        "source": batch.source,
        "model_version": batch.model_version,
        "status": batch_status(batch),
        "rows": batch.rows,
        "scored": batch.scored,
        "rejected": batch.rejected,
        "chunks_done": batch.chunks_done,
        "class_mix": dict(batch.class_mix or {}),
        "extra_columns": list(batch.extra_columns or []),
        "input_hash": batch.input_hash,
        "error": batch.error,
    }
