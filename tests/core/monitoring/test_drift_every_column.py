"""A valid drift test for every column and sample size; data quality (unseen, unreadable) kept apart from drift.

Issue 12: a number with five or fewer values on a small window crashed Evidently, and one unseen
category in a 200-row window was called drift. Real tables where it matters (palmerpenguins'
``year``, scikit-learn's diabetes ``sex``), generated ones to cover role x distinct values x size.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_diabetes

from core.monitoring.drift import MIN_EFFECT, compute_drift
from tests.core.monitoring.conftest import PENGUINS_FEATURES

# (role, distinct values; 0: continuous)
ROLES_AND_VALUES = [
    ("numeric", 2),
    ("numeric", 3),
    ("numeric", 5),
    ("numeric", 6),
    ("numeric", 0),
    ("datetime", 3),
    ("datetime", 0),
    ("categorical", 2),
    ("categorical", 4),
    ("categorical", 12),
    ("boolean", 2),
]
IDS = [f"{role}-{distinct or 'many'}" for role, distinct in ROLES_AND_VALUES]
SIZES = {  # (reference rows, window rows)
    "both small": (400, 150),
    "small window": (5000, 200),
    "small reference": (300, 3000),
    "both large": (3000, 2000),
}


def _levels(role: str, distinct: int) -> list:
    if role == "numeric":
        return [0.0, 1.0] if distinct == 2 else [2007.0 + i for i in range(distinct)]  # a 0/1 count, years
    if role == "datetime":
        return list(pd.Timestamp("2021-01-01") + pd.to_timedelta(np.arange(distinct) * 30, unit="D"))
    if role == "boolean":
        return ["true", "false"]
    return [f"code {chr(97 + i)}" for i in range(distinct)]


def _column(role: str, distinct: int, n: int, rng: np.random.Generator, *, moved: bool) -> pd.Series:
    """``n`` values of a column; ``moved`` shifts a number by one standard deviation, a date by
    300 days of 1,000, and reverses the mix of a few-valued column (a third of rows change value)."""
    if distinct == 0:
        if role == "numeric":
            values = pd.Series(rng.normal(50, 10, n) + (10 if moved else 0))
        else:
            days = rng.uniform(0, 1000, n) + (300 if moved else 0)
            values = pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"))
    else:
        weights = np.arange(1, distinct + 1, dtype=float)
        weights = weights[::-1] if moved else weights
        levels = _levels(role, distinct)
        values = pd.Series([levels[i] for i in rng.choice(distinct, n, p=weights / weights.sum())])
    values[rng.choice(n, n // 50, replace=False)] = None  # some missing values, as in real tables
    return values


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize(("role", "distinct"), ROLES_AND_VALUES, ids=IDS)
def test_every_role_distinct_count_and_sample_size_gets_a_valid_test(role: str, distinct: int, size: str) -> None:
    reference_rows, window_rows = SIZES[size]
    rng = np.random.default_rng(zlib.crc32(f"{role}-{distinct}-{size}".encode()))
    reference = pd.DataFrame(
        {name: _column(role, distinct, reference_rows, rng, moved=False) for name in ("calm", "moved")}
    )
    current = pd.DataFrame(
        {
            "calm": _column(role, distinct, window_rows, rng, moved=False),
            "moved": _column(role, distinct, window_rows, rng, moved=True),
        }
    )
    features = [{"name": "calm", "role": role}, {"name": "moved", "role": role}]

    result = compute_drift(reference, current, features)

    assert result.skipped == {} and list(result.columns) == ["calm", "moved"]
    calm, moved = result.columns["calm"], result.columns["moved"]
    as_categories = role in ("categorical", "boolean") or 0 < distinct <= 5
    small = min(reference_rows, window_rows) <= 1000
    if as_categories:
        expected = ("chisquare" if distinct > 2 else "z") if small else "jensenshannon"
    else:
        expected = "ks" if small else "wasserstein"
    assert calm.tested_as == moved.tested_as == ("categorical" if as_categories else "numeric")
    assert calm.method == moved.method == expected
    assert calm.effect < moved.effect  # calm: no shift (its false alarm rate: the test below)
    assert moved.drifted and moved.effect >= MIN_EFFECT, moved  # a real shift is still found
    assert result.quality == {}


def test_windows_of_the_training_data_itself_raise_few_false_alarms_per_feature() -> None:
    """The no-drift control for every kind of column on small windows: over 25 windows drawn from
    the reference, each feature drifts in at most 4 (alpha is 0.05: about 1 expected)."""
    rng = np.random.default_rng(11)
    features = [{"name": name, "role": role} for name, (role, _) in zip(IDS, ROLES_AND_VALUES, strict=True)]
    reference = pd.DataFrame(
        {
            name: _column(role, distinct, 2000, rng, moved=False)
            for name, (role, distinct) in zip(IDS, ROLES_AND_VALUES, strict=True)
        }
    )
    alarms = dict.fromkeys(reference.columns, 0)
    for seed in range(25):
        window = reference.sample(150, random_state=seed)
        for name in compute_drift(reference, window, features).drifted:
            alarms[name] += 1
    assert max(alarms.values()) <= 4, alarms


@pytest.mark.parametrize("role", ["numeric", "datetime", "categorical", "boolean"])
def test_a_column_with_one_value_in_training_is_not_tested_and_says_why(role: str) -> None:
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"one": _column(role, 1, 400, rng, moved=False), "x": rng.normal(size=400)})
    current = pd.DataFrame({"one": _column(role, 1, 150, rng, moved=False), "x": rng.normal(size=150)})
    result = compute_drift(reference, current, [{"name": "one", "role": role}, {"name": "x", "role": "numeric"}])
    assert list(result.columns) == ["x"]
    assert result.skipped["one"].startswith("one value in the training data")
    assert result.as_dict()["skipped"] == result.skipped


def _diabetes() -> tuple[pd.DataFrame, list[dict[str, str]]]:
    frame = load_diabetes(as_frame=True).frame.drop(columns="target")  # "sex": two values, scaled
    return frame, [{"name": name, "role": "numeric"} for name in frame.columns]


def _penguins() -> tuple[pd.DataFrame, list[dict[str, str]]]:
    return load_penguins(), PENGUINS_FEATURES


@pytest.mark.parametrize(("table", "column", "method"), [(_penguins, "year", "chisquare"), (_diabetes, "sex", "z")])
def test_a_few_valued_number_on_a_small_window_of_a_real_table(table, column: str, method: str) -> None:
    frame, features = table()
    for seed in range(3):  # samples of the training data itself: nothing drifts
        result = compute_drift(frame, frame.sample(200, random_state=seed), features)
        assert result.drifted == [] and result.skipped == {} and result.quality == {}, result.as_dict()
        assert (result.columns[column].method, result.columns[column].tested_as) == (method, "categorical")

    one_value = frame[frame[column] == frame[column].iloc[0]]
    shifted = pd.concat([one_value.sample(100, random_state=1), frame.sample(20, random_state=2)])
    assert column in compute_drift(frame, shifted, features).drifted  # most rows from one value: flagged


def _mixed_reference() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "income": rng.normal(50_000, 12_000, 5000),
            "plan": rng.choice(["basic", "plus", "pro"], 5000, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(["north", "south", "east", "west"], 5000),
            "member": rng.choice(["true", "false"], 5000, p=[0.3, 0.7]),
        }
    )


MIXED = [
    {"name": "income", "role": "numeric"},
    {"name": "plan", "role": "categorical"},
    {"name": "region", "role": "categorical"},
    {"name": "member", "role": "boolean"},
]


def test_one_unseen_category_in_a_window_from_training_is_data_quality_not_drift() -> None:
    reference = _mixed_reference()
    current = reference.sample(200, random_state=7).reset_index(drop=True)
    current.loc[0, "region"] = "atlantis"  # one bad cell

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compute_drift(reference, current, MIXED)

    assert not [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]  # no divide-by-zero
    assert result.drifted == [] and not result.dataset_drift
    region = result.columns["region"]
    assert region.method == "chisquare" and region.score > 0.05  # compared over the known regions
    assert result.quality == {"region": {"unseen": 1, "unseen_share": 0.005, "examples": ["atlantis"]}}
    assert result.as_dict()["data_quality"] == result.quality
    assert result.stored_columns()["region"]["quality"]["unseen"] == 1


def test_a_window_of_a_new_category_only_is_not_tested_and_counted() -> None:
    reference = _mixed_reference()
    current = reference.sample(300, random_state=8).reset_index(drop=True)
    current["plan"] = "enterprise"
    result = compute_drift(reference, current, MIXED)
    assert "plan" not in result.columns and "never seen in training" in result.skipped["plan"]
    assert result.quality["plan"]["unseen"] == 300 and result.quality["plan"]["unseen_share"] == 1.0
    assert result.stored_columns()["plan"] == {"drifted": None, "not_tested": result.skipped["plan"]} | {
        "quality": result.quality["plan"]
    }


def test_unreadable_numbers_are_counted_and_left_out() -> None:
    reference = _mixed_reference()
    current = reference.sample(200, random_state=9).reset_index(drop=True)
    current["income"] = current["income"].astype(object)
    current.loc[:2, "income"] = ["n/a?", "12,5k", float("inf")]
    result = compute_drift(reference, current, MIXED)
    assert result.quality == {"income": {"unparsable": 3}}
    assert not result.columns["income"].drifted and result.drifted == []


def test_a_negligible_shift_on_a_large_window_is_significant_but_not_drift() -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 20_000)})
    current = pd.DataFrame({"x": rng.normal(0.05, 1, 20_000)})  # a twentieth of a standard deviation
    result = compute_drift(reference, current, [{"name": "x", "role": "numeric"}], options={"x": {"method": "ks"}})
    x = result.columns["x"]
    assert x.score < 0.05 and x.effect < MIN_EFFECT and not x.drifted
    assert "small change" in x.note


def test_a_column_evidently_cannot_measure_is_not_tested_and_the_rest_are_measured() -> None:
    rng = np.random.default_rng(4)
    same = "the same words in every row"  # Evidently's text drift finds no usable word: it raises
    reference = pd.DataFrame({"x": rng.normal(size=400), "note": [same] * 400})
    current = pd.DataFrame({"x": rng.normal(size=200) + 1, "note": [same] * 200})
    features = [{"name": "x", "role": "numeric"}, {"name": "note", "role": "text"}]
    result = compute_drift(reference, current, features)
    assert result.drifted == ["x"] and result.skipped["note"].startswith("drift could not be measured")
    assert result.html().lstrip().startswith("<!DOCTYPE html>")  # the report of what was measured


def test_a_windows_tests_are_held_together_so_one_borderline_feature_among_many_is_not_drift() -> None:
    """Twelve features at p < 0.05 each: one of them is 'significant' about every other window when
    nothing moved. Holm's correction keeps a borderline p-value from drifting; a real shift still does."""
    rng = np.random.default_rng(12)
    names = [f"x{i}" for i in range(12)]
    features = [{"name": n, "role": "numeric"} for n in names]
    reference = pd.DataFrame({n: rng.normal(size=5000) for n in names})
    calm = pd.DataFrame({n: rng.normal(size=200) for n in names})
    # the smallest nudge of x0 that K-S alone calls drift (p < 0.05) with an effect of at least MIN_EFFECT
    for nudge in np.arange(0.10, 0.40, 0.01):
        nudged = calm.assign(x0=calm["x0"] + nudge)
        column = compute_drift(reference, nudged, features).columns["x0"]
        if column.score < 0.05 and column.effect >= MIN_EFFECT:
            break
    else:
        pytest.fail("no nudge made x0 significant on its own")
    assert column.score > 0.05 / 12  # borderline: significant alone, not among twelve
    assert not column.drifted and "held together (Holm)" in column.note

    shifted = compute_drift(reference, calm.assign(x0=calm["x0"] + 3), features)
    assert shifted.drifted == ["x0"]


def test_a_column_constant_in_the_window_measures_without_numpy_warnings() -> None:
    """Evidently's report correlates the window's numbers; a column that does not vary there (a count
    that is 0 in all 200 rows of a window, as in an insurance table's rare products) divided by zero."""
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"x": rng.normal(size=2000), "rare": rng.poisson(0.05, size=2000) + rng.normal(size=2000)})
    current = pd.DataFrame({"x": rng.normal(size=200), "rare": np.zeros(200)})
    features = [{"name": "x", "role": "numeric"}, {"name": "rare", "role": "numeric"}]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = compute_drift(reference, current, features)
    assert result.drifted == ["rare"]
