"""The bad-input set: files an analyst may bring, each written by code (no binaries in the repository).

Each :class:`BadInput` knows how to write its file and what Sift does with it: refused with a
message containing ``refused``, or accepted with the roles in ``roles`` (and stored values in
``stored``). The same table drives the command line and the Data page tests, and the README's
table of documented outcomes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROWS = 60
HOSTILE_NAMES = [
    '"; DROP TABLE dataset_versions; --',
    "x' OR '1'='1",
    'say "hi"',
    "line\nbreak",
    "größe 📏",
    "l" + "o" * 300 + "ng",
]


def _good(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """Two features and a two-class target that depends on them."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(1, 100, rows).round(2)
    return pd.DataFrame(
        {
            "size": size,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "Class": np.where(size > 50, "big", "small"),
        }
    )


def _csv(frame: pd.DataFrame, **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode(kwargs.pop("encoding", "utf-8"))


def _text_in_numbers() -> bytes:
    frame = _good().astype({"size": object})
    frame.loc[[3, 17, 40], "size"] = ["about 20", "unknown", "n.a."]
    return _csv(frame)


def _formulas() -> bytes:
    frame = _good()
    frame["note"] = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", '=HYPERLINK("http://x")', "plain"] * (
        ROWS // 6
    )
    return _csv(frame)


def _hostile_names() -> bytes:
    frame = _good()
    return _csv(
        frame.set_axis([HOSTILE_NAMES[0], HOSTILE_NAMES[1], "Class"], axis=1).assign(
            **{name: frame["size"].to_numpy() * (i + 1) for i, name in enumerate(HOSTILE_NAMES[2:])}
        )
    )


def _workbook() -> bytes:
    """A minimal Office Open XML workbook: what Excel's .xlsx is, saved under a .csv name."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        book.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        book.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet/>')
    return buffer.getvalue()


def wide_file(path: Path, megabytes: int = 50, columns: int = 1000) -> int:
    """A file of ``columns`` numeric columns and a target, about ``megabytes`` MB; returns its rows."""
    rng = np.random.default_rng(1)
    row_bytes = columns * 7
    rows = megabytes * 1_000_000 // row_bytes
    names = [f"f{i}" for i in range(columns)]
    with path.open("w") as fh:
        fh.write(",".join([*names, "Class"]) + "\n")
        for start in range(0, rows, 5000):
            n = min(5000, rows - start)
            block = pd.DataFrame(rng.integers(0, 99_999, (n, columns)) / 100, columns=names)
            block["Class"] = np.where(block["f0"] > 500, "a", "b")
            block.to_csv(fh, header=False, index=False, lineterminator="\n")
    return rows


@dataclass(frozen=True)
class BadInput:
    name: str
    content: Callable[[], bytes]
    target: str = "Class"
    refused: str | None = None  # words of the refusal; None: accepted
    roles: dict[str, str] = field(default_factory=dict)  # some of the accepted roles
    stored: dict[str, list] = field(default_factory=dict)  # the first values stored, per column
    outcome: str = ""  # the documented outcome, in words

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}.csv"
        path.write_bytes(self.content())
        return path


CASES = [
    BadInput("empty", lambda: b"", refused="is empty", outcome="refused: the file is empty"),
    BadInput(
        "header_only",
        lambda: b"size,colour,Class\n",
        refused="has a header but no rows",
        outcome="refused: a header but no rows",
    ),
    BadInput(
        "semicolons",
        lambda: _csv(_good(), sep=";"),
        roles={"size": "numeric", "colour": "categorical"},
        outcome="accepted: the semicolon is found (also tab and pipe)",
    ),
    BadInput(
        "colons",
        lambda: _csv(_good(), sep=":"),
        refused="Target column 'Class' is not in the file. Columns are: 'size:colour:Class'",
        outcome="refused: a delimiter Sift does not read (comma, semicolon, tab, pipe) gives one column, "
        "so the target is not found; the message shows the one column",
    ),
    BadInput(
        "latin1",
        lambda: (
            _csv(_good().assign(colour=lambda f: f["colour"].map({"red": "rôt", "green": "grün", "blue": "blå"})))
            .decode()
            .encode("latin-1")
        ),
        roles={"colour": "categorical"},
        outcome="accepted: read as cp1252/Latin-1, accents kept",
    ),
    BadInput(
        "missing_target",
        lambda: _csv(_good().drop(columns="Class")),
        refused="Target column 'Class' is not in the file",
        outcome="refused: names the missing target and lists the columns",
    ),
    BadInput(
        "extra_columns",
        lambda: _csv(_good().assign(id=range(ROWS), constant="same", comment=[f"note {i}" for i in range(ROWS)])),
        roles={"size": "numeric", "id": "identifier", "constant": "constant"},
        outcome="accepted: ids and constants are recognised and left out of the features",
    ),
    BadInput(
        "text_in_numbers",
        _text_in_numbers,
        roles={"size": "numeric"},
        outcome="accepted: a number column with a few text cells (at most 5 %) stays numeric; the role's reason "
        "names the text cells, which count as missing",
    ),
    BadInput(
        "workbook",
        _workbook,
        refused="is an Excel workbook (.xlsx), not a CSV file",
        outcome="refused: names the workbook and says how to save it as CSV",
    ),
    BadInput(
        "formulas",
        _formulas,
        roles={"note": "categorical"},
        stored={"note": ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]},
        outcome="accepted: formula-like cells are stored as text, as they are",
    ),
    BadInput(
        "hostile_names",
        _hostile_names,
        roles={HOSTILE_NAMES[0]: "numeric", HOSTILE_NAMES[1]: "categorical"},
        outcome="accepted: any column name is kept as it is (stored as data, never in SQL)",
    ),
    BadInput(
        "bom",
        lambda: _csv(_good()[["Class", "size", "colour"]]).decode().encode("utf-8-sig"),
        roles={"size": "numeric"},
        outcome="accepted: the byte order mark is dropped from the first column name",
    ),
    BadInput(
        "duplicate_headers",
        lambda: b"size,size ,Class\n" + b"".join(f"{i},{i},{'ab'[i % 2]}\n".encode() for i in range(ROWS)),
        refused="duplicate column names: 'size'",
        outcome="refused: names the duplicated column",
    ),
    BadInput(
        "single_class",
        lambda: _csv(_good().assign(Class="only")),
        refused="has 1 class; a classifier needs at least two",
        outcome="refused: a classifier needs at least two classes",
    ),
]
