"""The Predict page (AppTest): a prediction with its reasons, flags, quick fills and feedback."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.ui.state import Scope
from core.config import REPO_ROOT
from core.db.models import Feedback, FeedbackHistory, Prediction
from tests.app.two_datasets import (  # noqa: F401 (the fixtures are used by name)
    choose_dataset,
    open_page,
    two_datasets_settings,
    two_datasets_template,
)

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/predict.py"
RICE_V1 = Scope("predict", {"dataset": "rice", "version": 1})
AREA = RICE_V1.key("field", column="Area")


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


def _prediction_id(at: AppTest) -> int:
    return int(next(c.value for c in at.caption if c.value.startswith("Prediction #")).split("#")[1].split()[0])


def _feedback_key(name: str, at: AppTest) -> str:
    """A feedback widget's key: it belongs to the prediction shown."""
    return RICE_V1.key(name, prediction=_prediction_id(at))


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_prediction_shows_its_class_probabilities_and_reasons(trained_settings, trained_sessions) -> None:
    at = _predict(_page())
    predicted = next(m for m in at.metric if m.label == "Predicted class").value
    assert predicted in {"Cammeo", "Osmancik"}
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert {RICE_V1.key("proba"), RICE_V1.key("reasons")} <= charts
    assert any("Method: " in c.value for c in at.caption)
    assert not at.warning  # typical values: nothing outside what the model has seen
    with trained_sessions() as session:
        stored = session.scalar(select(Prediction))
    assert stored.predicted_class == predicted and stored.source == "form" and stored.model_version == 1


def test_values_outside_training_are_accepted_and_flagged(trained_settings, trained_sessions) -> None:
    at = _page()
    at.number_input(key=AREA).set_value(10**9)  # Area
    _predict(at)
    assert any("Area: outside training range" in w.value and "has seen" in w.value for w in at.warning)
    assert _count(trained_sessions, Prediction) == 1


def test_feedback_buttons_store_a_label_and_replace_it(trained_settings, trained_sessions) -> None:
    at = _predict(_page())
    predicted = next(m for m in at.metric if m.label == "Predicted class").value
    at.button(key=_feedback_key("correct", at)).click().run()
    assert not at.exception and any(predicted in s.value for s in at.success)
    with trained_sessions() as session:
        assert session.scalar(select(Feedback.label)) == predicted
    other = "Osmancik" if predicted == "Cammeo" else "Cammeo"
    at.selectbox(key=_feedback_key("true_class", at)).select(other).run()
    at.button(key=_feedback_key("save", at)).click().run()
    assert not at.exception and any(other in s.value for s in at.success)
    with trained_sessions() as session:
        assert session.scalar(select(Feedback.label)) == other
        history = [(h.old_label, h.new_label) for h in session.scalars(select(FeedbackHistory))]
    assert history == [(None, predicted), (predicted, other)]
    assert _count(trained_sessions, Prediction) == 1  # feedback scores nothing


def test_fill_from_a_training_row_and_from_a_past_prediction(trained_settings, trained_sessions) -> None:
    at = _page()
    typical = at.number_input(key=AREA).value
    at.button(key=RICE_V1.key("fill_training")).click().run()
    assert not at.exception
    assert any(c.value.startswith("Filled with row") and "true class is" in c.value for c in at.caption)
    filled = at.number_input(key=AREA).value
    _predict(at)
    first = next(m for m in at.metric if m.label == "Predicted class").value
    at.number_input(key=AREA).set_value(typical + 1).run()
    prediction_id = _count(trained_sessions, Prediction)
    at.selectbox(key=RICE_V1.key("past")).select(prediction_id).run()
    at.button(key=RICE_V1.key("fill_past")).click().run()
    assert not at.exception
    assert at.number_input(key=AREA).value == filled
    assert any(c.value.startswith(f"Filled from prediction #{prediction_id}") for c in at.caption)
    _predict(at)
    assert next(m for m in at.metric if m.label == "Predicted class").value == first


# --- page state tied to the dataset, the champion and the prediction (issue 13) -----------------


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _fields(at: AppTest) -> dict[str, object]:
    """The form's values by label (labels, not keys: they are what the analyst sees)."""
    inputs = [*at.number_input, *at.selectbox, *at.text_area, *at.date_input]
    return {w.label: w.value for w in inputs if w.label not in {"Fill from a past prediction", "True class"}}


def _predicted(at: AppTest) -> str | None:
    return next((m.value for m in at.metric if m.label == "Predicted class"), None)


@pytest.mark.usefixtures("two_datasets_settings")
def test_two_datasets_whose_champions_are_both_v1_share_nothing() -> None:
    fresh_penguins = _fields(open_page(PAGE, "penguins"))
    fresh_rice = _fields(open_page(PAGE, "rice"))
    assert fresh_penguins != fresh_rice and "bill_length_mm" in fresh_penguins

    at = open_page(PAGE, "rice")
    _button(at, "Fill with a random training row").click().run()
    filled_rice = _fields(at)
    assert filled_rice != fresh_rice
    _predict(at)
    assert _predicted(at) in {"Cammeo", "Osmancik"}

    choose_dataset(at, "penguins")  # both champions are v1: the form, note and result must not follow
    assert _fields(at) == fresh_penguins
    assert _predicted(at) is None
    assert not [c for c in at.caption if c.value.startswith("Filled with row")]
    assert not at.warning  # no field holds another dataset's value, flagged out of range
    assert "Scoring with the `penguins` champion, version 1" in at.caption[0].value
    _predict(at)
    assert _predicted(at) in {"Adelie", "Chinstrap", "Gentoo"}

    choose_dataset(at, "rice")  # and coming back starts rice afresh: nothing of penguins either
    assert _fields(at) == fresh_rice and _predicted(at) is None


def test_the_true_class_box_is_empty_for_each_new_prediction(trained_settings, trained_sessions) -> None:
    at = _predict(_page())
    first = _prediction_id(at)
    other = "Osmancik" if _predicted(at) == "Cammeo" else "Cammeo"
    box = next(s for s in at.selectbox if s.label == "True class")
    box.select(other).run()
    _button(at, "Save true class").click().run()
    assert any(f"#{first} is {other}" in s.value for s in at.success)
    _predict(at)
    assert _prediction_id(at) == first + 1
    assert next(s for s in at.selectbox if s.label == "True class").value is None  # nothing armed for #2
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Feedback)) == 1


def test_a_result_is_out_of_date_once_the_inputs_change(trained_settings, trained_sessions) -> None:
    at = _predict(_page())
    assert not [w for w in at.warning if "out of date" in w.value.lower()]
    shown = _prediction_id(at)
    _button(at, "Fill with a random training row").click().run()
    assert not at.exception
    assert any("out of date" in w.value.lower() and "inputs changed" in w.value for w in at.warning)
    # its feedback is gone with it: the refilled row's true class must not label the old prediction
    assert not [s for s in at.selectbox if s.label == "True class"]
    assert not [b for b in at.button if b.label == "Save true class"]
    _predict(at)
    assert _prediction_id(at) == shown + 1
    assert not [w for w in at.warning if "out of date" in w.value.lower()]


def test_the_reasons_say_their_unit_in_words(trained_settings) -> None:
    at = _page()
    _button(at, "Fill with a random training row").click().run()  # not the typical row: some column matters
    _predict(at)
    predicted = _predicted(at)
    strongest = next(c.value for c in at.caption if c.value.startswith("Strongest: "))
    assert re.search(rf" pushes the (probability|log-odds) of {predicted} (up|down) by \d", strongest)
    assert any(("log-odds" in c.value or "probability of" in c.value) and "Method: " in c.value for c in at.caption)


def test_a_flagged_prediction_is_never_shown_as_certain(trained_settings) -> None:
    at = _page()
    next(n for n in at.number_input if n.label == "Area").set_value(10**9)
    _predict(at)
    assert any("less certain" in w.value for w in at.warning)
    confidence = next(m.value for m in at.metric if m.label == "Confidence")
    assert confidence != "100.0%" and re.fullmatch(r"\d{1,2}\.\d%", confidence)
