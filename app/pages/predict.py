"""Predict: a form generated from the champion's input contract; the class and its probabilities."""

import streamlit as st

from app import resources
from app.ui.charts import probability_bar
from core.errors import SiftError
from core.scoring import load_champion, score_row

st.title("Predict")
dataset = resources.current_dataset()
if dataset is None:
    st.info("No dataset yet.")
    st.stop()

try:
    with st.spinner("Loading the champion model…"):
        model = load_champion(resources.settings(), dataset)
except SiftError as exc:
    st.warning(str(exc))
    st.stop()

st.caption(f"Scoring with `{dataset}` champion, version {model.version}. Fields start at typical training values.")

values = {}
with st.form("predict_form"):
    columns = st.columns(2)
    for i, spec in enumerate(model.contract["features"]):
        name, key = spec["name"], f"predict_{i}"
        with columns[i % 2]:
            if spec["role"] == "numeric":
                low, high = spec.get("min"), spec.get("max")
                help_text = f"Seen in training: {low:g} to {high:g}" if low is not None else None
                if spec.get("integer"):
                    values[name] = st.number_input(name, value=round(spec["typical"]), step=1, key=key, help=help_text)
                else:
                    values[name] = st.number_input(
                        name, value=float(spec["typical"]), key=key, help=help_text, format="%.6g"
                    )
            elif spec["role"] == "text":
                values[name] = st.text_area(name, value="", key=key)
            else:
                options = spec.get("categories", [])
                values[name] = st.selectbox(name, options, index=0 if options else None, key=key)
    submitted = st.form_submit_button("Predict", type="primary")

if submitted:
    try:
        with resources.sessions().begin() as session:
            result = score_row(session=session, settings=resources.settings(), dataset=dataset, values=values)
    except SiftError as exc:
        st.error(str(exc))
        st.stop()
    left, right = st.columns([1, 2])
    with left:
        st.metric("Predicted class", str(result.prediction))
        st.metric("Confidence", f"{result.confidence:.1%}")
        st.caption(f"Prediction #{result.prediction_id} · model version {result.model_version}")
        for flag in result.flags:
            st.warning(f"{flag}: outside what the model has seen")
    with right:
        st.plotly_chart(probability_bar(result.probabilities, str(result.prediction)), key="predict_proba")
