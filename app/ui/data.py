"""The Data page on screen: a file as read, the version table, a version's overview, a column's
profile, the relations between columns, and the difference between two versions.

Each function draws what the page read through :mod:`core.datasets`; none of them reads or computes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import explore as figures
from app.ui.format import plain_integer_columns
from core.datasets import explore
from core.datasets.reading import CsvFile
from core.datasets.roles import ROLES, ColumnRole
from core.datasets.versions import DatasetVersion, VersionComparison

PREVIEW_ROWS = 100
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


# -- adding a file ----------------------------------------------------------------------------------


def marker_label(marker: str) -> str:
    return "(empty cell)" if marker == "" else marker


def show_file(csv_file: CsvFile) -> None:
    """How the file was read (encoding, delimiter, size) and its first rows."""
    frame = csv_file.frame
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Encoding", csv_file.encoding)
    c2.metric("Delimiter", DELIMITER_NAMES.get(csv_file.delimiter, repr(csv_file.delimiter)))
    c3.metric("Rows", f"{len(frame):,}")
    c4.metric("Columns", f"{frame.shape[1]:,}")
    st.caption(f"First {min(PREVIEW_ROWS, len(frame))} rows as read")
    head = frame.head(PREVIEW_ROWS)
    st.dataframe(head, hide_index=True, height=240, column_config=plain_integer_columns(head))


def roles_editor(inferred: list[ColumnRole], key: str) -> pd.DataFrame:
    """The inferred role of each column, with the reason, in a table whose roles can be changed."""
    names = [c.name for c in inferred]
    return st.data_editor(
        pd.DataFrame(
            {
                "column": names,
                "role": [c.role for c in inferred],
                "why": [c.reason for c in inferred],
                "type": [c.dtype for c in inferred],
            }
        ),
        key=key,
        hide_index=True,
        height=min(40 + 35 * len(names), 640),  # every role in view for up to ~17 columns
        disabled=["column", "why", "type"],
        column_config={
            "role": st.column_config.SelectboxColumn("role", options=list(ROLES), required=True),
            "why": st.column_config.TextColumn("why this role", width="large"),
        },
        width="stretch",
    )


def saved_notice(filename: str, version: DatasetVersion, created: bool, target: str) -> str:
    """What a save stored, in words."""
    if created:
        notice = f"Saved {filename} as **{version.label}** ({version.row_count:,} rows, target `{target}`)."
        if version.unlabelled_rows:
            notice += f" {unlabelled_note(version.unlabelled_rows, version)}"
    else:
        notice = f"{filename} with this target and these roles is already **{version.label}**: nothing new was stored."
    return notice


# -- exploring a version ----------------------------------------------------------------------------


def versions_frame(versions: list[DatasetVersion]) -> pd.DataFrame:
    """Every dataset version, one row each."""
    return pd.DataFrame(
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
    )


def sample_note(version: DatasetVersion) -> str:
    """Says which rows the figures are computed on (see explore.sample_frame)."""
    if version.row_count > explore.SAMPLE_ROWS:
        return (
            f"Computed on a random sample of {explore.SAMPLE_ROWS:,} of the {version.row_count:,} rows "
            "(the same rows every time)."
        )
    return f"Computed on all {version.row_count:,} rows."


def unlabelled_note(count: int, version: DatasetVersion) -> str:
    rows = "row has" if count == 1 else "rows have"
    return (
        f"{count:,} {rows} no label in `{version.target}` ({count / max(version.row_count, 1):.1%}): "
        "kept in this version, left out of training and of the holdout."
    )


def show_overview(
    version: DatasetVersion, ov: explore.Overview, unlabelled: int, preview: pd.DataFrame, leaks: list[str]
) -> None:
    """Counts, roles and class balance of a version; first the columns that give its target away, if any."""
    for leak in leaks:
        st.warning(leak)
    if unlabelled:
        st.info(unlabelled_note(unlabelled, version))
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
    st.dataframe(preview, hide_index=True)


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def summary_text(summary: dict[str, object]) -> str:
    parts = []
    for key, value in summary.items():
        if isinstance(value, float):
            shown = f"{value:.1%}" if key == "its share" else _number(value)
        else:
            shown = f"{value:,}" if isinstance(value, int) else str(value)
        parts.append(f"{key}: **{shown}**")
    return " · ".join(parts)


def show_column(version: DatasetVersion, ov: explore.Overview, column: str, profile: explore.ColumnProfile) -> None:
    """A column's profile: its role, missing share, distinct values, summary and distribution."""
    role = ov.roles[column]
    c1, c2, c3 = st.columns(3)
    c1.metric("Role", role)
    c2.metric(
        "Missing",
        f"{ov.missing[column] / max(ov.rows, 1):.1%}",
        help=f"{int(ov.missing[column]):,} of {ov.rows:,} rows, counted over every row.",
    )
    c3.metric("Distinct values", f"{profile.distinct:,}", help="In the rows the figures are computed on.")
    if profile.summary:
        st.markdown(summary_text(profile.summary))
    if profile.note:
        st.info(profile.note)
    st.caption(sample_note(version))
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


def show_relations(
    version: DatasetVersion, target: str, matrix: pd.DataFrame, association: explore.Association
) -> None:
    """Correlations between numeric columns, and how much each column tells about the target."""
    note = sample_note(version)
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
                figures.association_bar(association.ranking, target), key="data_chart_association", width="stretch"
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
        shown = {k: ", ".join(map(marker_label, v)) or "none" for k, v in diff.missing_markers.items()}
        st.caption(f"Missing markers: v{diff.a} {shown['a']}; v{diff.b} {shown['b']}.")
