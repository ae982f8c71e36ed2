"""Uploaded files kept as temporary files, so core reads them by path like any other file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any


def save_upload(uploaded: Any, prefix: str) -> str:
    """Write a ``st.file_uploader`` file to a temporary file named ``prefix…``; return its path."""
    with tempfile.NamedTemporaryFile(prefix=prefix, suffix=".csv", delete=False) as fh:
        fh.write(uploaded.getbuffer())
    return fh.name


def discard_upload(path: str | None, prefix: str) -> None:
    """Delete a temporary upload; a path that ``save_upload`` did not make is left alone."""
    if path and Path(path).name.startswith(prefix):
        Path(path).unlink(missing_ok=True)
