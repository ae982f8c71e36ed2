"""Data: add a CSV file as a dataset version, manage versions, and explore one version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import resources
from app.ui import access, file_checks
from app.ui import data as ui
from app.ui.uploads import forget_upload, keep_upload
from core.datasets import explore
from core.datasets.leakage import version_leaks
from core.datasets.reading import DEFAULT_MISSING_MARKERS
from core.datasets.versions import (
    DatasetVersion,
    compare_versions,
    delete_version,
    get_version,
    ingest,
    list_versions,
    load_frame,
    unlabelled_rows,
)
from core.errors import SiftError

# The CSV file being added: a temporary copy of the upload (tests put any file's path here).
UPLOAD_PATH = "data_upload_path"
UPLOAD_NAME = "data_upload_name"
UPLOAD_PREFIX = "sift-upload-"
UPLOAD_ID = "data_upload_id"  # one per uploaded file, so its review widgets start afresh
UPLOADER_ID = "data_uploader_id"  # bumped to clear the file uploader after a save
NOTICE = "data_notice"
TRAIN_NEXT = "data_train_next"  # after a save: "Train a model" is one click away
# a rerun must not unpickle a copy of every cached sample: keep few of them
CACHE_SAMPLES = 2
CACHE_RESULTS = 16


# -- adding a file ----------------------------------------------------------------------------------


def _forget_upload() -> None:
    forget_upload(UPLOAD_PATH, UPLOAD_NAME, UPLOAD_PREFIX)


def _keep_upload(widget_key: str) -> None:
    """Copy the uploaded file to a temporary file that the reading and the ingest work on."""
    if keep_upload(widget_key, UPLOAD_PATH, UPLOAD_NAME, UPLOAD_PREFIX):
        st.session_state[UPLOAD_ID] = st.session_state.get(UPLOAD_ID, 0) + 1


def _save(*, path: str, filename: str, name: str, target: str, roles: dict[str, str], markers: list[str]) -> None:
    bar = st.progress(0.0, text="Storing the rows…")
    try:
        with resources.sessions().begin() as session:
            version, created = ingest(
                session=session,
                path=path,
                name=name,
                target=target,
                roles=roles,
                missing_markers=markers,
                source_name=filename,
                progress=lambda done: bar.progress(done, text=f"Storing the rows… {done:.0%}"),
            )
    except SiftError as exc:
        bar.empty()
        st.error(str(exc))
        return
    st.session_state[NOTICE] = ui.saved_notice(filename, version, created, target)
    st.session_state[TRAIN_NEXT] = True
    st.session_state["data_version"] = version.version
    st.session_state[UPLOADER_ID] = st.session_state.get(UPLOADER_ID, 0) + 1
    _forget_upload()
    resources.select_dataset(version.name)
    st.rerun()


def review_file(path: str, filename: str) -> None:
    """What was read from the file, the roles to confirm, the target and name, and the save button."""
    upload = st.session_state.get(UPLOAD_ID, 0)
    markers = st.multiselect(
        "Values that mean *missing*",
        options=list(DEFAULT_MISSING_MARKERS),
        default=list(DEFAULT_MISSING_MARKERS),
        format_func=ui.marker_label,
        accept_new_options=True,
        key=f"data_markers_{upload}",
        help="A cell holding exactly one of these (spaces around it ignored) is read as missing. "
        "Type a value and press Enter to add one, such as -999 or unknown.",
    )
    try:
        modified = Path(path).stat().st_mtime if Path(path).exists() else 0.0
        csv_file, inferred = file_checks.read_file(path, tuple(markers), modified)
    except SiftError as exc:
        st.error(str(exc))
        return
    ui.show_file(csv_file)
    frame = csv_file.frame

    names = [c.name for c in inferred]
    roles = {c.name: c.role for c in inferred}
    suggestion = file_checks.suggest(path, tuple(markers), modified)
    target = st.selectbox(
        "Target: the column to predict",
        names,
        index=None if suggestion.column is None else names.index(suggestion.column),
        placeholder="Pick the column to predict",
        key=f"data_target_{upload}",
    )
    st.caption(suggestion.reason if suggestion.column else f"{suggestion.reason} Pick the column to predict.")
    if target is not None:
        for warning in file_checks.target_warnings(path, tuple(markers), modified, target, roles[target]):
            st.warning(warning)
    leaks = st.container()  # filled once the roles below are chosen: a column set to identifier is not checked
    st.markdown("**Column roles** — what Sift will do with each column. Change a role where it guessed wrong.")
    edited = ui.roles_editor(inferred, key=f"data_roles_{upload}")
    if target is not None:
        st.caption(f"`{target}` is stored as the target, whatever its role above says.")
    unlabelled = 0 if target is None else int(frame[target].isna().sum())
    if unlabelled:
        rows = "row has" if unlabelled == 1 else "rows have"
        st.info(
            f"{unlabelled:,} {rows} no label in `{target}`: they will be kept in the version and left out of "
            "training and of the holdout."
        )
    name = st.text_input(
        "Dataset name",
        value=explore.dataset_name_from_file(filename),
        max_chars=64,
        key=f"data_name_{upload}",
        help="Letters, digits, '.', '_' or '-'. Saving under an existing name adds a version to it.",
    )
    chosen = dict(zip(edited["column"], edited["role"], strict=True))
    if target is not None:
        for warning in file_checks.leak_warnings(path, tuple(markers), modified, target, chosen):
            leaks.warning(warning)
    overrides = {c.name: chosen[c.name] for c in inferred if chosen[c.name] != c.role and c.name != target}
    if st.button(
        "Save as dataset version",
        type="primary",
        key="data_save",
        disabled=target is None,
        help="Pick the target first." if target is None else None,
    ):
        _save(path=path, filename=filename, name=name.strip(), target=target, roles=overrides, markers=markers)


def add_dataset(expanded: bool) -> None:
    path = st.session_state.get(UPLOAD_PATH)
    with st.expander("Add a dataset from a CSV file", expanded=expanded or path is not None, icon=":material/upload:"):
        uploader = f"data_upload_{st.session_state.get(UPLOADER_ID, 0)}"
        st.file_uploader(
            "CSV file",
            type=["csv", "tsv", "txt"],
            key=uploader,
            on_change=_keep_upload,
            args=(uploader,),
            help="Any delimiter (comma, semicolon, tab, pipe) and encoding; the first row names the columns.",
        )
        if path is not None:
            review_file(path, st.session_state.get(UPLOAD_NAME) or Path(path).name)


# -- exploring a version ----------------------------------------------------------------------------

# Cached results are keyed by the database, the version's id and its creation time, so a version
# deleted and another created with the same id (SQLite reuses ids) never shows stale figures.
VersionRef = tuple[str, int, str, str, int]


def _ref(version: DatasetVersion) -> VersionRef:
    return (resources.settings().database_url, version.id, str(version.created_at), version.name, version.version)


def _version(session, ref: VersionRef) -> DatasetVersion:
    return get_version(session=session, name=ref[3], version=ref[4])


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner="Counting rows, missing cells, duplicates and classes…")
def _overview(ref: VersionRef) -> explore.Overview:
    with resources.sessions()() as session:
        return explore.overview(session=session, version=_version(session, ref))


@st.cache_data(max_entries=CACHE_SAMPLES, show_spinner="Reading a sample of rows…")
def _sample(ref: VersionRef) -> explore.Sample:
    with resources.sessions()() as session:
        return explore.sample_frame(session=session, version=_version(session, ref))


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner="Looking for columns that give the target away…")
def _leaks(ref: VersionRef) -> list[str]:
    with resources.sessions()() as session:
        return [leak.message for leak in version_leaks(session=session, version=_version(session, ref))]


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner=False)
def _preview(ref: VersionRef) -> pd.DataFrame:
    with resources.sessions()() as session:
        return load_frame(session=session, version=_version(session, ref), limit=ui.PREVIEW_ROWS)


@st.cache_data(max_entries=64, show_spinner="Profiling the column…")
def _profile(ref: VersionRef, column: str, role: str, target: str) -> explore.ColumnProfile:
    return explore.column_profile(_sample(ref).frame, column, role=role, target=target)


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner="Relating the columns to each other and to the target…")
def _relations(ref: VersionRef, roles: dict[str, str], target: str) -> tuple[pd.DataFrame, explore.Association]:
    frame = _sample(ref).frame
    return explore.correlations(frame, roles), explore.target_association(frame, roles, target)


def _forget_if_gone(key: str, options: list) -> None:
    """Drop a selectbox's remembered choice that another dataset or version does not offer."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def show_overview(version: DatasetVersion, ref: VersionRef) -> None:
    ov = _overview(ref)
    with resources.sessions()() as session:
        unlabelled = unlabelled_rows(session=session, version=version)
    ui.show_overview(version, ov, unlabelled, _preview(ref), _leaks(ref))


def show_column(version: DatasetVersion, ref: VersionRef) -> None:
    ov = _overview(ref)
    names = list(ov.roles)
    default = next((i for i, n in enumerate(names) if ov.roles[n] not in ("identifier", "target")), 0)
    _forget_if_gone("data_column", names)
    column = st.selectbox("Column", names, index=default, key="data_column")
    ui.show_column(version, ov, column, _profile(ref, column, ov.roles[column], ov.target))


def show_relations(version: DatasetVersion, ref: VersionRef) -> None:
    ov = _overview(ref)
    matrix, association = _relations(ref, ov.roles, ov.target)
    ui.show_relations(version, ov.target, matrix, association)


def manage_versions(dataset: str, numbers: list[int], chosen: int) -> None:
    st.subheader("Compare two versions")
    if len(numbers) < 2:
        st.caption(f"{dataset} has one version: add another to compare them.")
    else:
        for key in ("data_compare_a", "data_compare_b"):
            _forget_if_gone(key, numbers)
        c1, c2 = st.columns(2)
        a = c1.selectbox("From", numbers, index=1, format_func=lambda n: f"v{n}", key="data_compare_a")
        b = c2.selectbox("To", numbers, index=0, format_func=lambda n: f"v{n}", key="data_compare_b")
        try:
            with resources.sessions()() as session:
                difference = compare_versions(session=session, name=dataset, a=a, b=b)
        except SiftError as exc:
            st.error(str(exc))
        else:
            ui.show_difference(difference)

    st.subheader("Delete a version")
    _forget_if_gone("data_delete_version", numbers)
    number = st.selectbox(
        "Version", numbers, index=numbers.index(chosen), format_func=lambda n: f"v{n}", key="data_delete_version"
    )
    confirmed = st.checkbox(
        f"Yes, delete {dataset} v{number} and its rows for good", key=f"data_delete_confirm_{dataset}_{number}"
    )
    if st.button("Delete version", disabled=not confirmed, key="data_delete") and access.admin_allowed(
        "Deleting a dataset version"
    ):
        try:
            with resources.sessions().begin() as session:
                delete_version(session=session, name=dataset, version=number, settings=resources.settings())
        except SiftError as exc:
            st.error(str(exc))
        else:
            st.session_state[NOTICE] = f"Deleted {dataset} v{number} and its rows."
            st.session_state.pop("data_version", None)
            st.rerun()


# -- the page -----------------------------------------------------------------------------------------

st.title("Data")
if notice := st.session_state.pop(NOTICE, None):
    st.success(notice)
    if st.session_state.pop(TRAIN_NEXT, False):
        st.page_link("app/pages/train.py", label="Train a model", icon=":material/tune:")
dataset = resources.current_dataset()

with resources.sessions()() as session:
    versions = list_versions(session=session)
add_dataset(expanded=not versions)
if not versions:
    st.info("No dataset yet: add a CSV file above, or load the demo data from the sidebar.")
    st.stop()

st.subheader("Dataset versions")
st.dataframe(
    ui.versions_frame(versions),
    hide_index=True,
    column_config={"rows": st.column_config.NumberColumn(format="localized")},
)
by_number = {v.version: v for v in versions if v.name == dataset}
if not by_number:
    st.stop()
numbers = list(by_number)
if st.session_state.get("data_version") not in numbers:
    st.session_state["data_version"] = numbers[0]
chosen = st.selectbox(f"Version of {dataset} to explore", numbers, format_func=lambda n: f"v{n}", key="data_version")
version = by_number[chosen]
ref = _ref(version)

overview_tab, column_tab, relations_tab, versions_tab = st.tabs(
    ["Overview", "Columns", "Relations", "Versions"], key="data_tab", on_change="rerun"
)
# only the open tab runs: a large dataset's relations are not computed until asked for
if overview_tab.open:
    with overview_tab:
        show_overview(version, ref)
if column_tab.open:
    with column_tab:
        show_column(version, ref)
if relations_tab.open:
    with relations_tab:
        show_relations(version, ref)
if versions_tab.open:
    with versions_tab:
        manage_versions(dataset, numbers, chosen)
