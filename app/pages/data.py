"""Data: add a CSV file as a dataset version, manage versions, and explore one version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app import resources
from app.ui import access
from app.ui import explore as figures
from app.ui.format import plain_integer_columns
from app.ui.uploads import forget_upload, keep_upload
from core.datasets import explore
from core.datasets.reading import DEFAULT_MISSING_MARKERS, CsvFile, read_csv
from core.datasets.roles import ROLES, ColumnRole, infer_roles
from core.datasets.target import TargetSuggestion, check_target, suggest_target
from core.datasets.versions import (
    VersionComparison,
    compare_versions,
    delete_version,
    get_version,
    ingest,
    list_versions,
    load_frame,
    unlabelled_rows,
)
from core.db.models import DatasetVersion
from core.errors import SiftError

PREVIEW_ROWS = 100
# The CSV file being added: a temporary copy of the upload (tests put any file's path here).
UPLOAD_PATH = "data_upload_path"
UPLOAD_NAME = "data_upload_name"
UPLOAD_PREFIX = "sift-upload-"
UPLOAD_ID = "data_upload_id"  # one per uploaded file, so its review widgets start afresh
UPLOADER_ID = "data_uploader_id"  # bumped to clear the file uploader after a save
NOTICE = "data_notice"
TRAIN_NEXT = "data_train_next"  # after a save: "Train a model" is one click away
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
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


@st.cache_data(max_entries=2, show_spinner="Reading the file…")
def _read_file(path: str, markers: tuple[str, ...], modified: float) -> tuple[CsvFile, list[ColumnRole]]:
    csv_file = read_csv(path, missing_markers=list(markers))
    return csv_file, infer_roles(csv_file.frame)


@st.cache_data(max_entries=2, show_spinner=False)
def _suggest(path: str, markers: tuple[str, ...], modified: float) -> TargetSuggestion:
    """The target suggested for the file as read (see core.datasets.target)."""
    csv_file, inferred = _read_file(path, markers, modified)
    return suggest_target(csv_file.frame, inferred)


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner=False)
def _check(path: str, markers: tuple[str, ...], modified: float, target: str, role: str) -> list[str]:
    """Warnings on predicting ``target`` of the file as read (see core.datasets.target)."""
    csv_file, _ = _read_file(path, markers, modified)
    return check_target(csv_file.frame, target, role)


def _marker_label(marker: str) -> str:
    return "(empty cell)" if marker == "" else marker


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
    if created:
        notice = f"Saved {filename} as **{version.label}** ({version.row_count:,} rows, target `{target}`)."
        if version.unlabelled_rows:
            notice += f" {_unlabelled_note(version.unlabelled_rows, version)}"
    else:
        notice = f"{filename} with this target and these roles is already **{version.label}**: nothing new was stored."
    st.session_state[NOTICE] = notice
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
        format_func=_marker_label,
        accept_new_options=True,
        key=f"data_markers_{upload}",
        help="A cell holding exactly one of these (spaces around it ignored) is read as missing. "
        "Type a value and press Enter to add one, such as -999 or unknown.",
    )
    try:
        modified = Path(path).stat().st_mtime if Path(path).exists() else 0.0
        csv_file, inferred = _read_file(path, tuple(markers), modified)
    except SiftError as exc:
        st.error(str(exc))
        return
    frame = csv_file.frame
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Encoding", csv_file.encoding)
    c2.metric("Delimiter", DELIMITER_NAMES.get(csv_file.delimiter, repr(csv_file.delimiter)))
    c3.metric("Rows", f"{len(frame):,}")
    c4.metric("Columns", f"{frame.shape[1]:,}")
    st.caption(f"First {min(PREVIEW_ROWS, len(frame))} rows as read")
    head = frame.head(PREVIEW_ROWS)
    st.dataframe(head, hide_index=True, height=240, column_config=plain_integer_columns(head))

    names = [c.name for c in inferred]
    roles = {c.name: c.role for c in inferred}
    suggestion = _suggest(path, tuple(markers), modified)
    target = st.selectbox(
        "Target: the column to predict",
        names,
        index=None if suggestion.column is None else names.index(suggestion.column),
        placeholder="Pick the column to predict",
        key=f"data_target_{upload}",
    )
    st.caption(suggestion.reason if suggestion.column else f"{suggestion.reason} Pick the column to predict.")
    if target is not None:
        for warning in _check(path, tuple(markers), modified, target, roles[target]):
            st.warning(warning)
    st.markdown("**Column roles** — what Sift will do with each column. Change a role where it guessed wrong.")
    edited = st.data_editor(
        pd.DataFrame(
            {
                "column": names,
                "role": [c.role for c in inferred],
                "why": [c.reason for c in inferred],
                "type": [c.dtype for c in inferred],
            }
        ),
        key=f"data_roles_{upload}",
        hide_index=True,
        height=min(40 + 35 * len(names), 640),  # every role in view for up to ~17 columns
        disabled=["column", "why", "type"],
        column_config={
            "role": st.column_config.SelectboxColumn("role", options=list(ROLES), required=True),
            "why": st.column_config.TextColumn("why this role", width="large"),
        },
        width="stretch",
    )
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


@st.cache_data(max_entries=CACHE_RESULTS, show_spinner=False)
def _preview(ref: VersionRef) -> pd.DataFrame:
    with resources.sessions()() as session:
        return load_frame(session=session, version=_version(session, ref), limit=PREVIEW_ROWS)


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


def _sample_note(version: DatasetVersion) -> str:
    """Says which rows the figures are computed on (see explore.sample_frame)."""
    if version.row_count > explore.SAMPLE_ROWS:
        return (
            f"Computed on a random sample of {explore.SAMPLE_ROWS:,} of the {version.row_count:,} rows "
            "(the same rows every time)."
        )
    return f"Computed on all {version.row_count:,} rows."


def _unlabelled_note(count: int, version: DatasetVersion) -> str:
    rows = "row has" if count == 1 else "rows have"
    return (
        f"{count:,} {rows} no label in `{version.target}` ({count / max(version.row_count, 1):.1%}): "
        "kept in this version, left out of training and of the holdout."
    )


def show_overview(version: DatasetVersion, ref: VersionRef) -> None:
    ov = _overview(ref)
    with resources.sessions()() as session:
        unlabelled = unlabelled_rows(session=session, version=version)
    if unlabelled:
        st.info(_unlabelled_note(unlabelled, version))
    cells = max(ov.rows * ov.columns, 1)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rows", f"{ov.rows:,}")
    c2.metric("Columns", f"{ov.columns:,}")
    c3.metric("Missing cells", f"{ov.missing_cells:,}", help=f"{ov.missing_cells / cells:.2%} of all cells")
    ignoring = f", ignoring the identifier column(s) {', '.join(ov.identifiers)}" if ov.identifiers else ""
    c4.metric(
        "Duplicate rows",
        f"{ov.duplicate_rows:,}",
        help=f"Rows identical to an earlier row in every column{ignoring}.",
    )
    by_role = " · ".join(f"{n} {role}" for role, n in sorted(ov.columns_by_role.items(), key=lambda kv: -kv[1]))
    st.caption(f"Columns by role: {by_role}. Counted over all {ov.rows:,} rows.")
    if ov.duplicate_rows:
        st.info(
            f"{ov.duplicate_rows:,} rows ({ov.duplicate_rows / max(ov.rows, 1):.1%}) repeat an earlier row"
            f"{ignoring}. Repeated rows can land in both the training and the holdout rows and flatter the "
            "scores: check whether they are real repeats or double exports."
        )

    columns = pd.DataFrame(version.columns)
    columns["missing"] = columns["name"].map(ov.missing).fillna(0).astype("int64")
    columns["missing %"] = columns["missing"] / max(ov.rows, 1) * 100
    st.dataframe(
        columns[["name", "role", "reason", "dtype", "missing", "missing %"]],
        hide_index=True,
        column_config={
            "reason": st.column_config.TextColumn("why this role", width="large"),
            "missing %": st.column_config.ProgressColumn("missing %", format="%.1f%%", min_value=0, max_value=100),
        },
    )

    left, right = st.columns(2)
    with left:
        if ov.missing_cells:
            st.plotly_chart(figures.missing_bar(ov.missing, ov.rows), key="data_chart_missing", width="stretch")
        else:
            st.success("No missing cells in any column.")
    with right:
        st.plotly_chart(
            figures.class_balance_bar(ov.class_counts, ov.imbalanced), key="data_chart_classes", width="stretch"
        )
        if ov.imbalanced:
            small, large = ov.class_counts.index[-1], ov.class_counts.index[0]
            st.warning(
                f"Heavy class imbalance: the smallest class `{small}` has {ov.class_counts.iloc[-1]:,} rows, "
                f"{ov.imbalance_ratio:.1%} of the largest (`{large}`, {ov.class_counts.iloc[0]:,} rows). "
                f"A model can look accurate by mostly predicting `{large}`: judge it by macro F1 or balanced "
                f"accuracy rather than accuracy, and expect it to miss `{small}` more often. More rows of the "
                "small classes help most."
            )
        missing_target = int(ov.missing.get(ov.target, 0))
        if missing_target:
            st.caption(f"{missing_target:,} rows have no target value and are left out of training.")

    st.subheader(f"First {min(PREVIEW_ROWS, ov.rows)} of {ov.rows:,} rows")
    st.dataframe(_preview(ref), hide_index=True)


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def _summary_text(summary: dict[str, object]) -> str:
    parts = []
    for key, value in summary.items():
        if isinstance(value, float):
            shown = f"{value:.1%}" if key == "its share" else _number(value)
        else:
            shown = f"{value:,}" if isinstance(value, int) else str(value)
        parts.append(f"{key}: **{shown}**")
    return " · ".join(parts)


def show_column(version: DatasetVersion, ref: VersionRef) -> None:
    ov = _overview(ref)
    names = list(ov.roles)
    default = next((i for i, n in enumerate(names) if ov.roles[n] not in ("identifier", "target")), 0)
    _forget_if_gone("data_column", names)
    column = st.selectbox("Column", names, index=default, key="data_column")
    role = ov.roles[column]
    profile = _profile(ref, column, role, ov.target)
    c1, c2, c3 = st.columns(3)
    c1.metric("Role", role)
    c2.metric(
        "Missing",
        f"{ov.missing[column] / max(ov.rows, 1):.1%}",
        help=f"{int(ov.missing[column]):,} of {ov.rows:,} rows, counted over every row.",
    )
    c3.metric("Distinct values", f"{profile.distinct:,}", help="In the rows the figures are computed on.")
    if profile.summary:
        st.markdown(_summary_text(profile.summary))
    if profile.note:
        st.info(profile.note)
    st.caption(_sample_note(version))
    left, right = st.columns(2)
    if profile.histogram is not None:
        axis = column if profile.measure == "values" else f"{column}: {profile.measure}"
        figure = figures.histogram(profile.histogram, axis, f"Distribution of {axis}")
        left.plotly_chart(figure, key="data_chart_column", width="stretch")
        if profile.histogram.by_class:
            right.plotly_chart(
                figures.histogram_by_class(profile.histogram, axis, f"{column} by {ov.target}"),
                key="data_chart_column_by_class",
                width="stretch",
            )
    elif profile.categories is not None:
        left.plotly_chart(
            figures.category_bar(profile.categories, f"Most frequent values of {column}"),
            key="data_chart_column",
            width="stretch",
        )
        if not profile.categories.by_class.empty:
            right.plotly_chart(
                figures.category_by_class(profile.categories, f"Mix of {ov.target} for each value of {column}"),
                key="data_chart_column_by_class",
                width="stretch",
            )


def show_relations(version: DatasetVersion, ref: VersionRef) -> None:
    ov = _overview(ref)
    matrix, association = _relations(ref, ov.roles, ov.target)
    note = _sample_note(version)
    if association.rows < min(version.row_count, explore.SAMPLE_ROWS):
        note += f" The ranking uses {association.rows:,} of those rows (seeded): mutual information is costlier."
    st.caption(note)
    if matrix.empty:
        st.caption("Fewer than two numeric columns: no correlations to show.")
        left, right = None, st.container()
    else:
        left, right = st.columns(2)
    if left is not None:
        with left:
            st.plotly_chart(figures.correlation_heatmap(matrix), key="data_chart_correlation", width="stretch")
            pairs = explore.strong_pairs(matrix)
            if pairs:
                listed = "; ".join(f"`{a}` and `{b}` (r = {r:.2f})" for a, b, r in pairs[:5])
                st.caption(f"Columns that move together, so they carry much the same information: {listed}.")
    with right:
        if association.ranking.empty:
            st.info("No column could be ranked against the target.")
        else:
            st.plotly_chart(
                figures.association_bar(association.ranking, ov.target), key="data_chart_association", width="stretch"
            )
            st.caption(
                "Mutual information between each column and the target (scikit-learn's `mutual_info_classif`): "
                "0 means the column tells nothing about the target on its own; it does not see interactions "
                "between columns. Categories use their most frequent values, text its length."
            )
        if association.skipped:
            skipped = "; ".join(f"`{c}`: {why}" for c, why in association.skipped.items())
            st.caption(f"Not ranked — {skipped}.")
    if not association.ranking.empty:
        st.dataframe(
            association.ranking,
            hide_index=True,
            column_config={
                "mutual information": st.column_config.NumberColumn(format="%.4f"),
                "share of target entropy": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            },
        )


def show_difference(diff: VersionComparison) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Rows in v{diff.b}", f"{diff.rows['b']:,}", delta=f"{diff.rows['change']:+,} from v{diff.a}")
    c2.metric(f"Columns in v{diff.b}", diff.columns["b"], delta=f"{diff.columns['change']:+,} from v{diff.a}")
    c3.metric("Same file content", "yes" if diff.same_content else "no")
    if diff.target["a"] != diff.target["b"]:
        st.warning(f"The target changed: `{diff.target['a']}` in v{diff.a}, `{diff.target['b']}` in v{diff.b}.")
    changes = [{"column": c["name"], "change": "added", f"v{diff.a}": "", f"v{diff.b}": c["role"]} for c in diff.added]
    changes += [
        {"column": c["name"], "change": "removed", f"v{diff.a}": c["role"], f"v{diff.b}": ""} for c in diff.removed
    ]
    changes += [
        {"column": c["name"], "change": "role changed", f"v{diff.a}": c["a"], f"v{diff.b}": c["b"]}
        for c in diff.role_changed
    ]
    if changes:
        st.dataframe(pd.DataFrame(changes), hide_index=True)
    elif not diff.schema_changed:
        st.caption("Same columns, roles and target.")
    if diff.missing_markers["a"] != diff.missing_markers["b"]:
        shown = {k: ", ".join(map(_marker_label, v)) or "none" for k, v in diff.missing_markers.items()}
        st.caption(f"Missing markers: v{diff.a} {shown['a']}; v{diff.b} {shown['b']}.")


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
            show_difference(difference)

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
