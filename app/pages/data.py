"""Data: the dataset versions and a preview of their rows."""

import pandas as pd
import streamlit as st

from app import resources
from core.datasets.versions import get_version, list_versions, load_frame

PREVIEW_ROWS = 100

st.title("Data")
dataset = resources.current_dataset()

with resources.sessions()() as session:
    versions = list_versions(session=session)
    if not versions:
        st.info("No dataset yet. Ingest a CSV with `python -m core ingest PATH --name NAME --target COLUMN`.")
        st.stop()
    st.subheader("Dataset versions")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "dataset": v.name,
                    "version": v.version,
                    "rows": v.row_count,
                    "columns": v.column_count,
                    "target": v.target,
                    "file": v.source_file,
                    "created": v.created_at,
                    "hash": v.content_hash[:12],
                }
                for v in versions
            ]
        ),
        hide_index=True,
    )
    numbers = [v.version for v in versions if v.name == dataset]
    if not numbers:
        st.stop()
    chosen = st.selectbox(f"Version of {dataset} to preview", numbers, key="data_version")
    version = get_version(session=session, name=dataset, version=chosen)
    preview = load_frame(session=session, version=version, limit=PREVIEW_ROWS)

st.subheader(f"{version.label}: columns")
st.dataframe(
    pd.DataFrame(version.columns)[["name", "role", "reason", "dtype"]],
    hide_index=True,
    column_config={"reason": st.column_config.TextColumn("why this role", width="large")},
)
st.subheader(f"First {min(PREVIEW_ROWS, version.row_count)} of {version.row_count:,} rows")
st.dataframe(preview, hide_index=True)
