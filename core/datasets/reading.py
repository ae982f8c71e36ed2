"""Reading a user's CSV file into a DataFrame, with clear refusals for what cannot be read."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import ColumnError, InputFileError

DEFAULT_MISSING_MARKERS = ("", "NA", "N/A", "null", "?")
SNIFF_BYTES = 64 * 1024
_WORKBOOK_MAGIC = {b"PK\x03\x04": "an Excel workbook (.xlsx)", b"\xd0\xcf\x11\xe0": "an Excel workbook (.xls)"}


@dataclass
class CsvFile:
    """What was read from a file, and how."""

    frame: pd.DataFrame
    encoding: str
    delimiter: str
    missing_markers: list[str] = field(default_factory=lambda: list(DEFAULT_MISSING_MARKERS))


def _head(path: Path) -> bytes:
    if not path.exists():
        raise InputFileError(f"File not found: {path}. Check the path and try again.")
    if path.is_dir():
        raise InputFileError(f"{path} is a folder, not a CSV file.")
    with path.open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start >= len(sample) - 3:
            return "utf-8"
        return "cp1252"


def detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


@dataclass(frozen=True)
class CsvFormat:
    encoding: str
    delimiter: str
    names: list[str]


def sniff(path: str | Path) -> CsvFormat:
    """Check that ``path`` is a readable text table; find its encoding, delimiter and header."""
    path = Path(path)
    head = _head(path)
    for magic, what in _WORKBOOK_MAGIC.items():
        if head.startswith(magic):
            raise InputFileError(
                f"{path.name} is {what}, not a CSV file. Open it in your spreadsheet program and "
                "save it as 'CSV (comma delimited)', then upload the CSV."
            )
    if not head.strip():
        raise InputFileError(f"{path.name} is empty. Choose a CSV file with a header row and data rows.")
    if b"\x00" in head:
        raise InputFileError(f"{path.name} is not a text file. Choose a CSV file.")
    encoding = detect_encoding(head)
    text = head.decode(encoding, errors="replace")
    delimiter = detect_delimiter(text)
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    names = [h.strip() for h in header]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ColumnError(
            f"{path.name} has duplicate column names: {', '.join(map(repr, duplicates))}. "
            "Rename them so every column has its own name."
        )
    return CsvFormat(encoding=encoding, delimiter=delimiter, names=names)


def _read(path: Path, fmt: CsvFormat, markers: list[str], chunksize: int | None = None):
    try:
        return pd.read_csv(
            path,
            sep=fmt.delimiter,
            encoding=fmt.encoding,
            na_values=[m for m in markers if m],
            keep_default_na=False,
            skipinitialspace=True,
            low_memory=False,
            chunksize=chunksize,
        )
    except pd.errors.ParserError as exc:
        raise InputFileError(f"{path.name} could not be parsed as CSV: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputFileError(f"{path.name} has no columns. Choose a CSV file with a header row.") from exc


def _tidy(frame: pd.DataFrame, fmt: CsvFormat, markers: list[str]) -> pd.DataFrame:
    frame.columns = fmt.names
    for column in frame.select_dtypes(include="object").columns:
        stripped = frame[column].str.strip()
        if "" in markers:
            stripped = stripped.mask(stripped == "")
        frame[column] = stripped
    return frame


def read_csv(path: str | Path, missing_markers: list[str] | None = None) -> CsvFile:
    """Read a whole CSV file; refuse what is not a usable table."""
    path = Path(path)
    fmt = sniff(path)
    markers = list(DEFAULT_MISSING_MARKERS if missing_markers is None else missing_markers)
    frame = _read(path, fmt, markers)
    if frame.empty:
        raise InputFileError(f"{path.name} has a header but no rows. Add data rows and try again.")
    return CsvFile(
        frame=_tidy(frame, fmt, markers), encoding=fmt.encoding, delimiter=fmt.delimiter, missing_markers=markers
    )


def iter_csv(
    path: str | Path, chunksize: int, missing_markers: list[str] | None = None
) -> tuple[CsvFormat, Iterator[pd.DataFrame]]:
    """Read a CSV file in chunks (flat memory for any size), with the same rules as read_csv."""
    path = Path(path)
    fmt = sniff(path)
    markers = list(DEFAULT_MISSING_MARKERS if missing_markers is None else missing_markers)
    reader = _read(path, fmt, markers, chunksize=chunksize)

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            for chunk in reader:
                yield _tidy(chunk, fmt, markers)
        except pd.errors.ParserError as exc:
            raise InputFileError(f"{path.name} could not be parsed as CSV: {exc}") from exc

    return fmt, chunks()
