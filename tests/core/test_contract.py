"""The input contract: built from the training rows, checked on every input."""

from __future__ import annotations

import pandas as pd
import pytest

from core.champion import load_champion
from core.contract import build_contract, check_inputs
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
