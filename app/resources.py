"""Long-lived resources shared by every session: settings and the database session factory."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings, get_settings
from core.db import open_database

DATASET_KEY = "sift_dataset"


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
