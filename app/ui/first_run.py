"""First-run actions shared by Home and the sidebar: load the bundled demo dataset in one click."""

from __future__ import annotations

import streamlit as st

from app import resources
from core.datasets.demo import DEMO_DATASET, load_demo
from core.errors import SiftError


def demo_button(*, key: str) -> None:
    """A "Load a demo dataset" button: stores the bundled rice grains and makes them the sidebar's dataset."""
    clicked = st.button(
        "Load a demo dataset",
        key=key,
        icon=":material/dataset:",
        help=f"Stores the bundled rice grains (two varieties, measured from photos) as the dataset {DEMO_DATASET}, "
        "ready to explore and train on.",
    )
    if not clicked:
        return
    try:
        with st.spinner("Storing the demo rows…"), resources.sessions().begin() as session:
            version, _ = load_demo(session=session)
    except SiftError as exc:
        st.error(str(exc))
        return
    resources.select_dataset(version.name)
    st.rerun()
