"""The input contract: what a model version was trained on, built at training and checked on every input.

**The contract** (:func:`build_contract`, stored with each model version as :data:`CONTRACT_FILE`):
per feature its role, the training range and a typical value (numbers, dates), the known
categories, and the format a dataset version recorded for it (number style, date format).
:func:`check_inputs` holds rows against it: a missing column refuses the whole input; a value that
cannot be read (text in a numeric column, an unparsable date, an infinite number) rejects its row
with the reason; unseen categories, values outside the training range and rows with most inputs
empty (:data:`MOSTLY_MISSING_SHARE`) are scored and flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.datasets.reading import sniff
from core.datasets.roles import NUMBER_STYLES, convert_numbers, parse_datetimes
from core.errors import InputContractError
from core.features import coerce_inputs
from core.labels import plain

CONTRACT_FILE = "input_contract.json"
CONTRACT_VERSION = 2
MAX_CATEGORIES = 1000
EMPTY_ROW = "every input is empty"
# a row with more than this share of the model's inputs empty is scored on imputed values more than
# on its own: it is scored and flagged, so its confident-looking answer is not taken at face value
MOSTLY_MISSING_SHARE = 0.5
MOSTLY_MISSING = "mostly missing"


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
    return {"contract_version": CONTRACT_VERSION, "features": specs, "classes": [plain(c) for c in classes]}


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


def refuse_missing(missing: list[str]) -> None:
    if missing:
        raise InputContractError(
            f"Missing column{'s' if len(missing) > 1 else ''} the model needs: {', '.join(map(repr, missing))}. "
            "Add them (a column may be empty) and try again."
        )


def prepare_inputs(frame: pd.DataFrame, features: list[dict[str, Any]]) -> pd.DataFrame:
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
    refuse_missing(check_columns(list(frame.columns), contract)[0])
    typed = coerce_inputs(prepare_inputs(frame, features), features)
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


# --- one plain row, without pandas ----------------------------------------------------------------

_NUMBER_DTYPE = np.dtype("float64")


class RowCheck:
    """:func:`check_inputs` for one row of plain values, without pandas' per-column cost (the API's one-row path).

    It reads only what needs no parsing: a finite JSON number (not a boolean) for a numeric input,
    a string for a category or text, None for a missing value, and no date inputs. For anything
    else :meth:`check` returns None and the caller uses :func:`check_inputs`; where it answers, it
    answers exactly as :func:`check_inputs` does (tests hold the two against each other).
    """

    def __init__(self, contract: dict[str, Any]):
        self.features = contract["features"]
        self.usable = not any(f["role"] == "datetime" for f in self.features)
        self.known = {
            f["name"]: frozenset(f["categories"])
            for f in self.features
            if "categories" in f and f.get("complete", True)
        }

    def check(self, values: dict[str, Any]) -> tuple[pd.DataFrame, str, str] | None:
        """(typed one-row frame, rejection reason, flags) as :func:`check_inputs` gives them, or None."""
        if not self.usable:
            return None
        typed: dict[str, np.ndarray] = {}
        flags: list[str] = []
        empty = 0
        for spec in self.features:
            name, role = spec["name"], spec["role"]
            value = values[name]
            if value is None:
                empty += 1
            if role == "numeric":
                if value is None:
                    number = np.nan
                elif (type(value) is float and np.isfinite(value)) or (type(value) is int and abs(value) <= 1e308):
                    number = float(value)
                    if spec.get("min") is not None and (number < spec["min"] or number > spec["max"]):
                        flags.append(f"{name}: outside training range")
                else:
                    return None
                typed[name] = np.array([number], dtype=_NUMBER_DTYPE)
            elif value is None or type(value) is str:
                if role == "text" and value is None:
                    value = ""
                elif name in self.known and value is not None and value not in self.known[name]:
                    flags.append(f"{name}: unseen category")
                typed[name] = np.array([value], dtype=object)
            else:
                return None
        n = len(self.features)
        reason = EMPTY_ROW if empty == n else ""
        if MOSTLY_MISSING_SHARE * n < empty < n:
            flags.append(f"{MOSTLY_MISSING}: {empty} of {n} inputs empty")
        return pd.DataFrame(typed, copy=False), reason, "; ".join(flags)
