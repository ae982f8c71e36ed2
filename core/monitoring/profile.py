"""The reference profile of a model version: what its training data looks like to each drift test.

Drift compares every window with the same training data, so the part of it each test reads is
computed once per model version (:func:`build_profile`) and stored
(:class:`~core.db.models.ReferenceProfile`, see :func:`core.monitoring.reference.reference_profile`),
instead of reading and typing the training rows again for every window. Per feature:

- numbers and dates (days since 1970), as drift reads them (:func:`typed_column`): their distinct
  finite values ascending, how often each occurs, and the standard deviation of all of them. Sorted
  values with counts give the K-S test, the normed Wasserstein distance and Jensen-Shannon exactly
  what the training rows give, and a few-valued number's categories are its distinct values;
- categories and booleans: each category (text) and its count;
- text: nothing but its counts (text drift is Evidently's, on the training rows);
- and for each, the rows and how many of them had no value.

**Exact up to a bound.** A number with more than :data:`PROFILE_VALUES` (200,000) distinct values
is kept as a seeded sample of that many of its values (``sampled_from`` says of how many): the
stored row stays small (a few MB at most per such column), and a sample of 200,000 tells a
distribution from a window's as well as the whole column would. Below that bound (any row count
when values repeat, e.g. ages or counts) the profile is exact, and the tests computed from it equal
Evidently's on the training rows (:mod:`core.monitoring.stattests`). The standard deviation that
norms the Wasserstein distance is always the whole column's. Categories are always exact.

Stored as a compressed ``.npz`` (:meth:`Profile.to_bytes`), layout :data:`LAYOUT`.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from core.features import coerce_inputs
from core.monitoring.options import CAT, KIND_OF_ROLE, NUM
from core.monitoring.sampling import seed_of

PROFILE_VALUES = 200_000  # distinct values of a number kept exactly; more: a seeded sample of this many
LAYOUT = 1  # how the .npz is laid out (bump when it changes: stored profiles are then built again)
EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")  # dates are read as days since this moment


def typed_column(values: pd.Series, spec: dict[str, Any]) -> tuple[pd.Series, int]:
    """One feature's ``values`` as drift reads them (numbers as floats, dates as days since 1970,
    categories and text as text; missing as NaN/None) and how many present values could not be read."""
    raw = values.rename(spec["name"]).reset_index(drop=True)
    if KIND_OF_ROLE[spec["role"]] != NUM and raw.dtype == object and infer_dtype(raw, skipna=True) == "string":
        # text already (a window read from the ledger is typed): what coerce_inputs gives, without a call per row
        typed = raw.where(raw.notna(), None)
        return (typed.fillna("") if spec["role"] == "text" else typed), 0
    typed = coerce_inputs(raw.to_frame(), [spec])[spec["name"]]
    if spec["role"] == "datetime":
        typed = pd.Series((typed.to_numpy(dtype="datetime64[ns]") - EPOCH) / np.timedelta64(1, "D"))
    if KIND_OF_ROLE[spec["role"]] != NUM:
        return typed, 0
    typed = typed.where(np.isfinite(typed.to_numpy(dtype="float64")))
    return typed, int((raw.notna() & typed.isna()).sum())


@dataclass(frozen=True)
class ColumnProfile:
    """One feature of the training data as the drift tests read it.

    ``values``: numbers: the distinct finite values, ascending (float64); categories: the
    categories (text, ascending). ``counts``: how often each occurs. ``missing``: rows without a
    value in the training frame. ``sampled_from``: the number of values the column had when only a
    seeded sample of :data:`PROFILE_VALUES` is kept (None: exact).
    """

    name: str
    role: str
    kind: str  # NUM, CAT or TEXT, as the role reads (a few-valued number is still NUM here)
    rows: int
    missing: int
    values: np.ndarray
    counts: np.ndarray
    std: float = 0.0  # numbers: standard deviation of all the column's values (ddof 0)
    sampled_from: int | None = None

    @property
    def present(self) -> int:
        """Values the tests compare with (for a sampled column: the sample's)."""
        return int(self.counts.sum())

    @property
    def distinct(self) -> int:
        return len(self.values)

    def sorted_values(self) -> np.ndarray:
        """Every value, ascending, as the training rows hold them (numbers)."""
        return np.repeat(self.values, self.counts)


@dataclass(frozen=True)
class Profile:
    """A model version's reference profile: the training frame's rows, the input contract's
    features, and each comparable feature's :class:`ColumnProfile`."""

    rows: int
    features: list[dict[str, Any]]
    columns: dict[str, ColumnProfile]

    @property
    def sampled(self) -> dict[str, int]:
        """Numbers kept as a seeded sample, with how many values they had."""
        return {n: c.sampled_from for n, c in self.columns.items() if c.sampled_from is not None}

    def to_bytes(self) -> bytes:
        meta = {"layout": LAYOUT, "rows": self.rows, "features": self.features, "columns": []}
        arrays: dict[str, np.ndarray] = {}
        for i, column in enumerate(self.columns.values()):
            meta["columns"].append(
                {
                    "name": column.name,
                    "role": column.role,
                    "kind": column.kind,
                    "rows": column.rows,
                    "missing": column.missing,
                    "std": column.std,
                    "sampled_from": column.sampled_from,
                }
            )
            values = column.values
            arrays[f"values{i}"] = values.astype(str) if column.kind == CAT else values
            arrays[f"counts{i}"] = column.counts
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        out = io.BytesIO()
        np.savez_compressed(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Profile:
        with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
            meta = json.loads(stored["meta"].tobytes().decode("utf-8"))
            if meta.get("layout") != LAYOUT:
                raise ValueError(f"reference profile layout {meta.get('layout')}, expected {LAYOUT}")
            columns = {}
            for i, c in enumerate(meta["columns"]):
                values = stored[f"values{i}"]
                columns[c["name"]] = ColumnProfile(
                    name=c["name"],
                    role=c["role"],
                    kind=c["kind"],
                    rows=int(c["rows"]),
                    missing=int(c["missing"]),
                    values=values.astype(object) if c["kind"] == CAT else values,
                    counts=stored[f"counts{i}"],
                    std=float(c["std"]),
                    sampled_from=c["sampled_from"],
                )
        return cls(rows=int(meta["rows"]), features=meta["features"], columns=columns)


def profile_column(frame: pd.DataFrame, spec: dict[str, Any], *, cap: int = PROFILE_VALUES) -> ColumnProfile:
    """One feature's profile from the training frame (see the module's docstring)."""
    name, role = spec["name"], spec["role"]
    kind = KIND_OF_ROLE[role]
    missing = int(frame[name].isna().sum())
    std, sampled_from = 0.0, None
    if kind == NUM:
        typed, _ = typed_column(frame[name], spec)
        present = typed.dropna().to_numpy(dtype="float64")
        std = float(np.std(present)) if len(present) else 0.0
        values, counts = np.unique(present, return_counts=True)
        if len(values) > cap:
            rng = np.random.default_rng(seed_of("profile", name))
            values, counts = np.unique(rng.choice(present, cap, replace=False), return_counts=True)
            sampled_from = len(present)
    elif kind == CAT:
        typed, _ = typed_column(frame[name], spec)
        found = typed.dropna().value_counts().sort_index()
        values, counts = found.index.to_numpy(dtype=object), found.to_numpy(dtype=np.int64)
    else:
        values, counts = np.empty(0, dtype="float64"), np.empty(0, dtype=np.int64)
    return ColumnProfile(
        name=name,
        role=role,
        kind=kind,
        rows=len(frame),
        missing=missing,
        values=values,
        counts=counts.astype(np.int64),
        std=std,
        sampled_from=sampled_from,
    )


def build_profile(frame: pd.DataFrame, features: list[dict[str, Any]], *, cap: int = PROFILE_VALUES) -> Profile:
    """The profile of a training frame for ``features`` (input-contract entries: name, role).

    Features of a role drift does not compare, and features the frame lacks, are left out (drift
    then says why it does not test them)."""
    columns = {
        spec["name"]: profile_column(frame, spec, cap=cap)
        for spec in features
        if spec["role"] in KIND_OF_ROLE and spec["name"] in frame.columns
    }
    return Profile(rows=len(frame), features=[dict(f) for f in features], columns=columns)
