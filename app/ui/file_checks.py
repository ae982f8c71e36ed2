"""What the Data page reads from an uploaded file, cached per file: the file as read with its
inferred roles, the suggested target, and the warnings on a chosen target (an odd choice, and
columns that give it away). Each is keyed by the file's path, missing markers and modification time.
"""

from __future__ import annotations

import streamlit as st

from core.datasets.leakage import MAX_ROWS, leakage_warnings
from core.datasets.reading import CsvFile, read_csv
from core.datasets.roles import ColumnRole, apply_conversions, infer_roles
from core.datasets.target import TargetSuggestion, check_target, suggest_target

CACHE_RESULTS = 16


@st.cache_data(max_entries=2, show_spinner="Reading the file…")
def read_file(path: str, markers: tuple[str, ...], modified: float) -> tuple[CsvFile, list[ColumnRole]]:
    csv_file = read_csv(path, missing_markers=list(markers))
    return csv_file, infer_roles(csv_file.frame)


@st.cache_data(max_entries=2, show_spinner=False)
def suggest(path: str, markers: tuple[str, ...], modified: float) -> TargetSuggestion:
    """The target suggested for the file as read (see core.datasets.target)."""
    csv_file, inferred = read_file(path, markers, modified)
    return suggest_target(csv_file.frame, inferred)


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner=False)
def target_warnings(path: str, markers: tuple[str, ...], modified: float, target: str, role: str) -> list[str]:
    """Warnings on predicting ``target`` of the file as read (see core.datasets.target)."""
    csv_file, _ = read_file(path, markers, modified)
    return check_target(csv_file.frame, target, role)


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner="Looking for columns that give the target away…")
def leak_warnings(
    path: str, markers: tuple[str, ...], modified: float, target: str, roles: dict[str, str]
) -> list[str]:
    """Columns that predict ``target`` almost perfectly on their own, with ``roles`` as chosen (see
    core.datasets.leakage): on a seeded random sample of rows, as for a stored version."""
    csv_file, inferred = read_file(path, markers, modified)
    frame = csv_file.frame
    if len(frame) > MAX_ROWS:
        frame = frame.sample(n=MAX_ROWS, random_state=0)
    frame = apply_conversions(frame, [c.as_dict() for c in inferred])  # numbers and dates as stored
    return leakage_warnings(frame, roles, target)
