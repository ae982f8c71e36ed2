"""Batch files: spreadsheet-safe CSV output, and what one pass over a file's bytes tells (fingerprint, lines).

Text cells a spreadsheet would run as formulas get a leading apostrophe (:func:`neutralise_formulas`,
:class:`CsvOutput`); :func:`check_outputs` refuses an output that would overwrite the input;
:func:`scan_file` hashes a file and counts its line breaks in one pass, and
:func:`cells_as_written` reads its cells as text exactly as written, for the output files.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from core.datasets.reading import CsvFormat
from core.errors import InputFileError

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


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
        # pyarrow is a heavy import, needed only once a file is written
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


def check_outputs(input_path: Path, output_path: Path) -> None:
    """Refuse an output (or its rejected file) that cannot be written or would overwrite the input."""
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


def line_breaks(text: str | bytes, line_end: str | None = None) -> int:
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
            lines += line_breaks(text, fmt.line_end) - (last[-1:] + text[:1] == ("\r\n" if wide else b"\r\n"))
            quoted = quoted or ('"' if wide else b'"') in text
            spaced = spaced or (quoted and spaced_quote.search(tail + text) is not None)
            tail, last = text[-64:], text
    if last and last[-1:] not in (("\r", "\n") if wide else (b"\r", b"\n")):
        lines += 1  # a last line without a line break
    return FileScan(digest.hexdigest(), lines, quoted, spaced)


def cells_as_written(
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


def cell_breaks(cells: pd.DataFrame, line_end: str | None) -> int:
    """Line breaks inside the cells (quoted values that span lines)."""
    total = 0
    for position in range(cells.shape[1]):
        column = cells.iloc[:, position]
        has = column.str.contains("[\r\n]", regex=True)
        if has.any():
            total += int(sum(line_breaks(v, line_end) for v in column[has]))
    return total
