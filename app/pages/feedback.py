"""Feedback: the true class of past predictions, given in a table of recent predictions or as a CSV
file of ``prediction_id,label``; the counters that make a retrain due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from app import resources
from app.ui import state
from app.ui.uploads import forget_upload, keep_upload
from core.errors import SiftError
from core.feedback import (
    LabelImport,
    dataset_classes,
    feedback_counts,
    label_history,
)
from core.retrain_actions import import_label_file_and_retrain, label_predictions_and_retrain
from core.scoring.batch import list_batches
from core.scoring.ledger import PredictionFilter, prediction_span, prediction_table

WHO = "app"
# every key of the page lives in its dataset's scope (app/ui/state.py): another dataset starts afresh.
# The CSV file to import is kept as a temporary copy under "upload_path" (tests put any file's path there).
UPLOAD_PREFIX = "sift-feedback-"
LIMITS = (100, 500, 2000)
ALL, SINGLE, ANY = "All", "Single predictions", "Any"
# where each prediction came from (the ledger's source), in the analyst's words
MADE_BY = {"form": "Predict page", "batch": "batch file", "api": "API"}
TRUE_LABEL = "true label"
# the columns a labeller needs first (kept in view while the inputs scroll), then the inputs, then the rest
KEY_COLUMNS = {
    "prediction_id": "prediction id",
    "created_at": "predicted at",
    "predicted": "predicted",
    "confidence": "confidence",
    "label": TRUE_LABEL,
}
OTHER_COLUMNS = {
    "flags": "flags",
    "model_version": "model version",
    "source": "made by",
    "batch_id": "batch",
    "labelled_by": "labelled by",
}
PINNED = ("prediction id", "predicted", "confidence", TRUE_LABEL)


def _forget_upload(scope: state.Scope) -> None:
    forget_upload(scope.key("upload_path"), scope.key("upload_name"), UPLOAD_PREFIX)


def _keep_upload(widget_key: str, scope: state.Scope) -> None:
    keep_upload(widget_key, scope.key("upload_path"), scope.key("upload_name"), UPLOAD_PREFIX)
    scope.pop("imported")  # the result shown belongs to the previous file


def _with_inputs(table: pd.DataFrame) -> pd.DataFrame:
    """The predictions with the values each was made from, between the key columns and the rest."""
    inputs = pd.DataFrame(table["inputs"].tolist(), index=table.index)
    shown = set(KEY_COLUMNS.values()) | set(OTHER_COLUMNS.values())
    inputs.columns = [f"{c} (input)" if c in shown else str(c) for c in inputs.columns]
    table = table.assign(source=table["source"].map(MADE_BY).fillna(table["source"]))
    return pd.concat(
        [
            table[list(KEY_COLUMNS)].rename(columns=KEY_COLUMNS),
            inputs,
            table[list(OTHER_COLUMNS)].rename(columns=OTHER_COLUMNS),
        ],
        axis=1,
    )


def _outcome(outcome: LabelImport, what: str) -> dict:
    """What a save or an import did, in words, kept to be shown where it was asked for after the rerun."""
    saved = f"{what} {outcome.accepted:,} label(s) accepted"
    if outcome.accepted:
        saved += f" ({outcome.created:,} new, {outcome.replaced:,} replaced, {outcome.unchanged:,} unchanged)."
    else:
        saved += "."
    rejected = ""
    if outcome.rejected:
        rows = "row was" if outcome.rejected == 1 else "rows were"
        rejected = f"{outcome.rejected:,} {rows} rejected and not stored: see why below, fix them and try again."
    note = ""
    trigger = outcome.retrain
    if trigger is not None and trigger.job_id is not None:
        note = f"Retrain job {trigger.job_id} started automatically: follow it on the Train page."
    elif trigger is not None and trigger.message:
        note = trigger.message
    return {
        "saved": saved,
        "accepted": outcome.accepted,
        "rejected": rejected,
        "reasons": outcome.reasons,
        "note": note,
    }


def _show_outcome(shown: dict | None, name: str) -> None:
    """A save's or an import's result, right under its button: stored, rejected with every reason, retrain."""
    if not shown:
        return
    (st.success if shown["accepted"] else st.info)(shown["saved"])
    if shown["rejected"]:
        st.warning(shown["rejected"])
        reasons = pd.DataFrame({"row": list(shown["reasons"]), "reason": list(shown["reasons"].values())})
        st.dataframe(
            reasons,
            hide_index=True,
            key=page.key(f"{name}_reasons"),
            column_config={"reason": st.column_config.TextColumn("reason", width="large")},
        )
    if shown["note"]:
        st.info(shown["note"])


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


st.title("Feedback")
dataset = resources.require_dataset()
page = state.scope("feedback", dataset=dataset)
settings = resources.settings()
sessions = resources.sessions()

with sessions() as session:
    counts = feedback_counts(session=session, settings=settings, dataset=dataset)
    classes = dataset_classes(session=session, dataset=dataset)
    first, last = prediction_span(session=session, dataset=dataset)
    batches = list_batches(session=session, dataset=dataset, limit=200)

pending_col, since_col, threshold_col = st.columns(3)
pending_col.metric("Predictions without a label", f"{counts.pending:,}", help=f"{counts.labelled:,} labelled so far.")
since_col.metric(
    f"Labels since champion v{counts.champion}" if counts.champion else "Labels since the champion",
    "–" if counts.since_champion is None else f"{counts.since_champion:,}",
    help="Labels given after the champion was registered: what a retrain would add.",
)
threshold_col.metric(
    "Retrain threshold",
    f"{counts.threshold:,}",
    help="Labels since the champion that make a retrain due. Set it on the Train page.",
)
if counts.due:
    mode = "it starts by itself (automatic mode)" if counts.auto else "start it on the Train page"
    st.info(f"A retrain is due: {counts.since_champion:,} labels since champion v{counts.champion}; {mode}.")

if counts.predictions == 0:
    st.info(
        f"No predictions for {dataset} yet: score rows on the Predict or Batch page (or through the scoring API), "
        "then label them here."
    )
    st.stop()

# --- the table of recent predictions ------------------------------------------------------------

st.subheader("Recent predictions")
left, made_col, middle, right = st.columns(4)
days = left.date_input(
    "Predicted between",
    value=(),  # no range picked: every date
    min_value=first.date() - timedelta(days=1),
    max_value=max(last.date(), datetime.now(UTC).date()) + timedelta(days=1),
    key=page.key("dates"),
)
made_by = made_col.selectbox(
    "Made by",
    [ANY, *MADE_BY.values()],
    key=page.key("made_by"),
    help="Where the prediction was made: the Predict page's form, a batch file (Batch page or command line), "
    "or the scoring API.",
)
batch_names = {b.id: f"{b.source_file} ({b.id[:8]}, {b.rows:,} rows)" for b in batches}
batch = middle.selectbox(
    "Batch", [ALL, SINGLE, *batch_names], format_func=lambda b: batch_names.get(b, b), key=page.key("batch")
)
predicted = right.multiselect("Predicted class", classes, key=page.key("predicted"))
left, middle, right, limit_col = st.columns(4)
low, high = left.slider("Confidence", 0.0, 1.0, (0.0, 1.0), step=0.01, key=page.key("confidence"))
flagged = middle.selectbox("Flags", ["Any", "Flagged", "Not flagged"], key=page.key("flagged"))
labelled = right.selectbox("Label", ["Any", "Without a label", "With a label"], key=page.key("labelled"))
limit = limit_col.selectbox("Rows", LIMITS, index=1, key=page.key("limit"))

where = PredictionFilter(
    batch_id="" if batch == SINGLE else None if batch == ALL else batch,
    source=next((key for key, shown in MADE_BY.items() if shown == made_by), None),
    predicted=predicted or None,
    min_confidence=low if low > 0 else None,
    max_confidence=high if high < 1 else None,
    flagged=None if flagged == "Any" else flagged == "Flagged",
    labelled=None if labelled == "Any" else labelled == "With a label",
    limit=limit,
)
if isinstance(days, tuple) and len(days) == 2:
    where.since, where.until = _day_start(days[0]), _day_start(days[1] + timedelta(days=1))
with sessions() as session:
    table = _with_inputs(prediction_table(session=session, dataset=dataset, where=where))
if table.empty:
    st.caption("No prediction matches these filters.")
    _show_outcome(page.get("saved"), "saved")
else:
    st.caption(
        f"{len(table):,} prediction(s), newest first, each with the values it was made from (scroll right "
        f"for them all). Pick the true class in the **{TRUE_LABEL}** column, then save."
    )
    # the edits belong to these very rows: other filters show other rows, and a fresh editor
    editor = page.key("editor", rows=table["prediction id"].tolist())
    config = {name: st.column_config.Column(name, pinned=True) for name in PINNED}
    edited = st.data_editor(
        table,
        hide_index=True,
        num_rows="fixed",
        disabled=[c for c in table.columns if c != TRUE_LABEL],
        column_config=config
        | {
            TRUE_LABEL: st.column_config.SelectboxColumn(
                TRUE_LABEL, options=classes, help="The true class", pinned=True
            ),
            "predicted at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "confidence": st.column_config.NumberColumn(format="%.3f", pinned=True),
        },
        key=editor,
    )
    before, after = table[TRUE_LABEL], edited[TRUE_LABEL]
    changed = after.notna() & (after.astype(str) != before.astype(str))
    changes = {int(pid): label for pid, label in zip(edited.loc[changed, "prediction id"], after[changed], strict=True)}
    if changes:
        page.pop("saved")  # new picks: the last save's result no longer describes the table
    if st.button(
        f"Save {len(changes)} label(s)" if changes else "Save labels",
        key=page.key("save"),
        type="primary",
        disabled=not changes,
        help="Store the true classes picked in the table; a second label replaces the first, the history is kept.",
    ):
        try:
            outcome = label_predictions_and_retrain(
                sessions=sessions, settings=settings, dataset=dataset, labels=changes, who=WHO
            )
        except SiftError as exc:
            st.error(str(exc))
        else:
            page.set("saved", _outcome(outcome, "Saved:"))
            page.clear("editor")  # the table is read again with the stored labels
            st.rerun()
    _show_outcome(page.get("saved"), "saved")

# --- a CSV file of prediction_id,label ----------------------------------------------------------------

st.subheader("Upload labels")
st.caption(
    "A CSV file with the columns `prediction_id` and `label` (other columns are ignored, so a scored file with a "
    "`label` column added works). Good rows are kept; every rejected row is listed with its reason."
)
uploader = page.key("uploader", clear=page.get("uploader_id", 0))  # a new key clears it after an import
st.file_uploader(
    "CSV of prediction_id,label", type=["csv", "txt"], key=uploader, on_change=_keep_upload, args=(uploader, page)
)
path = page.get("upload_path")
if path:
    name = page.get("upload_name") or Path(path).name
    if st.button(f"Import labels from {name}", key=page.key("import"), type="primary"):
        try:
            outcome = import_label_file_and_retrain(
                sessions=sessions, settings=settings, dataset=dataset, source=path, who=WHO
            )
        except SiftError as exc:
            st.error(str(exc))
        else:
            page.set("imported", _outcome(outcome, f"Imported {name}:"))
            _forget_upload(page)
            page.set("uploader_id", page.get("uploader_id", 0) + 1)
            st.rerun()
_show_outcome(page.get("imported"), "imported")

# --- one prediction's label history -----------------------------------------------------------------

with st.expander("History of a prediction's label"):
    number = st.number_input("Prediction", min_value=1, step=1, value=None, key=page.key("history_id"))
    if number:
        with sessions() as session:
            history = label_history(session=session, prediction_id=int(number))
        if history:
            st.dataframe(
                pd.DataFrame(
                    [{"when": h.created_at, "who": h.who, "from": h.old_label, "to": h.new_label} for h in history]
                ),
                hide_index=True,
                key=page.key("history"),
            )
        else:
            st.caption(f"Prediction {int(number)} has no label yet.")
