"""Predict: a form generated from the champion's input contract; the class, its probabilities and the
top reasons beside the form; feedback right under the result; quick fills from past predictions or training
rows. Everything on the page belongs to one dataset's champion (app/ui/state.py)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
import streamlit as st

from app import resources
from app.ui import state
from app.ui.charts import contribution_bar, probability_bar, reason_sentence, unit_meaning, unit_words
from core.champion import load_champion
from core.errors import SiftError
from core.feedback import label_of
from core.retrain_actions import label_prediction_and_retrain
from core.scoring.ledger import recent_predictions
from core.scoring.single import score_row, training_row, typed_values

TOP_REASONS = 6
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2100, 12, 31)  # dates outside training are allowed, and flagged

st.title("Predict")
dataset = resources.require_dataset()

try:
    with st.spinner("Loading the champion model…"), resources.sessions()() as session:
        model = load_champion(resources.settings(), dataset, session=session)
except SiftError as exc:
    st.warning(str(exc))
    st.stop()

# the form, its notes and the result belong to this dataset's champion: another dataset (even one whose
# champion is also v1) or a new champion (other columns, other ranges) starts from its own defaults
page = state.scope("predict", dataset=dataset, version=model.version)


def field_key(spec: dict[str, Any], part: str | None = None) -> str:
    """A form field's key: its column (and ``part``, the time of a date-time column) under the page's scope."""
    return page.key("field", column=spec["name"], **({"part": part} if part else {}))


def shown_confidence(confidence: float) -> str:
    """The predicted class's probability, rounded down: a model's probability is never shown as a certainty."""
    return f"{min(math.floor(confidence * 1000) / 1000, 0.999):.1%}"


def _number(spec: dict[str, Any], value: float) -> int | float:
    return round(value) if spec.get("integer") else float(value)


def _when(value: Any) -> pd.Timestamp | None:
    return None if value in (None, "") else pd.Timestamp(value)


def set_fields(values: dict[str, Any]) -> None:
    """Put typed ``values`` into the form's widgets (missing values keep what the field holds)."""
    for spec in model.features:
        value, key = values.get(spec["name"]), field_key(spec)
        if spec["role"] == "numeric":
            if value is not None:
                st.session_state[key] = _number(spec, value)
        elif spec["role"] == "datetime":
            when = _when(value)
            if when is not None:
                st.session_state[key] = when.date()
                if spec.get("has_time"):
                    st.session_state[field_key(spec, "time")] = when.time()
        elif spec["role"] == "text":
            st.session_state[key] = "" if value is None else str(value)
        elif value is not None:
            st.session_state[key] = str(value)


def typical_fields() -> None:
    """Start every field at its typical training value, once per dataset and champion."""
    if page.get("started"):
        return
    set_fields(typed_values(model, {f["name"]: f.get("typical") for f in model.features}))
    page.set("started", True)


def fill_from_prediction(prediction: dict[str, Any]) -> None:
    set_fields(typed_values(model, prediction["inputs"]))
    page.set(
        "note",
        f"Filled from prediction #{prediction['prediction_id']} "
        f"(predicted {prediction['prediction']} by version {prediction['model_version']}).",
    )


def fill_from_training_row() -> None:
    try:
        with resources.sessions()() as session:
            row = training_row(session=session, model=model)
    except SiftError as exc:
        page.set("note", f"⚠️ {exc}")
        return
    set_fields(typed_values(model, row["values"]))
    page.set("note", f"Filled with row {row['row']} of {row['dataset']}: its true class is {row['target']}.")


def field_help(spec: dict[str, Any]) -> str | None:
    if spec["role"] == "numeric" and spec.get("min") is not None:
        return f"Seen in training: {spec['min']:g} to {spec['max']:g}. Other values are accepted and flagged."
    if spec["role"] == "datetime" and spec.get("min"):
        return f"Seen in training: {spec['min']} to {spec['max']}. Other dates are accepted and flagged."
    if "categories" in spec:
        return "Type a value the list does not have to try it: unseen categories are accepted and flagged."
    return None


def form_values() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in model.features:
        value = st.session_state.get(field_key(spec))
        if spec["role"] == "datetime" and value is not None:
            moment = st.session_state.get(field_key(spec, "time")) if spec.get("has_time") else None
            value = dt.datetime.combine(value, moment) if moment is not None else value
        values[spec["name"]] = value
    return values


def shown(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M") if value != value.normalize() else value.strftime("%Y-%m-%d")
    if isinstance(value, float):
        return "missing" if value != value else f"{value:.6g}"
    return "missing" if value is None else str(value)


typical_fields()
st.caption(
    f"Scoring with the `{dataset}` champion, version {model.version}. Fields start at typical training values; "
    "values the model has not seen are accepted and flagged."
)
form_side, result_side = st.columns([3, 2], gap="large")  # the result beside the form, never below the fold

with form_side:
    with st.form(page.key("form")):
        columns = st.columns(2)
        for i, spec in enumerate(model.features):
            name, key, hint = spec["name"], field_key(spec), field_help(spec)
            with columns[i % 2]:
                if spec["role"] == "numeric":
                    if spec.get("integer"):
                        st.number_input(name, step=1, key=key, help=hint)
                    else:
                        st.number_input(name, key=key, help=hint, format="%.6g")
                elif spec["role"] == "text":
                    st.text_area(name, key=key)
                elif spec["role"] == "datetime":
                    st.date_input(name, key=key, min_value=EARLIEST, max_value=LATEST, help=hint)
                    if spec.get("has_time"):
                        st.time_input(f"{name} (time)", key=field_key(spec, "time"), step=60)
                else:
                    st.selectbox(name, spec.get("categories", []), key=key, help=hint, accept_new_options=True)
        submitted = st.form_submit_button("Predict", type="primary")

    with st.container(horizontal=True, vertical_alignment="bottom"):
        with resources.sessions()() as session:
            recent = recent_predictions(session=session, dataset=dataset, limit=50)
        by_id = {p["prediction_id"]: p for p in recent}
        chosen = st.selectbox(
            "Fill from a past prediction",
            list(by_id),
            index=None,
            format_func=lambda i: (
                f"#{i} · {by_id[i]['prediction']} · v{by_id[i]['model_version']} · {by_id[i]['source']}"
            ),
            placeholder="Recent predictions" if by_id else "No prediction yet",
            key=page.key("past"),
            disabled=not by_id,
        )
        st.button(
            "Fill",
            key=page.key("fill_past"),
            disabled=chosen is None,
            on_click=lambda: fill_from_prediction(by_id[chosen]) if chosen in by_id else None,
        )
        st.button("Fill with a random training row", key=page.key("fill_training"), on_click=fill_from_training_row)
    if page.get("note"):
        st.caption(page.get("note"))

if submitted:
    inputs = form_values()
    try:
        with resources.sessions().begin() as session:
            scored = score_row(session=session, settings=resources.settings(), dataset=dataset, values=inputs)
    except SiftError as exc:
        with result_side:
            st.error(str(exc))
        page.pop("result")
    else:
        page.clear("correct", "true_class", "save")  # the previous prediction's feedback widgets
        page.set("result", scored, inputs=inputs)
        st.rerun()  # drawn again, the sidebar's counters and the past predictions above include this one

result = page.get("result")
if result is None:
    st.stop()
current = page.current("result", form_values())


def show_result() -> None:
    if not current:
        st.warning(
            f"Out of date: the inputs changed since this prediction. Press Predict to score them. "
            f"Prediction #{result.prediction_id} stays in the ledger: label it on the Feedback page.",
            icon="⚠️",
        )
    first, second = st.columns(2)
    first.metric("Predicted class", str(result.prediction))
    second.metric(
        "Confidence",
        shown_confidence(result.confidence),
        help="The model's probability for this class, rounded down: never shown as a certainty.",
    )
    st.caption(f"Prediction #{result.prediction_id} · model version {result.model_version}")
    if not current:
        return
    st.plotly_chart(probability_bar(result.probabilities, str(result.prediction)), key=page.key("proba"))
    for flag in result.flags:
        st.warning(
            f"{flag} (outside what the model has seen): this prediction is less certain than its confidence says.",
            icon="⚠️",
        )
    explanation = result.explanation
    if explanation is not None:
        st.subheader("Top reasons")
        predicted = str(result.prediction)
        labels = [(f"{r.column} = {shown(r.value)}", r.contribution) for r in explanation.top(TOP_REASONS)]
        st.plotly_chart(contribution_bar(labels, predicted, explanation.unit), key=page.key("reasons"))
        if labels and abs(labels[0][1]) > 1e-9:
            st.caption(f"Strongest: {reason_sentence(*labels[0], predicted, explanation.unit)}.")
        elif labels:
            st.caption(f"No column moves {unit_words(explanation.unit, predicted)} compared with its typical value.")
        st.caption(
            f"{unit_meaning(explanation.unit, predicted)} Green pushes towards {predicted}, red away from it. "
            f"Method: {explanation.description}."
        )
    show_feedback()


def show_feedback() -> None:
    st.subheader("Was this right?")
    with resources.sessions()() as session:
        given = label_of(session=session, prediction_id=result.prediction_id)
    classes = [str(c) for c in model.classes] if result.model_version == model.version else list(result.probabilities)
    this = {"prediction": result.prediction_id}  # a fresh box for each prediction: never another one's label
    with st.container(horizontal=True, vertical_alignment="bottom"):
        correct = st.button(
            f"Correct: it is {result.prediction}", key=page.key("correct", **this), icon=":material/check:"
        )
        true_class = st.selectbox(
            "True class", classes, index=None, placeholder="Pick the true class", key=page.key("true_class", **this)
        )
        save = st.button("Save true class", key=page.key("save", **this), disabled=true_class is None)
    label = str(result.prediction) if correct else true_class if save else None
    if label is not None:
        try:
            given, trigger = label_prediction_and_retrain(
                sessions=resources.sessions(),
                settings=resources.settings(),
                prediction_id=result.prediction_id,
                label=label,
            )
            st.success(f"Saved: prediction #{result.prediction_id} is {given.label}.")
            if trigger.job_id is not None:  # automatic retraining queued a job, started once committed
                st.info(f"Enough labels gathered: retrain job {trigger.job_id} started. Follow it on the Train page.")
            elif trigger.due:
                st.info(trigger.message or "Enough labels gathered to retrain: see the Train page.")
        except SiftError as exc:
            st.error(str(exc))
    elif given is not None:
        st.caption(f"Labelled {given.label} (by {given.who}). Saving another label replaces it; the history is kept.")


with result_side:
    show_result()
