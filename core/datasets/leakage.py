"""Too good to be true: a single column that predicts the target almost perfectly on its own.

Such a column is often derived from the target (a recoding of it, the measurement it was cut
from) or recorded after it, and would not be known when predicting: possible target leakage.
Each usable column is scored alone by the balanced accuracy of its out-of-fold predictions (3
stratified folds) on a seeded stratified sample of the labelled rows. Numbers and dates go to a
decision tree (missing values allowed); a category predicts the class most of its training rows
have (missing is a category of its own), which is what a tree that splits on categories learns,
at the cost of one count, and without the order of any codes. A tree costs tens of milliseconds
on 20,000 rows, so numbers are first screened the category way, cut into narrow bins of equal
rows: only a column the screen finds close to perfect gets its tree. A column scoring at least
:data:`LEAK_SCORE` is flagged; a warning, never a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.datasets.explore import sample_frame
from core.datasets.roles import parse_datetimes
from core.datasets.versions import DatasetVersion

# A column alone reaching this balanced accuracy out of fold is flagged. Measured (bench/leakage.py,
# tests/core/datasets/test_leakage.py): recodings of the target, category mappings and measurements
# cut into it score 0.997 to 1.0; the best columns of the bundled demos are mushrooms' odor (0.985)
# and rice's major axis (0.91); of the real-data gauntlet's tables, CreditCard's expenditure
# (0.989, zero for every applicant refused a card: recorded after the decision) and share (0.97),
# the rest 0.88 or less.
LEAK_SCORE = 0.99
MAX_ROWS = 20_000
MIN_ROWS = 30
# a class needs a row in each of the folds: rarer classes are left out of the check
MIN_CLASS_ROWS = 3
FOLDS = 3
# the screen: bins of at most this many rows, and of at most an eighth of the smallest class (the
# bin a class boundary falls in is half wrong at worst); a column scoring SCREEN_SCORE or more on
# them gets its tree
BIN_ROWS, MIN_BIN_ROWS = 80, 4
SCREEN_SCORE = 0.85
# deep enough to cut a measurement at every class boundary or isolate 256 values; capped for speed
TREE_DEPTH = 8
CHECKED_ROLES = ("numeric", "datetime", "categorical", "boolean")
# the role that leaves a column out of training (core.datasets.roles has no "ignored")
LEAVE_OUT_ROLE = "identifier"


@dataclass(frozen=True)
class Leak:
    """A column that predicts ``target`` almost perfectly on its own.

    ``score`` is the cross-validated balanced accuracy of that column alone; ``kind`` is how it
    was read: "numbers", "dates" or "categories".
    """

    column: str
    score: float
    kind: str
    target: str

    @property
    def message(self) -> str:
        how = "perfectly" if self.score >= 0.9995 else "almost perfectly"
        return (
            f"`{self.column}` alone predicts `{self.target}` {how} (balanced accuracy {self.score:.3f} with this "
            "column only): it may be derived from the target or recorded after it (target leakage). Check how it "
            f"is recorded; if it would not be known when predicting, set its role to {LEAVE_OUT_ROLE} when "
            "ingesting the file, so training leaves it out."
        )


def _classes(labels: pd.Series) -> np.ndarray:
    """Class codes 0..k-1, -1 for a class with fewer than MIN_CLASS_ROWS rows (or a missing label)."""
    codes, uniques = pd.factorize(labels)
    keep = np.bincount(codes[codes >= 0], minlength=len(uniques)) >= MIN_CLASS_ROWS
    recode = np.append(np.where(keep, np.cumsum(keep) - 1, -1), -1)  # the last one for a missing label
    return recode[codes]


def _sample(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions of at most about MAX_ROWS rows, each class in its share and with MIN_CLASS_ROWS rows at least."""
    positions = np.flatnonzero(y >= 0)
    if len(positions) <= MAX_ROWS:
        return positions
    counts = np.bincount(y[positions])
    quota = np.maximum(np.floor(counts * MAX_ROWS / len(positions)), MIN_CLASS_ROWS).astype(np.int64)
    shuffled = rng.permutation(positions)
    order = shuffled[np.argsort(y[shuffled], kind="stable")]  # grouped by class, random within each
    rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.sort(order[rank < np.repeat(quota, counts)])


def _folds(y: np.ndarray, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, test rows) of FOLDS stratified folds: each class dealt out in turn, in random order."""
    shuffled = rng.permutation(len(y))
    order = shuffled[np.argsort(y[shuffled], kind="stable")]
    counts = np.bincount(y)
    rank = np.arange(len(y)) - np.repeat(np.cumsum(counts) - counts, counts)
    fold = np.empty(len(y), dtype=np.int64)
    fold[order] = rank % FOLDS
    return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(FOLDS)]


def _numbers(values: pd.Series, role: str) -> np.ndarray | None:
    """A column as floats (NaN where missing or unreadable), or None when nothing is left to split on."""
    if role == "datetime":
        dates = parse_datetimes(values)
        numbers = np.where(dates.isna(), np.nan, dates.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9)
    elif pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64").to_numpy()
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    numbers = np.where(np.isfinite(numbers), numbers, np.nan)
    present = numbers[~np.isnan(numbers)]
    return numbers if len(present) and present.min() < present.max() else None


def _categories(values: pd.Series) -> np.ndarray | None:
    """Category codes 0..m-1, missing as a code of its own; None for a single value."""
    codes, uniques = pd.factorize(values)
    codes = np.where(codes < 0, len(uniques), codes)
    return codes if len(np.unique(codes)) > 1 else None


def _balanced_accuracy(y: np.ndarray, predicted: np.ndarray, k: int) -> float:
    right = np.bincount(y[predicted == y], minlength=k)
    return float(np.mean(right / np.bincount(y, minlength=k)))


def _by_category(codes: np.ndarray, y: np.ndarray, k: int, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold: each row gets the class most training rows of its category have (the fold's
    most common class for a category the training rows never show)."""
    m = int(codes.max()) + 1
    predicted = np.empty_like(y)
    for train, test in folds:
        table = np.bincount(codes[train] * k + y[train], minlength=m * k).reshape(m, k)
        best = table.argmax(axis=1)
        unseen = table.sum(axis=1) == 0
        best[unseen] = np.bincount(y[train], minlength=k).argmax()
        predicted[test] = best[codes[test]]
    return predicted


def _bins(numbers: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Numbers cut into bins of about equal rows (equal values in one bin), missing as a bin of its own."""
    smallest = int(np.bincount(y).min())
    width = max(MIN_BIN_ROWS, min(BIN_ROWS, smallest // 8))
    ranks = pd.Series(numbers).rank(method="min").to_numpy()
    missing = np.isnan(ranks)
    codes = ((np.where(missing, 1, ranks) - 1) // width).astype(np.int64)
    return np.where(missing, codes.max() + 1, codes)


def _by_tree(numbers: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], seed: int) -> np.ndarray:
    from sklearn.tree import DecisionTreeClassifier  # lazy: a second to import, needed only past the screen

    x = numbers.reshape(-1, 1)
    predicted = np.empty_like(y)
    for train, test in folds:
        tree = DecisionTreeClassifier(max_depth=TREE_DEPTH, random_state=seed).fit(x[train], y[train])
        predicted[test] = tree.predict(x[test])
    return predicted


def _score(
    values: pd.Series, role: str, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], seed: int, screen: float
) -> tuple[float, str] | None:
    """(out-of-fold balanced accuracy, how the column was read), or None for a column with one value.

    Numbers scoring below ``screen`` on bins keep that score: their tree could not get near perfect.
    """
    k = int(y.max()) + 1
    if role in ("numeric", "datetime"):
        numbers = _numbers(values, role)
        if numbers is None:
            return None
        kind = "dates" if role == "datetime" else "numbers"
        binned = _balanced_accuracy(y, _by_category(_bins(numbers, y), y, k, folds), k)
        if binned < screen:
            return binned, kind
        return _balanced_accuracy(y, _by_tree(numbers, y, folds, seed), k), kind
    codes = _categories(values)
    if codes is None:
        return None
    return _balanced_accuracy(y, _by_category(codes, y, k, folds), k), "categories"


def find_leaks(
    frame: pd.DataFrame, roles: dict[str, str], target: str, *, seed: int = 0, threshold: float = LEAK_SCORE
) -> list[Leak]:
    """The columns that predict ``target`` almost perfectly on their own (``threshold`` or more), strongest first.

    ``roles`` maps column names to roles (a stored version's, or as inferred or chosen for a file);
    only numeric, date, categorical and boolean columns are checked, never the target, text,
    identifiers or constants. Nothing is checked on fewer than MIN_ROWS labelled rows or fewer than
    two classes with MIN_CLASS_ROWS rows each. ``threshold=0`` gives every checked column's score.
    """
    if target not in frame.columns:
        return []
    y_all = _classes(frame[target])
    rng = np.random.default_rng(seed)
    rows = _sample(y_all, rng)
    y = y_all[rows]
    if len(y) < MIN_ROWS or len(np.unique(y)) < 2:
        return []
    folds = _folds(y, rng)
    screen = min(SCREEN_SCORE, threshold)
    leaks = []
    for column, role in roles.items():
        if column == target or role not in CHECKED_ROLES or column not in frame.columns:
            continue
        scored = _score(frame[column].iloc[rows], role, y, folds, seed, screen)
        if scored is not None and scored[0] >= threshold:
            leaks.append(Leak(column=str(column), score=round(scored[0], 4), kind=scored[1], target=target))
    return sorted(leaks, key=lambda leak: -leak.score)


def leakage_warnings(frame: pd.DataFrame, roles: dict[str, str], target: str, *, seed: int = 0) -> list[str]:
    """One sentence for each column that predicts ``target`` almost perfectly on its own, strongest first."""
    return [leak.message for leak in find_leaks(frame, roles, target, seed=seed)]


def version_leaks(*, session: Session, version: DatasetVersion, seed: int = 0) -> list[Leak]:
    """:func:`find_leaks` on a stored version: a seeded random sample of MAX_ROWS of its rows, as stored."""
    sample = sample_frame(session=session, version=version, n=MAX_ROWS, seed=seed)
    return find_leaks(sample.frame, version.roles, version.target, seed=seed)
