"""Exploration figures: exact counts in SQL, profiles and relations on a seeded sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.datasets import explore
from core.datasets.versions import get_version, ingest, load_frame
from tests.conftest import RICE


def _shop(rows: int = 200, seed: int = 1) -> pd.DataFrame:
    """A small labelled table: the label follows `spend` exactly; `colour` and `age` are noise."""
    rng = np.random.default_rng(seed)
    spend = rng.uniform(0, 100, rows).round(2)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "age": rng.integers(18, 80, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "spend": spend,
            "review": [
                " ".join(rng.choice(["quick", "delivery", "nice", "box", "late", "again"], rng.integers(6, 12)))
                for _ in range(rows)
            ],
            "label": np.where(spend > 50, "loyal", "churn"),
        }
    )
    frame.loc[[3, 7, 11], "age"] = np.nan
    frame.loc[[5], "colour"] = np.nan
    return frame


def _ingest(sessions, tmp_path: Path, frame: pd.DataFrame, name: str = "shop", target: str = "label"):
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=path, name=name, target=target)
    return version


@pytest.fixture
def shop(sessions, tmp_path: Path):
    frame = _shop()
    # two exact repeats of earlier rows, apart from their id
    repeats = frame.iloc[[0, 1]].assign(customer_id=[1001, 1002])
    return _ingest(sessions, tmp_path, pd.concat([frame, repeats], ignore_index=True))


# -- name and target for a new file ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("rice.csv", "rice"),
        ("My Shop data (2024).csv", "My_Shop_data_2024"),
        ("__.hidden.csv", "hidden"),
        ("données.csv", "donn_es"),
        ("???.csv", "dataset"),
        ("", "dataset"),
    ],
)
def test_dataset_name_from_file_is_a_valid_name(filename: str, name: str) -> None:
    from core.datasets.versions import validate_name

    assert explore.dataset_name_from_file(filename) == name
    assert validate_name(explore.dataset_name_from_file(filename))


# -- overview ----------------------------------------------------------------------------------------


def test_overview_counts_missing_duplicates_and_classes_over_every_row(sessions, shop) -> None:
    with sessions() as session:
        ov = explore.overview(session=session, version=get_version(session=session, name="shop"))
    assert ov.rows == 202 and ov.columns == 6
    assert ov.missing.to_dict() == {"customer_id": 0, "age": 3, "colour": 1, "spend": 0, "review": 0, "label": 0}
    assert ov.missing_cells == 4
    assert ov.identifiers == ["customer_id"]
    assert ov.duplicate_rows == 2
    assert ov.columns_by_role["target"] == 1 and ov.columns_by_role["identifier"] == 1
    assert int(ov.class_counts.sum()) == 202 and list(ov.class_counts) == sorted(ov.class_counts, reverse=True)
    assert not ov.imbalanced


def test_overview_flags_heavy_imbalance(sessions, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(200) % 7, "label": ["rare"] * 10 + ["common"] * 190})
    version = _ingest(sessions, tmp_path, frame, name="skewed")
    with sessions() as session:
        ov = explore.overview(session=session, version=version)
    assert ov.class_counts.to_dict() == {"common": 190, "rare": 10}
    assert ov.imbalance_ratio == pytest.approx(10 / 190)
    assert ov.imbalanced
    # without identifier columns, duplicates are rows equal in every column
    assert ov.identifiers == [] and ov.duplicate_rows == 200 - len(frame.drop_duplicates())


def test_overview_of_rice(trained_sessions) -> None:
    with trained_sessions() as session:
        ov = explore.overview(session=session, version=get_version(session=session, name="rice"))
    assert ov.rows == 3810 and ov.missing_cells == 0 and ov.duplicate_rows == 0
    assert ov.class_counts.to_dict() == {"Osmancik": 2180, "Cammeo": 1630}
    assert ov.columns_by_role == {"numeric": 7, "target": 1}
    assert not ov.imbalanced


# -- sampling ----------------------------------------------------------------------------------------


def test_sample_is_seeded_in_file_order_and_matches_the_stored_rows(trained_sessions) -> None:
    with trained_sessions() as session:
        version = get_version(session=session, name="rice")
        first = explore.sample_frame(session=session, version=version, n=500, seed=3)
        again = explore.sample_frame(session=session, version=version, n=500, seed=3)
        other = explore.sample_frame(session=session, version=version, n=500, seed=4)
        everything = load_frame(session=session, version=version)
    assert first.rows == 500 and first.total_rows == 3810 and first.is_sample
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert not first.frame.index.equals(other.frame.index)
    assert first.frame.index.is_monotonic_increasing and first.frame.index.is_unique
    pd.testing.assert_frame_equal(first.frame, everything.loc[first.frame.index], check_dtype=True)


def test_a_small_dataset_is_read_whole(sessions, shop) -> None:
    with sessions() as session:
        sample = explore.sample_frame(session=session, version=shop, n=1000)
    assert sample.rows == 202 and not sample.is_sample


# -- one column ----------------------------------------------------------------------------------------


@pytest.fixture
def shop_frame(sessions, shop) -> pd.DataFrame:
    with sessions() as session:
        return load_frame(session=session, version=shop)


def test_numeric_profile_has_a_histogram_overall_and_per_class(shop_frame) -> None:
    profile = explore.column_profile(shop_frame, "spend", role="numeric", target="label")
    assert profile.histogram is not None and profile.categories is None
    assert profile.missing == 0 and profile.rows == 202
    assert int(profile.histogram.counts.sum()) == 202
    assert len(profile.histogram.edges) == len(profile.histogram.counts) + 1
    assert set(profile.histogram.by_class) == {"loyal", "churn"}
    assert sum(int(c.sum()) for c in profile.histogram.by_class.values()) == 202
    assert profile.summary["min"] <= profile.summary["median"] <= profile.summary["max"]


def test_whole_numbers_get_one_bar_each_and_missing_values_are_counted(shop_frame) -> None:
    profile = explore.column_profile(shop_frame, "age", role="numeric", target="label")
    assert profile.missing == 3 and profile.missing_share == pytest.approx(3 / 202)
    edges = profile.histogram.edges
    assert np.allclose(np.diff(edges), 2.0) and edges[0] == shop_frame["age"].min() - 0.5  # 18-79: 31 bars
    assert int(profile.histogram.counts.sum()) == 199
    visits = pd.DataFrame({"visits": [0, 1, 1, 2, 5], "y": list("aabbb")})
    edges = explore.column_profile(visits, "visits", role="numeric", target="y").histogram.edges
    assert edges.tolist() == [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5]


def test_categorical_profile_counts_values_and_class_mix(shop_frame) -> None:
    profile = explore.column_profile(shop_frame, "colour", role="categorical", target="label")
    counts = profile.categories.counts
    assert set(counts.index) == {"red", "green", "blue", explore.MISSING}
    assert int(counts.sum()) == 202 and counts[explore.MISSING] == 1
    assert profile.categories.by_class.sum(axis=1).to_dict() == counts.to_dict()
    assert set(profile.categories.by_class.columns) == {"loyal", "churn"}


def test_rare_categories_are_folded_into_one_bar() -> None:
    frame = pd.DataFrame({"city": [f"c{i % 30}" for i in range(300)], "y": ["a", "b"] * 150})
    profile = explore.column_profile(frame, "city", role="categorical", target="y")
    counts = profile.categories.counts
    assert len(counts) == explore.TOP_CATEGORIES + 1
    assert counts.index[-1] == "(other: 10 values)" and counts.iloc[-1] == 100


def test_text_is_profiled_by_its_length(shop_frame) -> None:
    profile = explore.column_profile(shop_frame, "review", role="text", target="label")
    assert profile.measure == "text length (characters)"
    lengths = shop_frame["review"].str.len()
    assert profile.histogram.edges[0] == lengths.min() - 0.5 and profile.summary["longest"] == lengths.max()


def test_identifier_constant_and_target_columns(shop_frame) -> None:
    ident = explore.column_profile(shop_frame, "customer_id", role="identifier", target="label")
    assert ident.histogram is None and ident.categories is None and "identifier" in ident.note
    constant = explore.column_profile(shop_frame.assign(k="same"), "k", role="constant", target="label")
    assert "'same'" in constant.note
    target = explore.column_profile(shop_frame, "label", role="target", target="label")
    assert target.categories.by_class.empty and int(target.categories.counts.sum()) == 202


def test_dates_get_a_histogram_over_time() -> None:
    days = pd.date_range("2024-01-01", periods=90, freq="D").strftime("%Y-%m-%d")
    frame = pd.DataFrame({"day": [*days, "not a date"], "y": ["a", "b", "c"] * 30 + ["a"]})
    profile = explore.column_profile(frame, "day", role="datetime", target="y")
    assert profile.measure == "dates" and profile.summary["unreadable"] == 1
    assert np.issubdtype(profile.histogram.edges.dtype, np.datetime64)
    assert int(profile.histogram.counts.sum()) == 90 and set(profile.histogram.by_class) == {"a", "b", "c"}


# -- relations --------------------------------------------------------------------------------------------


def test_correlations_between_numeric_columns_only() -> None:
    x = np.arange(100, dtype=float)
    frame = pd.DataFrame({"x": x, "twice": 2 * x + 1, "minus": -x, "noise": np.sin(x), "c": ["a"] * 100})
    roles = {"x": "numeric", "twice": "numeric", "minus": "numeric", "noise": "numeric", "c": "categorical"}
    matrix = explore.correlations(frame, roles)
    assert list(matrix.columns) == ["x", "twice", "minus", "noise"]
    assert matrix.loc["x", "twice"] == pytest.approx(1.0) and matrix.loc["x", "minus"] == pytest.approx(-1.0)
    pairs = explore.strong_pairs(matrix)
    assert {(a, b) for a, b, _ in pairs} == {("x", "twice"), ("x", "minus"), ("twice", "minus")}
    assert explore.correlations(frame, {"x": "numeric", "c": "categorical"}).empty


def test_a_column_that_determines_the_target_ranks_first(shop_frame, shop) -> None:
    association = explore.target_association(shop_frame, shop.roles, "label")
    ranking = association.ranking
    assert ranking["column"].iloc[0] == "spend"
    assert ranking["share of target entropy"].iloc[0] > 0.5
    assert association.skipped == {"customer_id": "identifier: carries no pattern to learn"}
    used = dict(zip(ranking["column"], ranking["used as"], strict=True))
    assert used == {"spend": "values", "age": "values", "colour": "categories", "review": "text length"}


def test_a_categorical_column_that_determines_the_target_ranks_first() -> None:
    rng = np.random.default_rng(0)
    kind = rng.choice(["x", "y", "z"], 600)
    frame = pd.DataFrame(
        {
            "kind": kind,
            "noise": rng.normal(size=600),
            "near_unique": [f"v{i}" for i in range(600)],  # by chance, would look informative
            "y": np.where(kind == "x", "yes", "no"),
        }
    )
    roles = {"kind": "categorical", "noise": "numeric", "near_unique": "categorical", "y": "target"}
    ranking = explore.target_association(frame, roles, "y").ranking
    assert ranking["column"].tolist()[0] == "kind"
    assert ranking.set_index("column").loc["near_unique", "share of target entropy"] < 0.2


def test_association_is_computed_on_a_seeded_subset(trained_sessions) -> None:
    with trained_sessions() as session:
        version = get_version(session=session, name="rice")
        frame = load_frame(session=session, version=version)
    first = explore.target_association(frame, version.roles, "Class", max_rows=1000, seed=1)
    again = explore.target_association(frame, version.roles, "Class", max_rows=1000, seed=1)
    assert first.rows == 1000
    pd.testing.assert_frame_equal(first.ranking, again.ranking)
    # the grain's length and perimeter tell the two rice varieties apart; its extent hardly does
    top = first.ranking["column"].tolist()
    assert set(top[:2]) <= {"Major_Axis_Length", "Perimeter", "Area", "Convex_Area", "Eccentricity"}
    assert top[-1] in {"Extent", "Minor_Axis_Length"}
    matrix = explore.correlations(frame, version.roles)
    assert matrix.loc["Area", "Convex_Area"] > 0.99


def test_rice_profiles_every_column(trained_sessions) -> None:
    with trained_sessions() as session:
        version = get_version(session=session, name="rice")
        sample = explore.sample_frame(session=session, version=version, n=1000)
    for column, role in version.roles.items():
        profile = explore.column_profile(sample.frame, column, role=role, target=version.target)
        assert profile.rows == 1000
        assert (profile.histogram is not None) == (role == "numeric")
    assert RICE.exists()
