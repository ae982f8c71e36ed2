"""Reasons for a prediction: contributions per original column, for XGBoost and for the baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost

from core.champion import LoadedModel
from core.contract import build_contract
from core.explain import TYPICAL_SUBSTITUTION, XGBOOST_CONTRIBUTIONS, _owner, contributions, explain_row
from core.features import coerce_inputs
from core.training.factories import (
    make_hist_gradient_boosting,
    make_logistic_regression,
    make_random_forest,
    make_xgboost,
)

FEATURES = [
    {"name": "size", "role": "numeric"},
    {"name": "noise", "role": "numeric"},
    {"name": "colour", "role": "categorical"},
    {"name": "colour_shade", "role": "categorical"},  # a name that starts like another column's one-hot outputs
    {"name": "when", "role": "datetime"},
    {"name": "note", "role": "text"},
]
NAMES = [f["name"] for f in FEATURES]
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def _edges(classes: int) -> np.ndarray:
    """Class boundaries on ``size``: binary at 70, so the typical size (about 50) is in the other class."""
    return np.asarray([70.0]) if classes == 2 else np.arange(1, classes) * 100 / classes


def _data(rows: int = 400, classes: int = 2, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``size`` alone decides the class; the other columns are noise."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(0, 100, rows)
    frame = pd.DataFrame(
        {
            "size": size,
            "noise": rng.normal(0, 1, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "colour_shade": rng.choice(["dark", "light"], rows),
            "when": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, rows), unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "note": [" ".join(rng.choice(WORDS, 5)) for _ in range(rows)],
        }
    )
    labels = np.asarray(["low", "high"] if classes == 2 else ["low", "mid", "high"], dtype=object)
    y = labels[np.searchsorted(_edges(classes), size)]
    return frame, y


def _model(pipeline, frame: pd.DataFrame, y: np.ndarray) -> LoadedModel:
    typed = coerce_inputs(frame, FEATURES)
    pipeline.fit(typed, y)
    contract = build_contract(frame, FEATURES, list(pipeline.classes_))
    return LoadedModel(name="toy", version=1, pipeline=pipeline, contract=contract)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    return coerce_inputs(frame, FEATURES)


def test_owner_maps_outputs_back_to_their_column() -> None:
    assert _owner(["colour", "colour_shade"], "colour_shade_dark") == "colour_shade"
    assert _owner(["colour", "colour_shade"], "colour_red") == "colour"
    assert _owner(["colour", "colour_shade"], "colour_infrequent_sklearn") == "colour"
    assert _owner(["note"], "alpha beta") == "note"  # one column: every output is its own
    assert _owner(["size", "noise"], "other") is None


@pytest.mark.parametrize("classes", [2, 3], ids=["binary", "multi-class"])
def test_xgboost_contributions_add_up_to_the_margin_of_the_predicted_class(classes: int) -> None:
    frame, y = _data(classes=classes)
    model = _model(make_xgboost(FEATURES, {"n_estimators": 60, "max_depth": 3}), frame, y)
    clear = (
        np.abs(frame["size"].to_numpy()[:, None] - _edges(classes)).min(axis=1) > 8
    )  # well away from a class boundary
    rows = frame[clear].iloc[::20]
    typed = _typed(rows)
    proba = model.pipeline.predict_proba(typed)
    predicted = proba.argmax(axis=1)
    values, baseline, method = contributions(model.pipeline, typed, predicted, typical=model.typical)
    assert method == XGBOOST_CONTRIBUTIONS
    assert list(values.columns) == NAMES and list(values.index) == list(rows.index)
    booster = model.pipeline[-1].estimator_.get_booster()
    margin = booster.predict(xgboost.DMatrix(model.pipeline[0].transform(typed)), output_margin=True)
    # binary: the margin is towards the second class; multi-class: one margin per class
    expected = np.where(predicted == 1, margin, -margin) if classes == 2 else margin[np.arange(len(rows)), predicted]
    assert np.allclose(values.sum(axis=1).to_numpy() + baseline, expected, atol=1e-4)
    # size decides the class, so it is the top reason of every row
    assert (values.abs().idxmax(axis=1) == "size").all()


@pytest.mark.parametrize(
    "make",
    [make_logistic_regression, make_random_forest, make_hist_gradient_boosting],
    ids=["logistic_regression", "random_forest", "hist_gradient_boosting"],
)
def test_baselines_are_explained_by_typical_value_substitution(make) -> None:
    frame, y = _data()
    model = _model(make(FEATURES), frame, y)
    rows = pd.DataFrame(
        {
            "size": [95.0, 88.0],  # far from the boundary (70), and the typical size (about 50) is "low"
            "noise": [0.1, -0.2],
            "colour": ["red", "blue"],
            "colour_shade": ["dark", "light"],
            "when": ["2024-03-01", "2024-06-01"],
            "note": ["alpha beta gamma", "delta eta"],
        }
    )
    typed = _typed(rows)
    proba = model.pipeline.predict_proba(typed)
    predicted = proba.argmax(axis=1)
    assert list(np.asarray(model.classes)[predicted]) == ["high", "high"]
    values, baseline, method = contributions(model.pipeline, typed, predicted, typical=model.typical)
    assert method == TYPICAL_SUBSTITUTION and baseline is None
    assert list(values.columns) == NAMES
    assert (values.abs().idxmax(axis=1) == "size").all()
    assert (values["size"] > 0).all()  # setting size to its typical value lowers the predicted class's probability
    # by hand: the row with size set to its typical value, through the Pipeline
    by_hand = typed.iloc[[0]].copy()
    by_hand["size"] = model.typical["size"].iloc[0]
    drop = proba[0, predicted[0]] - model.pipeline.predict_proba(by_hand)[0, predicted[0]]
    assert values["size"].iloc[0] == pytest.approx(drop)


def test_explain_row_lists_every_column_largest_first_with_its_value() -> None:
    frame, y = _data()
    model = _model(make_xgboost(FEATURES, {"n_estimators": 40, "max_depth": 3}), frame, y)
    typed = _typed(frame.iloc[[5]])
    assert abs(frame["size"].iloc[5] - 70) > 8
    best = int(model.pipeline.predict_proba(typed)[0].argmax())
    explanation = explain_row(model.pipeline, typed, best, typical=model.typical)
    assert explanation.method == XGBOOST_CONTRIBUTIONS and explanation.unit == "log-odds"
    assert explanation.reasons[0].column == "size"
    assert sorted(r.column for r in explanation.reasons) == sorted(NAMES)
    sizes = [abs(r.contribution) for r in explanation.reasons]
    assert sizes == sorted(sizes, reverse=True)
    assert explanation.reasons[0].value == pytest.approx(frame["size"].iloc[5])
    assert explanation.top(2) == explanation.reasons[:2]
    shown = explanation.as_dict(3)
    assert len(shown["reasons"]) == 3 and shown["method"] == XGBOOST_CONTRIBUTIONS
