"""Uploaded files kept as temporary files, so core reads them by path like any other file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import streamlit as st


def save_upload(uploaded: Any, prefix: str) -> str:
    """Write a ``st.file_uploader`` file to a temporary file named ``prefix…``; return its path."""
    with tempfile.NamedTemporaryFile(prefix=prefix, suffix=".csv", delete=False) as fh:
        fh.write(uploaded.getbuffer())
    return fh.name


def discard_upload(path: str | None, prefix: str) -> None:
    """Delete a temporary upload; a path that ``save_upload`` did not make is left alone."""
    if path and Path(path).name.startswith(prefix):
        Path(path).unlink(missing_ok=True)


def forget_upload(path_key: str, name_key: str, prefix: str) -> None:
    """Drop the kept upload from the session and delete its temporary file."""
    st.session_state.pop(name_key, None)
    discard_upload(st.session_state.pop(path_key, None), prefix)


def keep_upload(widget_key: str, path_key: str, name_key: str, prefix: str) -> bool:
    """``on_change`` of a file uploader: keep its file's path and name in the session.

    Returns whether a file is now kept (False when the uploader was cleared).
    """
    uploaded = st.session_state.get(widget_key)
    forget_upload(path_key, name_key, prefix)
    if uploaded is None:
        return False
    st.session_state[path_key] = save_upload(uploaded, prefix)
    st.session_state[name_key] = uploaded.name
    return True
