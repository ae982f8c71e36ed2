"""The Predict page (AppTest): a prediction with its reasons, flags, quick fills and feedback."""

from __future__ import annotations

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.db.models import Feedback, FeedbackHistory, Prediction

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/predict.py"


def _page() -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _predict(at: AppTest) -> AppTest:
    at.button[0].click().run()  # the form's Predict button comes first
    assert not at.exception and not at.error
    return at


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_prediction_shows_its_class_probabilities_and_reasons(trained_settings, trained_sessions) -> None:
    at = _predict(_page())
    predicted = next(m for m in at.metric if m.label == "Predicted class").value
    assert predicted in {"Cammeo", "Osmancik"}
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert {"predict_proba", "predict_reasons"} <= charts
    assert any(c.value.startswith("Method: ") for c in at.caption)
    assert not at.warning  # typical values: nothing outside what the model has seen
    with trained_sessions() as session:
        stored = session.scalar(select(Prediction))
    assert stored.predicted_class == predicted and stored.source == "form" and stored.model_version == 1


def test_values_outside_training_are_accepted_and_flagged(trained_settings, trained_sessions) -> None:
    at = _page()
    at.number_input(key="predict_v1_0").set_value(10**9)  # Area
    _predict(at)
    assert any("Area: outside training range" in w.value and "has seen" in w.value for w in at.warning)
    assert _count(trained_sessions, Prediction) == 1


def test_feedback_buttons_store_a_label_and_replace_it(trained_settings, trained_sessions) -> None:
    at = _predict(_page())
    predicted = next(m for m in at.metric if m.label == "Predicted class").value
    at.button(key="predict_feedback_correct").click().run()
    assert not at.exception and any(predicted in s.value for s in at.success)
    with trained_sessions() as session:
        assert session.scalar(select(Feedback.label)) == predicted
    other = "Osmancik" if predicted == "Cammeo" else "Cammeo"
    at.selectbox(key="predict_feedback_label").select(other).run()
    at.button(key="predict_feedback_save").click().run()
    assert not at.exception and any(other in s.value for s in at.success)
    with trained_sessions() as session:
        assert session.scalar(select(Feedback.label)) == other
        history = [(h.old_label, h.new_label) for h in session.scalars(select(FeedbackHistory))]
    assert history == [(None, predicted), (predicted, other)]
    assert _count(trained_sessions, Prediction) == 1  # feedback scores nothing


def test_fill_from_a_training_row_and_from_a_past_prediction(trained_settings, trained_sessions) -> None:
    at = _page()
    typical = at.number_input(key="predict_v1_0").value
    at.button(key="predict_fill_training").click().run()
    assert not at.exception
    assert any(c.value.startswith("Filled with row") and "true class is" in c.value for c in at.caption)
    filled = at.number_input(key="predict_v1_0").value
    _predict(at)
    first = next(m for m in at.metric if m.label == "Predicted class").value
    at.number_input(key="predict_v1_0").set_value(typical + 1).run()
    prediction_id = _count(trained_sessions, Prediction)
    at.selectbox(key="predict_past").select(prediction_id).run()
    at.button(key="predict_fill_past").click().run()
    assert not at.exception
    assert at.number_input(key="predict_v1_0").value == filled
    assert any(c.value.startswith(f"Filled from prediction #{prediction_id}") for c in at.caption)
    _predict(at)
    assert next(m for m in at.metric if m.label == "Predicted class").value == first
