"""Predict: a form generated from the champion's input contract; the class, its probabilities and the
top reasons; feedback right under the result; quick fills from past predictions or training rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from app import resources
from app.ui.charts import contribution_bar, probability_bar
from core import jobs
from core.errors import SiftError
from core.feedback import label_of, label_prediction
from core.scoring import load_champion, recent_predictions, score_row, training_row, typed_values

RESULT_KEY = "predict_result"
NOTE_KEY = "predict_fill_note"
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


def field_key(i: int, part: str = "") -> str:
    # the version is in the key: a new champion (other columns, other ranges) starts from its own defaults
    return f"predict_v{model.version}_{i}{part}"


def _number(spec: dict[str, Any], value: float) -> int | float:
    return round(value) if spec.get("integer") else float(value)


def _when(value: Any) -> pd.Timestamp | None:
    return None if value in (None, "") else pd.Timestamp(value)


def set_fields(values: dict[str, Any]) -> None:
    """Put typed ``values`` into the form's widgets (missing values keep what the field holds)."""
    for i, spec in enumerate(model.features):
        value = values.get(spec["name"])
        if spec["role"] == "numeric":
            if value is not None:
                st.session_state[field_key(i)] = _number(spec, value)
        elif spec["role"] == "datetime":
            when = _when(value)
            if when is not None:
                st.session_state[field_key(i)] = when.date()
                if spec.get("has_time"):
                    st.session_state[field_key(i, "_time")] = when.time()
        elif spec["role"] == "text":
            st.session_state[field_key(i)] = "" if value is None else str(value)
        elif value is not None:
            st.session_state[field_key(i)] = str(value)


def typical_fields() -> None:
    """Start every field at its typical training value, once per champion."""
    if st.session_state.get(field_key(-1)):
        return
    set_fields(typed_values(model, {f["name"]: f.get("typical") for f in model.features}))
    st.session_state[field_key(-1)] = True


def fill_from_prediction(prediction: dict[str, Any]) -> None:
    set_fields(typed_values(model, prediction["inputs"]))
    st.session_state[NOTE_KEY] = (
        f"Filled from prediction #{prediction['prediction_id']} "
        f"(predicted {prediction['prediction']} by version {prediction['model_version']})."
    )


def fill_from_training_row() -> None:
    try:
        with resources.sessions()() as session:
            row = training_row(session=session, model=model)
    except SiftError as exc:
        st.session_state[NOTE_KEY] = f"⚠️ {exc}"
        return
    set_fields(typed_values(model, row["values"]))
    st.session_state[NOTE_KEY] = f"Filled with row {row['row']} of {row['dataset']}: its true class is {row['target']}."


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
    for i, spec in enumerate(model.features):
        value = st.session_state.get(field_key(i))
        if spec["role"] == "datetime" and value is not None:
            moment = st.session_state.get(field_key(i, "_time")) if spec.get("has_time") else None
            value = dt.datetime.combine(value, moment) if moment is not None else value
        values[spec["name"]] = value
    return values


typical_fields()
st.caption(
    f"Scoring with the `{dataset}` champion, version {model.version}. Fields start at typical training values; "
    "values the model has not seen are accepted and flagged."
)

with st.form("predict_form"):
    columns = st.columns(2)
    for i, spec in enumerate(model.features):
        name, key, hint = spec["name"], field_key(i), field_help(spec)
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
                    st.time_input(f"{name} (time)", key=field_key(i, "_time"), step=60)
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
        format_func=lambda i: f"#{i} · {by_id[i]['prediction']} · v{by_id[i]['model_version']} · {by_id[i]['source']}",
        placeholder="Recent predictions" if by_id else "No prediction yet",
        key="predict_past",
        disabled=not by_id,
    )
    st.button(
        "Fill",
        key="predict_fill_past",
        disabled=chosen is None,
        on_click=lambda: fill_from_prediction(by_id[chosen]) if chosen in by_id else None,
    )
    st.button("Fill with a random training row", key="predict_fill_training", on_click=fill_from_training_row)
if st.session_state.get(NOTE_KEY):
    st.caption(st.session_state[NOTE_KEY])

if submitted:
    try:
        with resources.sessions().begin() as session:
            st.session_state[RESULT_KEY] = score_row(
                session=session, settings=resources.settings(), dataset=dataset, values=form_values()
            )
    except SiftError as exc:
        st.error(str(exc))
        st.session_state.pop(RESULT_KEY, None)
    else:
        st.rerun()  # drawn again, the sidebar's counters and the past predictions above include this one

result = st.session_state.get(RESULT_KEY)
if result is None or result.model_name != dataset:
    st.stop()

st.divider()
left, right = st.columns([1, 2])
with left:
    st.metric("Predicted class", str(result.prediction))
    st.metric("Confidence", f"{result.confidence:.1%}")
    st.caption(f"Prediction #{result.prediction_id} · model version {result.model_version}")
with right:
    st.plotly_chart(probability_bar(result.probabilities, str(result.prediction)), key="predict_proba")
for flag in result.flags:
    st.warning(f"{flag}: outside what the model has seen, so this prediction is less certain.", icon="⚠️")

explanation = result.explanation
if explanation is not None:
    st.subheader("Top reasons")
    top = explanation.top(TOP_REASONS)

    def shown(value: Any) -> str:
        if isinstance(value, pd.Timestamp):
            return value.strftime("%Y-%m-%d %H:%M") if value != value.normalize() else value.strftime("%Y-%m-%d")
        if isinstance(value, float):
            return "missing" if value != value else f"{value:,.6g}"
        return "missing" if value is None else str(value)

    labels = [(f"{r.column} = {shown(r.value)}", r.contribution) for r in top]
    st.plotly_chart(contribution_bar(labels, str(result.prediction), explanation.unit), key="predict_reasons")
    st.caption(f"Method: {explanation.description}. Green pushes towards {result.prediction}, red away from it.")

st.subheader("Was this right?")
with resources.sessions()() as session:
    given = label_of(session=session, prediction_id=result.prediction_id)
classes = [str(c) for c in model.classes] if result.model_version == model.version else list(result.probabilities)
with st.container(horizontal=True, vertical_alignment="bottom"):
    correct = st.button(f"Correct: it is {result.prediction}", key="predict_feedback_correct", icon=":material/check:")
    true_class = st.selectbox(
        "True class", classes, index=None, placeholder="Pick the true class", key="predict_feedback_label"
    )
    save = st.button("Save true class", key="predict_feedback_save", disabled=true_class is None)
label = str(result.prediction) if correct else true_class if save else None
if label is not None:
    try:
        with resources.sessions().begin() as session:
            given, trigger = label_prediction(
                session=session, settings=resources.settings(), prediction_id=result.prediction_id, label=label
            )
        st.success(f"Saved: prediction #{result.prediction_id} is {given.label}.")
        if trigger.job_id is not None:  # automatic retraining queued a job: start it once committed
            jobs.start_job(resources.settings(), trigger.job_id)
            st.info(f"Enough labels gathered: retrain job {trigger.job_id} started. Follow it on the Train page.")
        elif trigger.due:
            st.info(trigger.message or "Enough labels gathered to retrain: see the Train page.")
    except SiftError as exc:
        st.error(str(exc))
elif given is not None:
    st.caption(f"Labelled {given.label} (by {given.who}). Saving another label replaces it; the history is kept.")
