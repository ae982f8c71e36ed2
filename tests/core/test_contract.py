"""The input contract: built from the training rows, checked on every input."""

from __future__ import annotations

import json

import palmerpenguins
import pandas as pd
import pytest

from core.champion import load_champion
from core.contract import RowCheck, build_contract, check_inputs
from core.errors import InputContractError

FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def test_contract_has_ranges_typical_values_and_classes(trained_settings) -> None:
    contract = load_champion(trained_settings, "rice").contract
    assert [f["name"] for f in contract["features"]] == FEATURES
    area = contract["features"][0]
    assert area["integer"] and area["min"] < area["typical"] < area["max"]
    assert sorted(contract["classes"]) == ["Cammeo", "Osmancik"]


def test_contract_treats_dates_as_dates_with_their_format() -> None:
    frame = pd.DataFrame(
        {
            "when": ["2024-01-05", "2024-03-01", "2024-02-10", None],
            "colour": ["red", "red", "blue", "red"],
            "size": [1.5, 2.0, 3.0, None],
        }
    )
    features = [
        {"name": "when", "role": "datetime", "format": "%d/%m/%Y"},
        {"name": "colour", "role": "categorical"},
        {"name": "size", "role": "numeric"},
    ]
    contract = build_contract(frame, features, ["a", "b"])
    when, colour, size = contract["features"]
    assert when == {
        "name": "when",
        "role": "datetime",
        "format": "%d/%m/%Y",
        "has_time": False,
        "min": "2024-01-05",
        "max": "2024-03-01",
        "typical": "2024-02-10",
    }
    assert colour["categories"] == ["red", "blue"] and colour["typical"] == "red" and colour["complete"]
    assert size["min"] == 1.5 and size["max"] == 3.0 and not size["integer"]


def test_check_inputs_rejects_unreadable_values_and_flags_unseen_ones() -> None:
    contract = {
        "features": [
            {"name": "n", "role": "numeric", "min": 0.0, "max": 10.0, "typical": 5.0, "format": "1.234.567,5"},
            {"name": "c", "role": "categorical", "categories": ["x", "y"], "complete": True, "typical": "x"},
            {"name": "d", "role": "datetime", "format": "%d/%m/%Y", "min": "2024-01-01", "max": "2024-12-31"},
        ],
        "classes": ["a", "b"],
    }
    frame = pd.DataFrame(
        {
            "n": ["1,5", "lots", "20", None, "inf", "3"],
            "c": ["x", "z", "y", "x", "x", None],
            "d": ["31/12/2024", "01/01/2024", "2024-06-01", "32/13/2024", "01/01/2030", None],
        }
    )
    typed, reasons, flags = check_inputs(frame, contract)
    assert reasons.tolist() == [
        "",
        "n: 'lots' is not a number",
        "",
        "d: '32/13/2024' is not a date",
        "n: not a finite number",
        "",
    ]
    assert flags.tolist() == [
        "",
        "c: unseen category",
        "n: outside training range",
        "",
        "d: outside training dates",
        "mostly missing: 2 of 3 inputs empty",  # scored on imputed values more than its own
    ]
    assert typed["n"].iloc[0] == 1.5  # the training file's number style
    assert typed["d"].iloc[2] == pd.Timestamp("2024-06-01")  # ISO dates are read too
    assert typed["n"].isna().iloc[3] and typed["c"].isna().iloc[5] and typed["d"].isna().iloc[5]  # missing: scored


def test_a_missing_column_is_refused_naming_it() -> None:
    contract = {"features": [{"name": "n", "role": "numeric"}, {"name": "m", "role": "numeric"}], "classes": [0, 1]}
    with pytest.raises(InputContractError, match="Missing columns the model needs: 'n', 'm'"):
        check_inputs(pd.DataFrame({"other": [1]}), contract)


def _penguin_contract() -> tuple[dict, pd.DataFrame]:

    frame = palmerpenguins.load_penguins().drop(columns=["species"])
    frame["note"] = [f"seen on visit {i} near the colony" if i % 7 else None for i in range(len(frame))]
    roles = {"island": "categorical", "sex": "categorical", "note": "text"}
    features = [{"name": n, "role": roles.get(n, "numeric")} for n in frame.columns]
    return build_contract(frame.iloc[::2], features, ["Adelie", "Gentoo"]), frame.iloc[1::2]


def test_the_one_row_check_answers_exactly_as_the_table_check() -> None:
    contract, rows = _penguin_contract()
    plain = json.loads(rows.to_json(orient="records"))  # what a JSON client sends
    empty = dict.fromkeys(rows.columns)
    edge = [
        empty,
        empty | {"island": "Biscoe"},  # mostly missing
        plain[0] | {"island": "Atlantis", "bill_length_mm": 1e6, "body_mass_g": -3},  # unseen, out of range
        plain[1] | {"sex": "", "note": None},  # an empty string is a value, a missing text is ""
        plain[2] | {"year": 2007},  # an int
    ]
    check = RowCheck(contract)
    for row in plain + edge:
        fast = check.check(row)
        assert fast is not None, row
        typed, reasons, flags = check_inputs(pd.DataFrame([row]), contract)
        pd.testing.assert_frame_equal(fast[0], typed)
        assert (fast[1], fast[2]) == (reasons.iat[0], flags.iat[0]), row
    assert check.check(edge[2])[2] == (
        "island: unseen category; bill_length_mm: outside training range; body_mass_g: outside training range"
    )
    assert check.check(empty)[1] == "every input is empty"


def test_the_one_row_check_leaves_what_needs_reading_to_the_table_check() -> None:
    contract, rows = _penguin_contract()
    row = json.loads(rows.iloc[:1].to_json(orient="records"))[0]
    check = RowCheck(contract)
    assert check.check(row) is not None
    for value in ("41.5", True, float("inf"), float("nan"), [1]):  # text, a boolean, not finite, not a value
        assert check.check(row | {"bill_length_mm": value}) is None, value
    assert check.check(row | {"island": 3}) is None  # a number for a category is read as text by the table check
    dated = {"features": [{"name": "when", "role": "datetime"}], "classes": ["a", "b"]}
    assert RowCheck(dated).check({"when": "2024-01-01"}) is None
