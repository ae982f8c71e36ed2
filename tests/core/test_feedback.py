"""Feedback: true labels for past predictions, their rules and their history."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.db.models import Feedback, FeedbackHistory
from core.errors import InvalidLabel, PredictionNotFound
from core.feedback import label_history, label_of, normalise_label, record_label
from core.scoring.single import score_row
from tests.conftest import RICE


@pytest.fixture
def prediction_id(trained_settings, trained_sessions) -> int:
    row = pd.read_csv(RICE, nrows=1).drop(columns="Class").iloc[0].to_dict()
    with trained_sessions.begin() as session:
        return score_row(session=session, settings=trained_settings, dataset="rice", values=row).prediction_id


def _state(sessions, prediction_id: int) -> tuple[str | None, list[tuple[str | None, str, str]]]:
    with sessions() as session:
        feedback = label_of(session=session, prediction_id=prediction_id)
        history = label_history(session=session, prediction_id=prediction_id)
        return (
            feedback.label if feedback else None,
            [(h.old_label, h.new_label, h.who) for h in history],
        )


def test_a_known_class_is_stored_whatever_its_case_and_spaces(trained_sessions, prediction_id) -> None:
    with trained_sessions.begin() as session:
        feedback = record_label(session=session, prediction_id=prediction_id, label="  cAMMEO ", who="ana")
    assert feedback.label == "Cammeo" and feedback.who == "ana"
    assert _state(trained_sessions, prediction_id) == ("Cammeo", [(None, "Cammeo", "ana")])


def test_a_second_label_replaces_the_first_and_keeps_the_history(trained_sessions, prediction_id) -> None:
    with trained_sessions.begin() as session:
        first = record_label(session=session, prediction_id=prediction_id, label="Cammeo", who="ana")
    with trained_sessions.begin() as session:
        second = record_label(session=session, prediction_id=str(prediction_id), label="osmancik", who="bob")
    with trained_sessions.begin() as session:  # the same label again changes nothing
        record_label(session=session, prediction_id=prediction_id, label="Osmancik", who="carl")
    assert first.id == second.id
    assert _state(trained_sessions, prediction_id) == (
        "Osmancik",
        [(None, "Cammeo", "ana"), ("Cammeo", "Osmancik", "bob")],
    )
    with trained_sessions() as session:
        stored = session.scalar(select(Feedback))
        assert stored.who == "bob" and stored.updated_at >= stored.created_at
        assert session.scalar(select(func.count()).select_from(Feedback)) == 1


def test_a_new_class_is_refused_with_a_hint_and_nothing_changes(trained_sessions, prediction_id) -> None:
    with trained_sessions.begin() as session:
        record_label(session=session, prediction_id=prediction_id, label="Cammeo")
    hint = r"'Basmati' is not a class of model rice v1.*new version of the dataset"
    with pytest.raises(InvalidLabel, match=hint), trained_sessions.begin() as session:
        record_label(session=session, prediction_id=prediction_id, label="Basmati")
    with pytest.raises(InvalidLabel, match="empty"), trained_sessions.begin() as session:
        record_label(session=session, prediction_id=prediction_id, label="   ")
    assert _state(trained_sessions, prediction_id) == ("Cammeo", [(None, "Cammeo", "app")])


def test_an_unknown_prediction_is_refused_and_nothing_is_written(trained_sessions, prediction_id) -> None:
    for unknown in (prediction_id + 1000, "abc"):
        with pytest.raises(PredictionNotFound, match="No prediction"), trained_sessions.begin() as session:
            record_label(session=session, prediction_id=unknown, label="Cammeo")
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0
        assert session.scalar(select(func.count()).select_from(FeedbackHistory)) == 0


def test_normalise_label_matches_numbers_and_refuses_ambiguity() -> None:
    assert normalise_label(1, ["0", "1"]) == "1"
    assert normalise_label("new  york", ["New York", "Boston"]) == "New York"
    assert normalise_label("a", ["a", "A"]) == "a"  # an exact match wins
    with pytest.raises(InvalidLabel, match="several classes"):
        normalise_label("yes", ["Yes", "YES", "no"])
