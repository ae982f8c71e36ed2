"""The ledger: predictions read back as they were written, by id, and the span of a dataset's predictions."""

from __future__ import annotations

import pytest

from core.errors import PredictionNotFound
from core.scoring.ledger import find_prediction, get_prediction, prediction_span, recent_predictions
from core.scoring.single import score_row
from tests.core.scoring.conftest import _rice


def test_predictions_are_read_back_decoded_newest_first(trained_settings, trained_sessions) -> None:
    rows = _rice(2)
    with trained_sessions.begin() as session:
        first = score_row(session=session, settings=trained_settings, dataset="rice", values=rows.iloc[0].to_dict())
        second = score_row(
            session=session, settings=trained_settings, dataset="rice", values=rows.iloc[1].to_dict(), source="api"
        )
    with trained_sessions() as session:
        recent = recent_predictions(session=session, dataset="rice")
        assert [r["prediction_id"] for r in recent] == [second.prediction_id, first.prediction_id]
        assert recent[0]["source"] == "api" and recent[1]["source"] == "form"
        assert recent[0]["inputs"]["Area"] == rows.iloc[1]["Area"] and recent[0]["model_version"] == 1
        assert recent[1]["prediction"] == first.prediction
        assert recent[1]["probabilities"] == pytest.approx(first.probabilities, abs=1e-6)
        assert recent_predictions(session=session, dataset="nope") == []
        first_at, last_at = prediction_span(session=session, dataset="rice")
        assert first_at is not None and first_at <= last_at
        assert prediction_span(session=session, dataset="nope") == (None, None)


def test_an_unknown_prediction_is_none_when_found_and_refused_when_got(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        scored = score_row(
            session=session, settings=trained_settings, dataset="rice", values=_rice(1).iloc[0].to_dict()
        )
    with trained_sessions() as session:
        assert find_prediction(session=session, prediction_id=scored.prediction_id).predicted_class == scored.prediction
        assert find_prediction(session=session, prediction_id=999_999) is None
        assert get_prediction(session, f" {scored.prediction_id} ").id == scored.prediction_id  # the id as typed
        for unknown in (999_999, "x"):
            with pytest.raises(PredictionNotFound, match="No prediction"):
                get_prediction(session, unknown)
