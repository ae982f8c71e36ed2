"""Scoring: the input contract, single and batch prediction, and the prediction ledger.

**Which model scores.** The version holding the ``champion`` alias. Looking it up in MLflow costs
about 3 ms, the largest part of scoring one row, so the answer is kept for :data:`CHAMPION_TTL`
seconds per dataset, and looked up again at once whenever Sift's alias history
(``alias_events``) has an entry newer than the one seen with it. So a promotion or rollback made
through Sift (page or CLI, in any process) is picked up by the very next prediction, and an alias
moved behind Sift's back (the MLflow UI, :func:`core.registry.set_alias`) within
:data:`CHAMPION_TTL` seconds. :func:`forget_champions` drops the cache. Loaded Pipelines are kept
by version.

**The input contract** (:func:`build_contract`, stored with each model version): per feature its
role, the training range and a typical value (numbers, dates), the known categories, and the
format a dataset version recorded for it (number style, date format). :func:`check_inputs` holds
rows against it: a missing column refuses the whole input; a value that cannot be read (text in a
numeric column, an unparsable date, an infinite number) rejects its row with the reason; unseen
categories, values outside the training range and rows with most inputs empty
(:data:`MOSTLY_MISSING_SHARE`) are scored and flagged.

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

import codecs
import contextlib
import hashlib
import io
import itertools
import json
import logging
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from core import registry
from core.config import Settings
from core.datasets.reading import CsvFormat, iter_csv, sniff
from core.datasets.roles import NUMBER_STYLES, convert_numbers, parse_datetimes
from core.db.engine import reserve_ids
from core.db.models import AliasEvent, Batch, BatchChunk, Prediction, utcnow
from core.errors import (
    BatchInProgress,
    BatchNotFound,
    DatasetNotFound,
    InputContractError,
    InputFileError,
    ModelNotFound,
    SiftError,
)
from core.explain import Explanation, explain_row
from core.features import coerce_inputs
from core.labels import written_classes
from core.processes import HOST, process_alive

log = logging.getLogger(__name__)

CONTRACT_FILE = "input_contract.json"
CONTRACT_VERSION = 2
MAX_CATEGORIES = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SOURCES = ("form", "batch", "api")
CHUNK_ROWS = 100_000
EMPTY_ROW = "every input is empty"
# a row with more than this share of the model's inputs empty is scored on imputed values more than
# on its own: it is scored and flagged, so its confident-looking answer is not taken at face value
MOSTLY_MISSING_SHARE = 0.5
MOSTLY_MISSING = "mostly missing"
CHAMPION_TTL = 1.0  # seconds an alias lookup is trusted (see the module docstring)
STALE_AFTER = timedelta(minutes=5)  # a running batch without a stored chunk for this long has lost its worker
CONFIDENCE_BINS = 20
PENDING_CHUNKS = 1  # chunks read and predicted ahead of the one being stored: bounds memory
OUTPUT_COLUMNS = ("prediction_id", "prediction", "confidence")


# --- the input contract -------------------------------------------------------------------


def _iso(moment: pd.Timestamp, with_time: bool) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d")


def build_contract(frame: pd.DataFrame, features: list[dict[str, Any]], classes: list[Any]) -> dict[str, Any]:
    """What the model was trained on: per feature its role, range or categories, a typical value.

    ``features`` are the dataset version's column entries; their ``format`` (number style, date
    format), when there is one, is kept so files in the training file's style are read alike.
    """
    typed = coerce_inputs(frame, features)
    specs = []
    for col in features:
        values = typed[col["name"]].dropna()
        spec: dict[str, Any] = {"name": col["name"], "role": col["role"]}
        if col.get("format"):
            spec["format"] = col["format"]
        if col["role"] == "numeric":
            whole = bool(len(values)) and bool((values == values.round()).all())
            spec.update(
                integer=whole,
                min=float(values.min()) if len(values) else None,
                max=float(values.max()) if len(values) else None,
                typical=float(values.median()) if len(values) else 0.0,
            )
        elif col["role"] == "datetime":
            ordered = values.sort_values()
            with_time = bool((ordered != ordered.dt.normalize()).any())
            spec.update(
                has_time=with_time,
                min=_iso(ordered.iloc[0], with_time) if len(ordered) else None,
                max=_iso(ordered.iloc[-1], with_time) if len(ordered) else None,
                typical=_iso(ordered.iloc[len(ordered) // 2], with_time) if len(ordered) else None,
            )
        elif col["role"] == "text":
            spec.update(typical="")
        else:
            counts = values.value_counts()
            spec.update(
                categories=[str(c) for c in counts.index[:MAX_CATEGORIES]],
                complete=len(counts) <= MAX_CATEGORIES,
                typical=str(counts.index[0]) if len(counts) else "",
            )
        specs.append(spec)
    return {"contract_version": CONTRACT_VERSION, "features": specs, "classes": [_plain(c) for c in classes]}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def check_columns(names: list[str], contract: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(columns the model needs that ``names`` lacks, columns of ``names`` the model does not use)."""
    needed = [f["name"] for f in contract["features"]]
    present = set(names)
    return [n for n in needed if n not in present], [n for n in names if n not in set(needed)]


@dataclass(frozen=True)
class FileCheck:
    """A file's header held against the contract, before anything is scored."""

    names: list[str]
    missing: list[str]  # needed by the model, not in the file: the file cannot be scored
    extra: list[str]  # in the file, not used by the model: kept in the output


def check_file(path: str | Path, contract: dict[str, Any]) -> FileCheck:
    """Read a CSV file's header (refusing what is not a readable CSV) and compare it with the contract."""
    names = sniff(path).names
    missing, extra = check_columns(names, contract)
    return FileCheck(names=names, missing=missing, extra=extra)


def _refuse_missing(missing: list[str]) -> None:
    if missing:
        raise InputContractError(
            f"Missing column{'s' if len(missing) > 1 else ''} the model needs: {', '.join(map(repr, missing))}. "
            "Add them (a column may be empty) and try again."
        )


def _prepare(frame: pd.DataFrame, features: list[dict[str, Any]]) -> pd.DataFrame:
    """The feature columns with numbers written in the training file's style and dates read.

    Dates are read with the format the dataset version recorded, then as ISO 8601 (what forms
    and the ledger use); :func:`coerce_inputs` does the rest.
    """
    out = {}
    for spec in features:
        name, role, fmt = spec["name"], spec["role"], spec.get("format")
        values = frame[name]
        if role == "numeric" and values.dtype == object:
            plain = pd.to_numeric(values, errors="coerce")
            if fmt in NUMBER_STYLES:
                styled = convert_numbers(values, fmt).astype("float64")
                plain = styled.where(styled.notna(), plain)
            values = plain
        elif role == "datetime" and not pd.api.types.is_datetime64_any_dtype(values):
            parsed = parse_datetimes(values, fmt)
            unread = parsed.isna() & values.notna()
            if fmt not in (None, "ISO8601") and unread.any():
                parsed[unread] = parse_datetimes(values[unread], "ISO8601")
            values = parsed
        out[name] = values
    return pd.DataFrame(out, index=frame.index)


class _Notes:
    """Per-row notes (reasons or flags), built only for the rows that have one."""

    def __init__(self, index: pd.Index):
        self.index = index
        self.parts: list[tuple[np.ndarray, str | pd.Series]] = []

    def add(self, mask: pd.Series | np.ndarray, text: str | Callable[[np.ndarray], pd.Series]) -> None:
        """Note ``text`` on the rows of ``mask``; a callable gets the mask and returns one text per such row."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.parts.append((mask, text if isinstance(text, str) else text(mask)))

    def series(self) -> pd.Series:
        if not self.parts:
            return pd.Series(np.full(len(self.index), "", dtype=object), index=self.index)
        out = pd.Series("", index=self.index, dtype=object)
        rows = np.logical_or.reduce([mask for mask, _ in self.parts])
        notes = pd.Series("", index=self.index[rows], dtype=object)
        for mask, text in self.parts:
            where = mask[rows]
            piece = text if isinstance(text, str) else np.asarray(text, dtype=object)
            current = notes[where]
            notes[where] = np.where(current == "", piece, current + "; " + piece)
        out[rows] = notes.to_numpy()
        return out


def _unreadable(name: str, raw: pd.Series, what: str) -> Callable[[np.ndarray], pd.Series]:
    """Reasons naming the value, built only for the rows that need one."""
    return lambda mask: f"{name}: " + raw[mask].astype(str).str.slice(0, 40).map(repr) + f" is not {what}"


def check_inputs(frame: pd.DataFrame, contract: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Check rows against the contract. Returns (typed features, rejection reason, flags), per row.

    A missing column is an error for the whole input; a value that cannot be read rejects its row
    (the reason names the column and the value); unseen categories and values outside the
    training range are scored and flagged. Missing values are scored (the model imputes them),
    unless every input of the row is missing; a row with more than :data:`MOSTLY_MISSING_SHARE` of
    its inputs missing is flagged ``mostly missing``.
    """
    features = contract["features"]
    _refuse_missing(check_columns(list(frame.columns), contract)[0])
    typed = coerce_inputs(_prepare(frame, features), features)
    reasons, flags = _Notes(frame.index), _Notes(frame.index)
    # numpy rather than pandas operations: the same speed on big chunks, far less overhead on one row
    for spec in features:
        name, role = spec["name"], spec["role"]
        raw = frame[name]
        if role == "numeric":
            value = typed[name].to_numpy()
            reasons.add(pd.notna(raw.to_numpy()) & np.isnan(value), _unreadable(name, raw, "a number"))
            infinite = np.isinf(value)
            if infinite.any():
                reasons.add(infinite, f"{name}: not a finite number")
                value = np.where(infinite, np.nan, value)
                typed[name] = value
            if spec.get("min") is not None:
                with np.errstate(invalid="ignore"):
                    outside = (value < spec["min"]) | (value > spec["max"])
                flags.add(outside, f"{name}: outside training range")
        elif role == "datetime":
            value = typed[name].to_numpy(dtype="datetime64[ns]")
            reasons.add(pd.notna(raw.to_numpy()) & np.isnat(value), _unreadable(name, raw, "a date"))
            if spec.get("min") is not None:
                low, high = pd.Timestamp(spec["min"]), pd.Timestamp(spec["max"])
                if not spec.get("has_time"):
                    high = high + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")  # the whole last day
                flags.add(
                    (value < low.to_datetime64()) | (value > high.to_datetime64()), f"{name}: outside training dates"
                )
        elif "categories" in spec and spec.get("complete", True):
            value = typed[name]
            if len(value) <= 64:
                known = set(spec["categories"])
                unseen = np.fromiter((v is not None and v == v and v not in known for v in value), bool, len(value))
            else:
                unseen = (value.notna() & ~value.isin(spec["categories"])).to_numpy()
            flags.add(unseen, f"{name}: unseen category")
    empty = np.sum([pd.isna(frame[spec["name"]].to_numpy()) for spec in features], axis=0)
    # an empty line (',,,' at the end of a spreadsheet export) is not a case to score
    reasons.add(empty == len(features), EMPTY_ROW)
    mostly = (empty > MOSTLY_MISSING_SHARE * len(features)) & (empty < len(features))
    of_all = f" of {len(features)} inputs empty"
    flags.add(mostly, lambda mask: f"{MOSTLY_MISSING}: " + pd.Series(empty[mask]).astype(str) + of_all)
    return typed, reasons.series(), flags.series()


# --- the champion ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    pipeline: Any
    contract: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def classes(self) -> list[Any]:
        return self.contract["classes"]

    @property
    def features(self) -> list[dict[str, Any]]:
        return self.contract["features"]

    @cached_property
    def typical(self) -> pd.DataFrame:
        """One row of typical training values, typed like the model's inputs."""
        values = {f["name"]: f.get("typical") for f in self.features}
        return coerce_inputs(_prepare(pd.DataFrame([values]), self.features), self.features)

    @cached_property
    def class_labels(self) -> np.ndarray:
        return np.asarray([str(c) for c in self.classes], dtype=object)


_models: dict[tuple[str, str, int], LoadedModel] = {}
_models_lock = threading.Lock()
_champions: dict[tuple[str, str], tuple[int, float, int | None]] = {}
_champions_lock = threading.Lock()


def load_version(settings: Settings, name: str, version: int) -> LoadedModel:
    key = (settings.tracking_uri, name, int(version))
    with _models_lock:
        if key not in _models:
            info = registry.get_version(settings, name, version)
            _models[key] = LoadedModel(
                name=name,
                version=int(version),
                pipeline=registry.load_model(settings, name, version),
                contract=registry.load_document(settings, info.run_id, CONTRACT_FILE),
                tags=dict(info.tags),
            )
        return _models[key]


def _latest_alias_event(session: Session, name: str) -> int | None:
    return session.scalar(select(func.max(AliasEvent.id)).where(AliasEvent.model_name == name))


def champion_version(settings: Settings, name: str, *, session: Session | None = None) -> int:
    """The version holding ``champion`` (cached as the module docstring says; ``session`` lets a
    promotion recorded in Sift's alias history be seen at once)."""
    key = (settings.tracking_uri, name)
    event = _latest_alias_event(session, name) if session is not None else None
    now = time.monotonic()
    with _champions_lock:
        cached = _champions.get(key)
    if cached is not None and now - cached[1] < CHAMPION_TTL and (session is None or cached[2] == event):
        return cached[0]
    version = registry.alias_version(settings, name)
    with _champions_lock:
        _champions[key] = (version, now, event)
    return version


def forget_champions() -> None:
    """Forget every cached champion lookup: the next call asks MLflow."""
    with _champions_lock:
        _champions.clear()


def load_champion(settings: Settings, name: str, *, session: Session | None = None) -> LoadedModel:
    return load_version(settings, name, champion_version(settings, name, session=session))


# --- the ledger -----------------------------------------------------------------------------

_LEDGER_KEYS = [c.name for c in Prediction.__table__.columns]
_SQLITE_INSERT = f"INSERT INTO predictions ({', '.join(_LEDGER_KEYS)}) VALUES ({', '.join('?' * len(_LEDGER_KEYS))})"


def _json_lines(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    # pandas' JSON writer is C code: far faster than json.dumps per row
    return frame.to_json(orient="records", lines=True, date_format="iso").rstrip("\n").split("\n")


@dataclass
class _LedgerRows:
    """The columns of a block of ledger rows, as lists the driver takes."""

    inputs: list[str]
    predicted: list[str]
    probabilities: list[str]
    confidence: list[float]
    flags: list[str]

    @classmethod
    def build(cls, model: LoadedModel, typed: pd.DataFrame, proba: np.ndarray, flags: pd.Series) -> _LedgerRows:
        proba = np.asarray(proba, dtype="float64")
        probabilities = pd.DataFrame(proba, columns=list(model.class_labels)).round(6)
        return cls(
            inputs=_json_lines(typed),
            predicted=model.class_labels[proba.argmax(axis=1)].tolist() if len(proba) else [],
            probabilities=_json_lines(probabilities),
            confidence=proba.max(axis=1).tolist() if len(proba) else [],
            flags=flags.tolist(),
        )


def _insert_ledger(
    connection: Connection,
    first_id: int,
    rows: _LedgerRows,
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


# --- one row --------------------------------------------------------------------------------


@dataclass
class ScoredRow:
    prediction_id: int
    prediction: Any
    probabilities: dict[str, float]
    confidence: float
    model_version: int
    flags: list[str]
    explanation: Explanation | None = None
    model_name: str = ""


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")


def _form_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def score_values(
    *, session: Session, model: LoadedModel, values: dict[str, Any], source: str = "form", explain: bool = True
) -> ScoredRow:
    """Score one row with ``model``, explain it and record it in the ledger. The caller commits."""
    _check_source(source)
    frame = pd.DataFrame([{k: _form_value(v) for k, v in values.items()}])
    typed, reasons, flags = check_inputs(frame, model.contract)
    if reasons.iat[0]:
        raise InputContractError(f"This row cannot be scored: {reasons.iat[0]}. Correct the value and try again.")
    transformed = model.pipeline[:-1].transform(typed)
    proba = np.asarray(model.pipeline[-1].predict_proba(transformed), dtype="float64")
    best = int(proba[0].argmax())
    explanation = (
        explain_row(model.pipeline, typed, best, typical=model.typical, transformed=transformed) if explain else None
    )
    first_id = reserve_ids(session, "prediction", 1)
    rows = _LedgerRows.build(model, typed, proba, flags)
    _insert_ledger(session.connection(), first_id, rows, model=model, source=source, batch_id=None, now=utcnow())
    return ScoredRow(
        prediction_id=first_id,
        prediction=_plain(model.classes[best]),
        probabilities={str(c): float(p) for c, p in zip(model.classes, proba[0], strict=True)},
        confidence=float(proba[0, best]),
        model_version=model.version,
        flags=[f for f in flags.iat[0].split("; ") if f],
        explanation=explanation,
        model_name=model.name,
    )


def score_row(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    values: dict[str, Any],
    source: str = "form",
    explain: bool = True,
) -> ScoredRow:
    """Score one row with the champion, explain it and record it in the ledger. The caller commits."""
    model = load_champion(settings, dataset, session=session)
    return score_values(session=session, model=model, values=values, source=source, explain=explain)


def typed_values(model: LoadedModel, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (a ledger row's inputs, a training row) read as the model reads them, for a form.

    Numbers as floats, dates as ``pandas.Timestamp``, other values as text; missing values and
    values that cannot be read as None. Columns the model does not use are left out.
    """
    frame = pd.DataFrame([{f["name"]: _form_value(values.get(f["name"])) for f in model.features}])
    typed = coerce_inputs(_prepare(frame, model.features), model.features)
    out: dict[str, Any] = {}
    for name in typed.columns:
        value = typed[name].iloc[0]
        out[name] = None if value is None or (not isinstance(value, str) and pd.isna(value)) else _plain(value)
    return out


# --- spreadsheet-safe CSV -------------------------------------------------------------------


def _risky(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def _text_columns(frame: pd.DataFrame) -> np.ndarray:
    return np.flatnonzero([dtype.kind == "O" for dtype in frame.dtypes])


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Make text cells safe to open in a spreadsheet (OWASP CSV injection guidance).

    A text cell starting with = + - @ tab or CR gets a leading apostrophe; numbers, including
    negative ones written as text, stay numbers. Works on distinct values, so it is cheap on
    columns such as the predicted class.
    """
    out = frame
    for position in _text_columns(frame):
        values = frame.iloc[:, position]
        codes, uniques = pd.factorize(values)
        if not len(uniques):
            continue
        text = pd.Series(uniques, dtype=object).astype(str)
        risky = text.str.startswith(FORMULA_PREFIXES).to_numpy()
        if not risky.any():
            continue
        numeric = pd.to_numeric(pd.Series(uniques, dtype=object).where(risky), errors="coerce").notna().to_numpy()
        change = risky & ~numeric
        if not change.any():
            continue
        fixed = np.asarray(uniques, dtype=object).copy()
        fixed[change] = "'" + text[change].to_numpy(dtype=object)
        if out is frame:
            out = frame.copy()
        out.iloc[:, position] = pd.Series(np.append(fixed, None)[codes], index=frame.index, dtype=object)
    return out


def _safe_header(names: list[str]) -> list[str]:
    return ["'" + n if _risky(n) else n for n in map(str, names)]


class CsvOutput:
    """A CSV file written in parts with pyarrow's writer (C++, outside the GIL), neutralised.

    Text cells and header names a spreadsheet would run as formulas get a leading apostrophe;
    text cells are quoted. The header is written with the first part, even an empty one.
    """

    def __init__(self, sink: str | Path | BinaryIO):
        self.sink = sink
        self._stream: Any = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        if self._stream is not None and frame.empty:
            return
        safe = neutralise_formulas(frame)
        safe = safe.set_axis(_safe_header(list(safe.columns)), axis=1)
        try:
            table = pa.Table.from_pandas(safe, preserve_index=False)
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed types in a text column: write them as text
            for position in _text_columns(safe):
                column = safe.iloc[:, position]
                safe.iloc[:, position] = column.map(str).where(column.notna(), None)
            table = pa.Table.from_pandas(safe, preserve_index=False)
        if self._stream is None:
            if isinstance(self.sink, (str, Path)):
                self._stream = pa.OSFile(str(self.sink), "wb")
            else:
                self._stream = self.sink
            header = True
        else:
            header = False
        pa_csv.write_csv(table, self._stream, pa_csv.WriteOptions(include_header=header))
        self.rows += len(frame)

    def close(self) -> None:
        if self._stream is not None and isinstance(self.sink, (str, Path)):
            self._stream.close()


def rejected_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.rejected.csv")


# --- batches ----------------------------------------------------------------------------------


def file_fingerprint(path: str | Path) -> tuple[str, int]:
    """(sha256 of the file, number of line breaks): one pass, the GIL released while hashing."""
    digest, lines = hashlib.sha256(), 0
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
            lines += block.count(b"\n")
    return digest.hexdigest(), lines


@dataclass(frozen=True)
class FileScan:
    """What one pass over a batch file's bytes tells before it is parsed."""

    digest: str  # sha256 of the file
    lines: int  # line breaks (\n, \r\n, or a lone \r unless lines end with \n), plus a last line without one
    quoted: bool  # it holds a quote character: values may span lines
    space_before_quote: bool  # a quote after spaces at a field's start (read as quoting only past the spaces)


def _wide(encoding: str) -> bool:
    """UTF-16 and UTF-32: line breaks and quotes are not single bytes there."""
    return codecs.lookup(encoding).name.replace("_", "-").startswith(("utf-16", "utf-32"))


def _breaks(text: str | bytes, line_end: str | None = None) -> int:
    """Line breaks in ``text``: with ``line_end`` "\n" (:attr:`CsvFormat.line_end`) a lone \r is part of a value."""
    newline, cr = ("\n", "\r") if isinstance(text, str) else (b"\n", b"\r")
    if line_end == "\n":
        return text.count(newline)
    return text.count(newline) + text.count(cr) - text.count(cr + newline)


def scan_file(path: str | Path, fmt: CsvFormat) -> FileScan:
    """Hash the file and count its lines in one pass (bytes, or text for UTF-16/32), the GIL mostly released."""
    digest, lines, quoted, spaced = hashlib.sha256(), 0, False, False
    wide = _wide(fmt.encoding)
    decoder = codecs.getincrementaldecoder(fmt.encoding)(errors="replace") if wide else None
    pattern = f'[\r\n{re.escape(fmt.delimiter)}][ \t]+"'
    spaced_quote = re.compile(pattern if wide else pattern.encode())
    tail: str | bytes = "\n" if wide else b"\n"  # the first line starts a field too
    last: str | bytes = "" if wide else b""
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
            text = decoder.decode(block) if decoder is not None else block
            if not text:
                continue
            lines += _breaks(text, fmt.line_end) - (last[-1:] + text[:1] == ("\r\n" if wide else b"\r\n"))
            quoted = quoted or ('"' if wide else b'"') in text
            spaced = spaced or (quoted and spaced_quote.search(tail + text) is not None)
            tail, last = text[-64:], text
    if last and last[-1:] not in (("\r", "\n") if wide else (b"\r", b"\n")):
        lines += 1  # a last line without a line break
    return FileScan(digest.hexdigest(), lines, quoted, spaced)


def batch_status(batch: Batch, now: datetime | None = None) -> str:
    """running | complete | incomplete; a running batch whose worker is gone is incomplete."""
    if batch.status != "running":
        return batch.status
    if batch.pid is not None and batch.host == HOST and not process_alive(batch.pid):
        return "incomplete"
    last = batch.heartbeat_at or batch.created_at
    return "incomplete" if last is None or (now or datetime.now(UTC)) - last > STALE_AFTER else "running"


def find_unfinished(*, session: Session, dataset: str, input_hash: str) -> Batch | None:
    """The latest batch of this file (by content) for the dataset that is not complete, if any."""
    stmt = (
        select(Batch)
        .where(Batch.dataset == dataset, Batch.input_hash == input_hash, Batch.status != "complete")
        .order_by(Batch.created_at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def _cells_as_written(
    path: Path, fmt: CsvFormat, chunk_size: int, *, skip_initial_space: bool
) -> Iterator[pd.DataFrame]:
    """The file's cells as text exactly as written (nothing read as missing, spaces kept), in the
    chunks :func:`~core.datasets.reading.iter_csv` reads: the same rows, blank lines skipped alike.

    Spaces before a quoted value change where the value ends, so a file that has them
    (``skip_initial_space``) is read without the spaces at the start of its cells, as iter_csv reads it.
    """
    reader = pd.read_csv(
        path,
        sep=fmt.delimiter,
        encoding=fmt.encoding,
        header=0,
        names=fmt.names,
        index_col=False,
        dtype=str,
        na_filter=False,
        keep_default_na=False,
        skipinitialspace=skip_initial_space,
        skip_blank_lines=True,
        low_memory=False,
        chunksize=chunk_size,
        lineterminator=fmt.line_end,
    )
    with reader:
        yield from reader


def _cell_breaks(cells: pd.DataFrame, line_end: str | None) -> int:
    """Line breaks inside the cells (quoted values that span lines)."""
    total = 0
    for position in range(cells.shape[1]):
        column = cells.iloc[:, position]
        has = column.str.contains("[\r\n]", regex=True)
        if has.any():
            total += int(sum(_breaks(v, line_end) for v in column[has]))
    return total


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
                breaks = _cell_breaks(cells, self.line_end) if self.quoted else 0
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
    rows = _LedgerRows.build(model, chunk.typed, chunk.proba, chunk.flags[chunk.good])
    first_id = 0
    with sessions.begin() as session:
        if chunk.scored:
            first_id = reserve_ids(session, "prediction", chunk.scored)
            _insert_ledger(session.connection(), first_id, rows, model=model, source=source, batch_id=batch.id, now=now)
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
    _check_source(source)
    input_path, output_path = Path(input_path), Path(output_path)
    fingerprint: dict[str, Any] = {}

    fmt = sniff(input_path)  # refuses what is not a readable CSV file before anything else

    def hash_file() -> None:
        try:
            fingerprint["value"] = scan_file(input_path, fmt)
        except BaseException as exc:  # reported when joined
            fingerprint["error"] = exc

    _check_outputs(input_path, output_path)
    hasher = threading.Thread(target=hash_file, name="sift-batch-hash", daemon=True)
    hasher.start()
    with sessions() as session:
        model = load_champion(settings, dataset, session=session)
    missing, extra = check_columns(fmt.names, model.contract)
    _refuse_missing(missing)
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
    cells = _cells_as_written(input_path, read_as, chunk_size, skip_initial_space=scan.space_before_quote)
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
    header = 1 + sum(_breaks(name, fmt.line_end) for name in fmt.names)
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


def _check_outputs(input_path: Path, output_path: Path) -> None:
    rejected = rejected_path(output_path)
    if not output_path.parent.is_dir():
        raise InputFileError(
            f"The folder for the output, {output_path.parent}, does not exist. Create it or choose another."
        )
    for path in (output_path, rejected):
        if path.resolve() == input_path.resolve():
            raise InputFileError(f"The output would overwrite the input file {input_path.name}: choose another output.")
        if path.is_dir():
            raise InputFileError(f"{path} is a folder: give the output a file name, e.g. {path / 'scored.csv'}.")


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


# --- reading batches and predictions back -------------------------------------------------------


def get_batch(*, session: Session, batch_id: str) -> Batch:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise BatchNotFound(f"No batch {batch_id!r}. The Batches list (python -m core batches) shows them.")
    return batch


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


def get_prediction(*, session: Session, prediction_id: int) -> Prediction | None:
    return session.get(Prediction, int(prediction_id))


def training_row(*, session: Session, model: LoadedModel, seed: int | None = None) -> dict[str, Any]:
    """A random row of the dataset version the model was trained on: ``{"values", "target", "row", "dataset"}``.

    ``values`` holds the model's input columns as stored (numbers, ISO dates, text).
    """
    from sqlalchemy import MetaData, Table

    from core.datasets.versions import get_version

    name = model.tags.get("sift.dataset", model.name)
    number = model.tags.get("sift.dataset_version")
    try:
        version = get_version(session=session, name=name, version=int(number) if number else None)
    except SiftError as exc:
        raise DatasetNotFound(
            f"The training data of {model.name} v{model.version} ({name} version {number}) is not there any more."
        ) from exc
    if version.row_count < 1:
        raise DatasetNotFound(f"{version.label} has no rows.")
    row_id = int(np.random.default_rng(seed).integers(0, version.row_count))
    table = Table(version.rows_table, MetaData(), autoload_with=session.connection())
    found = session.execute(select(table).where(table.c.row_id == row_id)).one()._mapping
    stored = {c["name"]: found[f"c{i}"] for i, c in enumerate(version.columns)}
    return {
        "values": {f["name"]: stored.get(f["name"]) for f in model.features},
        "target": stored.get(version.target),
        "row": row_id,
        "dataset": version.label,
    }
