"""Long-lived resources shared by every session: settings and the database session factory."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings, get_settings
from core.db import open_database

DATASET_KEY = "sift_dataset"
# the sidebar's dataset selectbox owns DATASET_KEY; a page asks for a change through this key,
# which the entry script applies before the sidebar renders on the next run
PENDING_DATASET_KEY = "sift_dataset_pending"


def settings() -> Settings:
    return get_settings()


@st.cache_resource(show_spinner=False)
def _sessions(database_url: str, tracking_uri: str) -> sessionmaker[Session]:
    # keyed by the URLs so a changed SIFT_HOME (tests, a second home) gets its own factory
    return open_database(settings())


def sessions() -> sessionmaker[Session]:
    s = settings()
    return _sessions(s.database_url, s.tracking_uri)


def current_dataset() -> str | None:
    """The dataset chosen in the sidebar (shared by every page)."""
    return st.session_state.get(DATASET_KEY)


def select_dataset(name: str) -> None:
    """Make ``name`` the sidebar's dataset from the next run on (call ``st.rerun()`` after)."""
    st.session_state[PENDING_DATASET_KEY] = name


def require_dataset() -> str:
    """The sidebar's dataset; on an empty home, say where to start and stop the page."""
    dataset = current_dataset()
    if dataset is None:
        st.info("No dataset yet: ingest a CSV on the Data page first.")
        st.stop()
    return dataset
