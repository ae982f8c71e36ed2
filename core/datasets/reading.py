"""Reading a user's CSV file into a DataFrame, with clear refusals for what cannot be read.

One code path for the command line, the Data page and batch scoring: :func:`sniff` finds the
encoding, delimiter and header (and refuses what is not a usable text table), :func:`read_csv`
reads the whole file, :func:`iter_csv` reads it in chunks with the same rules.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.datasets.encodings import describe_encoding, detect_encoding, guess_encoding, likeliest_encoding
from core.errors import ColumnError, InputFileError

DEFAULT_MISSING_MARKERS = ("", "NA", "N/A", "null", "?")
SNIFF_BYTES = 1 << 20
SNIFF_RECORDS = 200
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# PostgreSQL allows 1,600 columns per table and SQLite 2,000; one holds the row number
MAX_COLUMNS = 1500
_SAVE_AS_CSV = "Open it in your spreadsheet program and save it as 'CSV UTF-8 (comma delimited)', then use the CSV."
_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PAR1", "a Parquet file"),
)


@dataclass
class CsvFile:
    """What was read from a file, and how."""

    frame: pd.DataFrame
    encoding: str
    delimiter: str
    missing_markers: list[str] = field(default_factory=lambda: list(DEFAULT_MISSING_MARKERS))


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    names: list[str]
    # "\n" when the file's lines end with a bare line feed: a lone carriage return is then part of a
    # value (pandas and Python's csv module write one unquoted), not a line break
    line_end: str | None = None


def normalise_markers(markers: Iterable[str] | None) -> list[str]:
    """The missing-value markers to use: the defaults, or the given ones stripped and deduplicated."""
    if markers is None:
        return list(DEFAULT_MISSING_MARKERS)
    if isinstance(markers, str):
        raise TypeError("missing_markers is a list of strings, not one string")
    return list(dict.fromkeys(str(m).strip() for m in markers))


def marker_variants(markers: Iterable[str]) -> set[str]:
    """Markers match whatever their case: 'null', 'NULL' and 'Null' are all missing."""
    return {v for m in markers for v in (m, m.lower(), m.upper(), m.title())}


def _head(path: Path) -> bytes:
    if not path.exists():
        raise InputFileError(f"File not found: {path}. Check the path and try again.")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder, not a CSV file.")
    with path.open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def _refuse_binary(name: str, head: bytes) -> None:
    if head.startswith(b"PK\x03\x04"):
        if b"opendocument.spreadsheet" in head[:200]:
            what = "an OpenDocument spreadsheet (.ods)"
        elif b"xl/" in head or b"[Content_Types].xml" in head:
            what = "an Excel workbook (.xlsx)"
        else:
            what = "a ZIP archive (an Excel workbook .xlsx is one)"
        raise InputFileError(f"{name} is {what}, not a CSV file. {_SAVE_AS_CSV}")
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            hint = _SAVE_AS_CSV if "Excel" in what else "Choose a CSV file."
            raise InputFileError(f"{name} is {what}, not a CSV file. {hint}")


def _refuse_encoding(name: str, sample: bytes, where: str = "") -> None:
    likeliest = likeliest_encoding(sample)
    guess = f" (it looks most like {describe_encoding(likeliest)})" if likeliest else ""
    raise InputFileError(
        f"{name}: the characters{where} could not be read with confidence: it is not UTF-8 and "
        f"not one encoding a spreadsheet program writes{guess}. Open it in your spreadsheet program "
        "and save it as 'CSV UTF-8 (comma delimited)', then use the CSV."
    )


def _encoding_past_head(path: Path, start: int) -> str:
    """The encoding of a file that is UTF-8 up to ``start`` (the start of a line) but not further on.

    Looks at the first block that is not UTF-8 (from the start of its line), not at the whole file.
    """
    with path.open("rb") as fh:
        fh.seek(start)
        carried = b""
        while block := fh.read(SNIFF_BYTES):
            block, carried = carried + block, b""
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.reason == "unexpected end of data" and exc.start >= len(block) - 3:
                    carried = block[exc.start :]  # a character cut at the end of the block
                    continue
                window = block[block.rfind(b"\n", 0, exc.start) + 1 :]
                encoding = guess_encoding(window)
                if encoding is None:
                    _refuse_encoding(path.name, window, " past its first part")
                return encoding
    return "utf-8"


def _records(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    try:
        for record in reader:
            if record:
                records.append(record)
            if len(records) > SNIFF_RECORDS:
                return records[:SNIFF_RECORDS]
    except csv.Error:
        pass
    # the last record of a cut sample may be cut too
    return records if complete or len(records) < 2 else records[:-1]


def detect_delimiter(text: str, complete: bool = True) -> str:
    """The delimiter (comma, semicolon, tab, pipe) that splits the header and rows alike."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        records = _records(text, delimiter, complete)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        consistent = sum(len(r) == width for r in records) / len(records)
        if (consistent, width) > best_score:
            best, best_score = delimiter, (consistent, width)
    return best


def _decode_sample(head: bytes, encoding: str, complete: bool) -> str:
    # incremental: a multi-byte character cut at the end of a sample is left out, not mangled
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=complete)
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text.lstrip("\ufeff")


def _refuse_comments(name: str, text: str) -> None:
    """Refuse a file whose first lines are comments ('# exported ...'): they would be read as the header."""
    comments = list(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines()))
    if len(comments) == 1:
        lines, them = "a line that looks like a comment", "it"
    else:
        lines, them = f"{len(comments)} lines that look like comments", "them"
    if comments:
        raise InputFileError(
            f"{name} starts with {lines} ({comments[0].strip()!r}): delete {them} "
            "so that the first line holds the column names."
        )


def sniff(path: str | Path) -> CsvFormat:
    """Check that ``path`` is a readable text table; find its encoding, delimiter and header."""
    path = Path(path)
    head = _head(path)
    complete = path.stat().st_size <= len(head)
    _refuse_binary(path.name, head)
    encoding = detect_encoding(head)
    if b"\x00" in head and not (encoding or "").startswith(("utf-16", "utf_16", "utf-32", "utf_32")):
        raise InputFileError(f"{path.name} is not a text file (it holds binary data). Choose a CSV file.")
    if encoding is None:
        _refuse_encoding(path.name, head)
    text = _decode_sample(head, encoding, complete)
    if not text.strip():
        raise InputFileError(f"{path.name} is empty. Choose a CSV file with a header row and data rows.")
    delimiter = detect_delimiter(text, complete)
    records = _records(text, delimiter, complete)
    if not records:
        raise InputFileError(f"{path.name} is empty. Choose a CSV file with a header row and data rows.")
    names = [h.strip() or f"column_{i + 1}" for i, h in enumerate(records[0])]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    duplicates = [n for n, count in seen.items() if count > 1]
    if duplicates:
        raise ColumnError(
            f"{path.name} has duplicate column names: {', '.join(map(repr, duplicates))}. "
            "Rename them so every column has its own name (spaces around a name do not count)."
        )
    if len(names) > MAX_COLUMNS:
        raise ColumnError(
            f"{path.name} has {len(names):,} columns; Sift reads at most {MAX_COLUMNS:,}. "
            "Remove the columns you do not need and try again."
        )
    for number, record in enumerate(records[1:], start=2):
        if len(record) > len(names):
            _refuse_comments(path.name, text)
            raise InputFileError(
                f"{path.name}: record {number} has {len(record)} fields but the header has {len(names)} "
                f"({DELIMITER_NAMES[delimiter]}-separated). Check the quoting of values that contain the delimiter."
            )
    line_end = "\n" if "\n" in text and "\r\n" not in text else None
    return CsvFormat(encoding=encoding, delimiter=delimiter, names=names, line_end=line_end)


def _read(path: Path, fmt: CsvFormat, markers: list[str], chunksize: int | None = None, encoding: str | None = None):
    try:
        with warnings.catch_warnings():
            # more fields in a row than in the header: refuse rather than drop them
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                path,
                sep=fmt.delimiter,
                encoding=encoding or fmt.encoding,
                header=0,
                names=fmt.names,  # our own stripped names: pandas never renames duplicates
                index_col=False,
                na_values=sorted(marker_variants(markers)),
                keep_default_na=False,
                skipinitialspace=True,
                low_memory=False,
                chunksize=chunksize,
                lineterminator=fmt.line_end,
            )
    except pd.errors.ParserWarning as exc:
        raise InputFileError(
            f"{path.name} has rows with more fields than the header. Check the quoting of values "
            "that contain the delimiter, or add the missing column names."
        ) from exc
    except pd.errors.ParserError as exc:
        raise InputFileError(f"{path.name} could not be parsed as CSV: {_parser_message(exc)}") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputFileError(f"{path.name} has no columns. Choose a CSV file with a header row.") from exc


def _parser_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. C error: ", "")
    return f"{text}. Check the quoting of values that contain the delimiter or a line break."


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (bool, np.bool_)):  # true/false with gaps: text, as a full true/false column reads
        return str(bool(value)).lower()
    return value


def _tidy_column(values: pd.Series, markers: set[str]) -> pd.Series:
    """Strip surrounding whitespace and blank out missing markers, working on distinct values."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if not len(uniques):
        return values
    uniques = np.asarray(uniques, dtype=object)
    cleaned = np.array([_clean(v) for v in uniques], dtype=object)
    blank = np.array([isinstance(v, str) and v in markers for v in cleaned])
    changed = blank.any() or any(a is not b for a, b in zip(uniques, cleaned, strict=True))
    if not changed:
        return values
    cleaned[blank] = None
    table = np.append(cleaned, None)  # code -1 (missing) takes the last entry
    return pd.Series(table[codes], index=values.index, name=values.name, dtype=object)


def _as_numbers(values: pd.Series) -> pd.Series:
    """A text column whose every value is a plain number becomes numeric (as pandas would read it)."""
    present = values.dropna()
    if present.empty or not all(isinstance(v, str) for v in present.head(200)):
        return values
    if pd.to_numeric(present.head(200), errors="coerce").isna().any():
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().sum() != len(present):
        return values
    return numbers


def _drop_empty_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Without the rows whose every field is missing (the ',,,' lines spreadsheets leave at the end).

    A column that was missing only on those rows gets the type a file without them gives it
    (whole numbers, true/false).
    """
    filled = np.zeros(len(frame), dtype=bool)
    for column in frame.columns:
        filled |= frame[column].notna().to_numpy()
        if filled.all():
            return frame
    kept = frame[filled].reset_index(drop=True)
    for column in kept.columns[frame.isna().any().to_numpy() & kept.notna().all().to_numpy()]:
        values = kept[column]
        if values.dtype == object:
            kept[column] = values.infer_objects()
        elif values.dtype.kind == "f" and (values == values.round()).all() and values.abs().max() < 2**53:
            kept[column] = values.astype("int64")
    return kept


def _tidy(frame: pd.DataFrame, markers: list[str]) -> pd.DataFrame:
    variants = marker_variants(markers)
    for column in frame.columns[[dtype.kind == "O" for dtype in frame.dtypes]]:
        tidied = _tidy_column(frame[column], variants)
        if tidied is not frame[column]:
            frame[column] = _as_numbers(tidied)
    return frame


def read_csv(path: str | Path, missing_markers: list[str] | None = None) -> CsvFile:
    """Read a whole CSV file; refuse what is not a usable table.

    Header names and text values lose surrounding whitespace; values equal to a missing marker
    (whatever their case) become missing; rows with every field missing are dropped.
    """
    path = Path(path)
    fmt = sniff(path)
    markers = normalise_markers(missing_markers)
    encoding = fmt.encoding
    try:
        frame = _read(path, fmt, markers)
    except UnicodeDecodeError as exc:
        # the sniffed start was UTF-8 but a later part is not: find the encoding there
        if fmt.encoding != "utf-8":
            raise InputFileError(
                f"{path.name} is not valid {describe_encoding(fmt.encoding)} past its start. {_SAVE_AS_CSV}"
            ) from exc
        head = _head(path)
        start = head.rfind(b"\n") + 1
        encoding = _encoding_past_head(path, start)
        mixed = InputFileError(
            f"{path.name} mixes encodings (UTF-8 at its start, {describe_encoding(encoding)} further on). "
            f"{_SAVE_AS_CSV}"
        )
        if head[:start].decode(encoding, errors="replace") != head[:start].decode("utf-8"):
            raise mixed from exc
        try:
            frame = _read(path, fmt, markers, encoding=encoding)
        except UnicodeDecodeError as again:
            raise mixed from again
    frame = _drop_empty_rows(frame)
    if frame.empty:
        raise InputFileError(f"{path.name} has a header but no rows. Add data rows and try again.")
    return CsvFile(frame=_tidy(frame, markers), encoding=encoding, delimiter=fmt.delimiter, missing_markers=markers)


def iter_csv(
    path: str | Path, chunksize: int, missing_markers: list[str] | None = None
) -> tuple[CsvFormat, Iterator[pd.DataFrame]]:
    """Read a CSV file in chunks (flat memory for any size), with the same rules as read_csv."""
    path = Path(path)
    fmt = sniff(path)
    markers = normalise_markers(missing_markers)
    reader = _read(path, fmt, markers, chunksize=chunksize)

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                for chunk in reader:
                    yield _tidy(chunk, markers)
        except pd.errors.ParserWarning as exc:
            raise InputFileError(f"{path.name} has rows with more fields than the header.") from exc
        except pd.errors.ParserError as exc:
            raise InputFileError(f"{path.name} could not be parsed as CSV: {_parser_message(exc)}") from exc
        except UnicodeDecodeError as exc:
            raise InputFileError(
                f"{path.name} is not valid {fmt.encoding} past its start. Save it as 'CSV UTF-8' and try again."
            ) from exc

    return fmt, chunks()
