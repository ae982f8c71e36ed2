"""Exploring a dataset version: overview, per-column profiles and relations to the target.

Exact counts (rows, missing cells, duplicate rows, classes) come from SQL over every row, which
stays cheap for millions of rows. Shapes (distributions, correlations, association with the
target) come from a seeded random sample of rows, read by row id, so a large dataset explores
in seconds; each result says how many rows it was computed on.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np
import pandas as pd
from sqlalchemy import MetaData, Table, bindparam, func, select
from sqlalchemy.orm import Session

from core.datasets.versions import load_frame
from core.db.models import DatasetVersion

SAMPLE_ROWS = 100_000
# mutual information with continuous columns is a nearest-neighbour estimate: keep it quick
ASSOCIATION_ROWS = 20_000
SEED = 0
# a smallest class below this share of the largest one is heavy imbalance
IMBALANCE_RATIO = 0.1
TOP_CATEGORIES = 20
ASSOCIATION_CATEGORIES = 50
TOP_CLASSES = 10
HISTOGRAM_BINS = 40
STRONG_CORRELATION = 0.9
_ROW_ID_CHUNK = 10_000
OTHER_CLASSES = "(other classes)"
MISSING = "(missing)"
OTHER_CATEGORIES = "(other values)"


# -- choosing a name and a target for a new file ------------------------------------------------


def dataset_name_from_file(filename: str) -> str:
    """A valid dataset name from an uploaded file's name: letters, digits, '_', '.', '-'."""
    stem = PurePath(filename or "").stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)[:64].rstrip("_.-")
    return name or "dataset"


# -- reading rows: everything, or a seeded random sample ----------------------------------------


@dataclass(frozen=True)
class Sample:
    """Rows to compute shapes on: every row, or a random sample of them."""

    frame: pd.DataFrame
    total_rows: int

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def is_sample(self) -> bool:
        return self.rows < self.total_rows


def _rows_table(session: Session, version: DatasetVersion) -> Table:
    return Table(version.rows_table, MetaData(), autoload_with=session.connection())


def sample_frame(*, session: Session, version: DatasetVersion, n: int = SAMPLE_ROWS, seed: int = SEED) -> Sample:
    """``n`` rows chosen at random (seeded: the same rows every time), in file order.

    A version with at most ``n`` rows is read whole. Otherwise row ids are drawn with numpy and
    read by primary key in chunks, which is far quicker than ``ORDER BY random()``.
    """
    if version.row_count <= n:
        return Sample(frame=load_frame(session=session, version=version), total_rows=version.row_count)
    ids = np.sort(np.random.default_rng(seed).choice(version.row_count, size=n, replace=False))
    table = _rows_table(session, version)
    stmt = select(table).where(table.c.row_id.in_(bindparam("ids", expanding=True))).order_by(table.c.row_id)
    conn = session.connection()
    records = []
    for start in range(0, len(ids), _ROW_ID_CHUNK):
        records.extend(conn.execute(stmt, {"ids": ids[start : start + _ROW_ID_CHUNK].tolist()}).all())
    names = [c["name"] for c in version.columns]
    # the same conversion pandas.read_sql applies, so dtypes match load_frame's
    frame = pd.DataFrame.from_records(records, columns=["row_id", *names], coerce_float=True)
    frame = frame.set_index("row_id")
    frame.index.name = None
    return Sample(frame=frame, total_rows=version.row_count)


# -- overview: exact counts over every row ------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    rows: int
    roles: dict[str, str]  # column -> role, in file order (the target has role "target")
    missing: pd.Series  # missing cells per column, over every row
    duplicate_rows: int  # rows that repeat an earlier row in every column but the identifiers
    identifiers: list[str]  # the identifier columns left out when looking for duplicates
    class_counts: pd.Series  # rows per target class, largest first (missing target left out)
    target: str

    @property
    def columns(self) -> int:
        return len(self.roles)

    @property
    def columns_by_role(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for role in self.roles.values():
            counts[role] = counts.get(role, 0) + 1
        return counts

    @property
    def missing_cells(self) -> int:
        return int(self.missing.sum())

    @property
    def imbalance_ratio(self) -> float:
        """Rows of the smallest class per row of the largest (1.0: perfectly balanced)."""
        if len(self.class_counts) < 2:
            return 1.0
        return float(self.class_counts.min() / self.class_counts.max())

    @property
    def imbalanced(self) -> bool:
        return self.imbalance_ratio < IMBALANCE_RATIO


def overview(*, session: Session, version: DatasetVersion) -> Overview:
    """Rows, roles, missing cells, duplicate rows and class balance, counted over every row in SQL."""
    table = _rows_table(session, version)
    names = [c["name"] for c in version.columns]
    cells = [table.c[f"c{i}"] for i in range(len(names))]
    conn = session.connection()
    total, *present = conn.execute(select(func.count(), *[func.count(c) for c in cells])).one()
    missing = pd.Series([total - p for p in present], index=names, dtype="int64")

    # GROUP BY sorts, which SQLite does far quicker than SELECT DISTINCT builds its index
    identifiers = [c["name"] for c in version.columns if c["role"] == "identifier"]
    compared = [cell for cell, name in zip(cells, names, strict=True) if name not in identifiers]
    repeats = (
        select((func.count() - 1).label("extra")).select_from(table).group_by(*compared).having(func.count() > 1)
    ).subquery()
    duplicates = conn.execute(select(func.coalesce(func.sum(repeats.c.extra), 0))).scalar_one()

    target = table.c[f"c{names.index(version.target)}"]
    counts = conn.execute(select(target, func.count()).where(target.is_not(None)).group_by(target)).all()
    class_counts = pd.Series({str(label): n for label, n in counts}, dtype="int64").sort_values(ascending=False)
    return Overview(
        rows=int(total),
        roles={c["name"]: c["role"] for c in version.columns},
        missing=missing,
        duplicate_rows=int(duplicates),
        identifiers=identifiers,
        class_counts=class_counts,
        target=version.target,
    )


# -- one column -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Histogram:
    """Counts in bins; ``edges`` has one more entry than ``counts`` (numbers or datetimes)."""

    edges: np.ndarray
    counts: np.ndarray
    by_class: dict[str, np.ndarray] = field(default_factory=dict)  # counts per bin, per target class


@dataclass(frozen=True)
class Categories:
    """The most frequent values; rarer ones are folded into one '(other: n values)' bar."""

    counts: pd.Series  # value -> rows, most frequent first
    by_class: pd.DataFrame  # value x target class -> rows


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    role: str
    rows: int  # rows it was computed on
    missing: int
    distinct: int
    measure: str  # what the distribution is of: "values", "text length (characters)", "dates", ...
    summary: dict[str, object]
    histogram: Histogram | None = None
    categories: Categories | None = None
    note: str = ""

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0


def _target_labels(frame: pd.DataFrame, target: str | None) -> pd.Series | None:
    """The target as text, with classes beyond the most frequent few folded together."""
    if target is None or target not in frame.columns:
        return None
    labels = frame[target].astype("string")
    top = labels.value_counts().index[:TOP_CLASSES]
    folded = labels.where(labels.isin(top) | labels.isna(), OTHER_CLASSES)
    return folded


def _edges(values: np.ndarray, integer: bool) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if integer:
        # bars a whole number wide, centred on whole numbers: one bar per value when few
        width = max(1, math.ceil((high - low + 1) / HISTOGRAM_BINS))
        bars = math.ceil((high - low + 1) / width)
        return low - 0.5 + width * np.arange(bars + 1)
    if low == high:
        return np.array([low - 0.5, high + 0.5])
    return np.histogram_bin_edges(values, bins=HISTOGRAM_BINS)


def _histogram(values: pd.Series, labels: pd.Series | None, integer: bool) -> Histogram | None:
    present = values.dropna()
    if present.empty:
        return None
    numbers = present.to_numpy(dtype="float64")
    edges = _edges(numbers, integer)
    counts, _ = np.histogram(numbers, bins=edges)
    by_class = {}
    if labels is not None:
        classes = labels.loc[present.index]
        for label in classes.dropna().value_counts().index:
            by_class[str(label)] = np.histogram(numbers[(classes == label).to_numpy()], bins=edges)[0]
    return Histogram(edges=edges, counts=counts, by_class=by_class)


def _categories(values: pd.Series, labels: pd.Series | None) -> Categories:
    text = values.astype("string").fillna(MISSING)
    counts = text.value_counts()
    if len(counts) > TOP_CATEGORIES:
        rare = counts.index[TOP_CATEGORIES:]
        other = f"(other: {len(rare)} values)"
        text = text.where(~text.isin(rare), other)
        counts = pd.concat([counts.iloc[:TOP_CATEGORIES], pd.Series({other: counts.iloc[TOP_CATEGORIES:].sum()})])
    if labels is None:
        by_class = pd.DataFrame(index=counts.index)
    else:
        by_class = pd.crosstab(text, labels.fillna(MISSING)).reindex(counts.index).fillna(0).astype("int64")
        by_class = by_class[by_class.sum().sort_values(ascending=False).index]
        by_class.columns.name = None
    counts.name = None
    return Categories(counts=counts, by_class=by_class)


def _seconds(values: pd.Series) -> pd.Series | None:
    """Dates as seconds since 1970 (float, NaN where unreadable), or None if none can be read."""
    dates = values
    if not pd.api.types.is_datetime64_any_dtype(dates):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                dates = pd.to_datetime(values, errors="coerce")
            except (TypeError, ValueError):  # e.g. mixed time zones
                return None
    if not pd.api.types.is_datetime64_any_dtype(dates) or dates.notna().sum() == 0:
        return None
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return (dates - pd.Timestamp(0)).dt.total_seconds()


def column_profile(frame: pd.DataFrame, column: str, *, role: str, target: str | None) -> ColumnProfile:
    """The distribution of one column, overall and split by target class."""
    values = frame[column]
    present = values.dropna()
    labels = None if column == target else _target_labels(frame, target)
    base = {
        "name": column,
        "role": role,
        "rows": len(values),
        "missing": int(values.isna().sum()),
        "distinct": int(present.nunique()),
    }
    if present.empty:
        return ColumnProfile(**base, measure="values", summary={}, note="Every value is missing.")
    if role == "numeric" and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        integer = pd.api.types.is_integer_dtype(values) or bool((present % 1 == 0).all())
        summary = {
            "mean": float(present.mean()),
            "median": float(present.median()),
            "std": float(present.std()) if len(present) > 1 else 0.0,
            "min": float(present.min()),
            "max": float(present.max()),
        }
        return ColumnProfile(**base, measure="values", summary=summary, histogram=_histogram(values, labels, integer))
    if role == "text":
        lengths = values.astype("string").str.len().astype("Float64").astype("float64")
        summary = {
            "mean length": float(lengths.mean()),
            "median length": float(lengths.median()),
            "longest": int(lengths.max()),
        }
        return ColumnProfile(
            **base,
            measure="text length (characters)",
            summary=summary,
            histogram=_histogram(lengths, labels, integer=True),
        )
    seconds = _seconds(values) if role == "datetime" else None
    if seconds is not None:
        histogram = _histogram(seconds, labels, integer=False)
        histogram = Histogram(
            edges=pd.to_datetime(histogram.edges, unit="s").to_numpy(),
            counts=histogram.counts,
            by_class=histogram.by_class,
        )
        first, last = pd.to_datetime([seconds.min(), seconds.max()], unit="s")
        summary = {"first": str(first), "last": str(last), "unreadable": int(len(present) - seconds.notna().sum())}
        return ColumnProfile(**base, measure="dates", summary=summary, histogram=histogram)
    if role == "identifier":
        return ColumnProfile(
            **base,
            measure="values",
            summary={"distinct": base["distinct"]},
            note="An identifier: a different value on (almost) every row, so there is no distribution to show. "
            "It is not used as a feature.",
        )
    if role == "constant":
        return ColumnProfile(
            **base,
            measure="values",
            summary={"value": str(present.iloc[0])},
            note=f"Constant: every present value is {present.iloc[0]!r}, so it carries no information.",
        )
    counts = present.astype("string").value_counts()
    summary = {"most common": str(counts.index[0]), "its share": float(counts.iloc[0] / len(values))}
    return ColumnProfile(**base, measure="values", summary=summary, categories=_categories(values, labels))


# -- relations ------------------------------------------------------------------------------------


def correlations(frame: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Pearson correlation between the numeric columns (empty when fewer than two)."""
    numeric = [
        c
        for c, role in roles.items()
        if role == "numeric" and c in frame.columns and pd.api.types.is_numeric_dtype(frame[c])
    ]
    if len(numeric) < 2:
        return pd.DataFrame()
    return frame[numeric].astype("float64").corr()


def strong_pairs(matrix: pd.DataFrame, threshold: float = STRONG_CORRELATION) -> list[tuple[str, str, float]]:
    """Pairs of columns that move together (|r| >= threshold), strongest first."""
    pairs = []
    names = list(matrix.columns)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            r = matrix.loc[a, b]
            if pd.notna(r) and abs(r) >= threshold:
                pairs.append((a, b, float(r)))
    return sorted(pairs, key=lambda p: -abs(p[2]))


@dataclass(frozen=True)
class Association:
    """Columns ranked by mutual information with the target."""

    ranking: pd.DataFrame  # column, role, used as, mutual information (nats), share of the target's entropy
    skipped: dict[str, str]  # column -> why it was not ranked
    rows: int


def _entropy(labels: pd.Series) -> float:
    p = labels.value_counts(normalize=True).to_numpy()
    return float(-(p * np.log(p)).sum())


def _as_feature(values: pd.Series, role: str) -> tuple[pd.Series | None, bool, str]:
    """(numbers, discrete?, how) for one column, or (None, _, why not)."""
    if role in ("identifier", "constant"):
        return None, False, f"{role}: carries no pattern to learn"
    if role == "numeric" and pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        how = "values"
    elif role == "text":
        numbers = values.astype("string").str.len().astype("Float64").astype("float64")
        how = "text length"
    elif role == "datetime" and (seconds := _seconds(values)) is not None:
        numbers = seconds
        how = "dates"
    else:
        # rare values folded together: a value seen once or twice would look informative by chance
        text = values.astype("string")
        top = text.value_counts().index[:ASSOCIATION_CATEGORIES]
        codes, _ = pd.factorize(text.where(text.isin(top) | text.isna(), OTHER_CATEGORIES), use_na_sentinel=True)
        return pd.Series(codes, index=values.index), True, "categories"
    if numbers.notna().sum() == 0:
        return None, False, "every value is missing"
    return numbers.fillna(numbers.median()), False, how


def target_association(
    frame: pd.DataFrame,
    roles: dict[str, str],
    target: str,
    *,
    max_rows: int = ASSOCIATION_ROWS,
    seed: int = SEED,
) -> Association:
    """Rank the columns by how much they tell about the target (scikit-learn's mutual information).

    Numbers are used as they are (missing ones as the median), categories as codes (the most
    frequent ones; missing is a category of its own), free text by its length, dates as
    timestamps. Identifiers and constant columns are skipped. Computed on at most ``max_rows``
    rows (seeded).
    """
    from sklearn.feature_selection import mutual_info_classif  # lazy: keeps the Data page quick to import

    labelled = frame[frame[target].notna()]
    if len(labelled) > max_rows:
        labelled = labelled.sample(n=max_rows, random_state=seed).sort_index()
    y = labelled[target].astype("string")
    features: dict[str, pd.Series] = {}
    discrete: list[bool] = []
    used: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for column, role in roles.items():
        if column == target or column not in labelled.columns:
            continue
        numbers, is_discrete, how = _as_feature(labelled[column], role)
        if numbers is None:
            skipped[column] = how
        elif numbers.nunique() < 2:
            skipped[column] = "a single value in these rows"
        else:
            features[column] = numbers
            discrete.append(is_discrete)
            used[column] = how
    empty = pd.DataFrame(columns=["column", "role", "used as", "mutual information", "share of target entropy"])
    if not features or y.nunique() < 2:
        return Association(ranking=empty, skipped=skipped, rows=len(labelled))
    scores = mutual_info_classif(
        pd.DataFrame(features).to_numpy(dtype="float64"),
        y.to_numpy(),
        discrete_features=np.array(discrete),
        random_state=seed,
    )
    entropy = _entropy(y)
    ranking = pd.DataFrame(
        {
            "column": list(features),
            "role": [roles[c] for c in features],
            "used as": [used[c] for c in features],
            "mutual information": scores,
            "share of target entropy": np.clip(scores / entropy, 0, 1) if entropy > 0 else 0.0,
        }
    )
    ranking = ranking.sort_values("mutual information", ascending=False, kind="stable").reset_index(drop=True)
    return Association(ranking=ranking, skipped=skipped, rows=len(labelled))
