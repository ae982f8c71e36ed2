"""One row: checked, scored, explained and written to the ledger with the version that scored it."""

from __future__ import annotations

import json
from datetime import date

import pytest

from core.db.models import Prediction
from core.errors import InputContractError
from core.scoring.single import score_row
from tests.core.scoring.conftest import FEATURES, _ledger_count, _rice


def test_score_row_goes_to_the_ledger_with_the_model_version(trained_settings, trained_sessions) -> None:
    row = _rice(1).iloc[0].to_dict()
    with trained_sessions.begin() as session:
        scored = score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert scored.prediction in {"Cammeo", "Osmancik"}
    assert scored.flags == []
    assert sum(scored.probabilities.values()) == pytest.approx(1.0)
    assert {r.column for r in scored.explanation.reasons} == set(FEATURES)
    with trained_sessions() as session:
        stored = session.get(Prediction, scored.prediction_id)
    assert stored.model_version == 1 and stored.source == "form" and stored.batch_id is None
    assert stored.predicted_class == scored.prediction
    assert json.loads(stored.inputs)["Area"] == row["Area"]
    assert set(json.loads(stored.probabilities)) == {"Cammeo", "Osmancik"}


def test_out_of_range_values_are_scored_and_flagged(trained_settings, trained_sessions) -> None:
    row = _rice(1).iloc[0].to_dict() | {"Area": 10**9}
    with trained_sessions.begin() as session:
        scored = score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert scored.flags == ["Area: outside training range"]


def test_an_unreadable_value_is_refused_and_nothing_is_stored(trained_settings, trained_sessions) -> None:
    row = _rice(1).iloc[0].to_dict() | {"Area": "lots"}
    with pytest.raises(InputContractError, match="Area: 'lots' is not a number"), trained_sessions.begin() as session:
        score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert _ledger_count(trained_sessions) == 0


def test_a_form_row_with_a_date_object_and_a_new_category(events_settings, events_sessions) -> None:
    row = {"size": 80.0, "colour": "purple", "when": date(2023, 6, 1)}
    with events_sessions.begin() as session:
        scored = score_row(session=session, settings=events_settings, dataset="events", values=row)
    assert scored.prediction == "big"
    assert scored.flags == ["colour: unseen category"]
    with events_sessions() as session:
        assert json.loads(session.get(Prediction, scored.prediction_id).inputs)["when"].startswith("2023-06-01")
