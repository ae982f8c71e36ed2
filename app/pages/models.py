"""Models: registered versions of the dataset's model, with their metrics and aliases."""

import pandas as pd
import streamlit as st

from app import resources
from app.ui.format import METRIC_LABELS
from core import registry

st.title("Models")
dataset = resources.current_dataset()
if dataset is None:
    st.info("No dataset yet.")
    st.stop()

versions = registry.list_versions(resources.settings(), dataset)
if not versions:
    st.info(f"No model for {dataset} yet. Train one with `python -m core train --dataset {dataset}`.")
    st.stop()

st.caption(f"Registered model `{dataset}`: {len(versions)} version(s). Scoring uses the `champion` alias.")
rows = []
for v in versions:
    row = {
        "version": v.version,
        "aliases": ", ".join(v.aliases),
        "created": v.created_at,
        "dataset version": v.tags.get("sift.dataset_version", ""),
    }
    row |= {label: v.metrics.get(key) for key, label in METRIC_LABELS.items()}
    rows.append(row)
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    column_config={label: st.column_config.NumberColumn(format="%.3f") for label in METRIC_LABELS.values()},
)
