"""Feedback: the true class of past predictions, given in a table of recent predictions or as a CSV
file of ``prediction_id,label``; the counters that make a retrain due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from app import resources
from app.ui.uploads import forget_upload, keep_upload
from core import jobs
from core.errors import SiftError
from core.feedback import (
    LabelImport,
    PredictionFilter,
    dataset_classes,
    feedback_counts,
    import_labels,
    label_history,
    prediction_span,
    prediction_table,
    save_labels,
)
from core.scoring import list_batches

WHO = "app"
FLASH = "feedback_flash"
EDITOR = "feedback_editor"
# the CSV file to import: a temporary copy of the upload (tests put any file's path here)
UPLOAD_PATH = "feedback_upload_path"
UPLOAD_NAME = "feedback_upload_name"
UPLOAD_PREFIX = "sift-feedback-"
UPLOADER_ID = "feedback_uploader_id"  # bumped to clear the file uploader after an import
LIMITS = (100, 500, 2000)
ALL, SINGLE = "All", "Single predictions"
TRUE_LABEL = "true label"
SHOWN = {
    "prediction_id": "prediction id",
    "created_at": "predicted at",
    "batch_id": "batch",
    "model_version": "model version",
    "predicted": "predicted",
    "confidence": "confidence",
    "flags": "flags",
    "label": TRUE_LABEL,
    "labelled_by": "labelled by",
}


def _forget_upload() -> None:
    forget_upload(UPLOAD_PATH, UPLOAD_NAME, UPLOAD_PREFIX)


def _keep_upload(widget_key: str) -> None:
    keep_upload(widget_key, UPLOAD_PATH, UPLOAD_NAME, UPLOAD_PREFIX)


def _start(job_id: int) -> str:
    """Launch a retrain job queued by the labels just saved; a job that cannot start is cancelled."""
    try:
        jobs.start_job(settings, job_id)
    except Exception:
        with sessions.begin() as session:
            jobs.cancel_job(session=session, job_id=job_id)
        raise
    return f" Retrain job {job_id} started automatically: follow it on the Train page."


def _after_saving(outcome: LabelImport, what: str) -> None:
    """Keep the outcome for the next run (the page reruns to show the stored labels)."""
    parts = [f"{what}: {outcome.accepted:,} label(s) accepted"]
    if outcome.accepted:
        parts.append(f"({outcome.created:,} new, {outcome.replaced:,} replaced, {outcome.unchanged:,} unchanged)")
    parts.append(f"and {outcome.rejected:,} rejected.")
    message = " ".join(parts)
    trigger = outcome.retrain
    if trigger is not None and trigger.job_id is not None:
        message += _start(trigger.job_id)
    elif trigger is not None and trigger.message:
        message += f" {trigger.message}"
    st.session_state[FLASH] = {"message": message, "reasons": outcome.reasons, "ok": outcome.rejected == 0}


def _show_flash() -> None:
    flash = st.session_state.pop(FLASH, None)
    if not flash:
        return
    (st.success if flash["ok"] else st.warning)(flash["message"])
    if flash["reasons"]:
        reasons = pd.DataFrame({"row": list(flash["reasons"]), "reason": list(flash["reasons"].values())})
        st.dataframe(reasons, hide_index=True, key="feedback_reasons")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


st.title("Feedback")
dataset = resources.require_dataset()
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
_show_flash()

if counts.predictions == 0:
    st.info(f"No predictions for {dataset} yet: score rows on the Predict page, then label them here.")
    st.stop()

# --- the table of recent predictions ------------------------------------------------------------

st.subheader("Recent predictions")
left, middle, right = st.columns(3)
days = left.date_input(
    "Predicted between",
    value=(),  # no range picked: every date
    min_value=first.date() - timedelta(days=1),
    max_value=max(last.date(), datetime.now(UTC).date()) + timedelta(days=1),
    key="feedback_dates",
)
batch_names = {b.id: f"{b.source_file} ({b.id[:8]}, {b.rows:,} rows)" for b in batches}
batch = middle.selectbox(
    "Batch", [ALL, SINGLE, *batch_names], format_func=lambda b: batch_names.get(b, b), key="feedback_batch"
)
predicted = right.multiselect("Predicted class", classes, key="feedback_predicted")
left, middle, right, limit_col = st.columns(4)
low, high = left.slider("Confidence", 0.0, 1.0, (0.0, 1.0), step=0.01, key="feedback_confidence")
flagged = middle.selectbox("Flags", ["Any", "Flagged", "Not flagged"], key="feedback_flagged")
labelled = right.selectbox("Label", ["Any", "Without a label", "With a label"], key="feedback_labelled")
limit = limit_col.selectbox("Rows", LIMITS, index=1, key="feedback_limit")

where = PredictionFilter(
    batch_id=None if batch == ALL else "" if batch == SINGLE else batch,
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
    table = prediction_table(session=session, dataset=dataset, where=where)[list(SHOWN)].rename(columns=SHOWN)

if table.empty:
    st.caption("No prediction matches these filters.")
else:
    st.caption(
        f"{len(table):,} prediction(s), newest first. Pick the true class in the **{TRUE_LABEL}** column, then save."
    )
    edited = st.data_editor(
        table,
        hide_index=True,
        num_rows="fixed",
        disabled=[c for c in table.columns if c != TRUE_LABEL],
        column_config={
            TRUE_LABEL: st.column_config.SelectboxColumn(TRUE_LABEL, options=classes, help="The true class"),
            "predicted at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "confidence": st.column_config.NumberColumn(format="%.3f"),
        },
        key=EDITOR,
    )
    before, after = table[TRUE_LABEL], edited[TRUE_LABEL]
    changed = after.notna() & (after.astype(str) != before.astype(str))
    changes = {int(pid): label for pid, label in zip(edited.loc[changed, "prediction id"], after[changed], strict=True)}
    if st.button(
        f"Save {len(changes)} label(s)" if changes else "Save labels",
        key="feedback_save",
        type="primary",
        disabled=not changes,
        help="Store the true classes picked in the table; a second label replaces the first, the history is kept.",
    ):
        try:
            with sessions.begin() as session:
                outcome = save_labels(session=session, dataset=dataset, labels=changes, who=WHO, settings=settings)
        except SiftError as exc:
            st.error(str(exc))
        else:
            _after_saving(outcome, "Saved")
            st.session_state.pop(EDITOR, None)
            st.rerun()

# --- a CSV file of prediction_id,label ----------------------------------------------------------------

st.subheader("Upload labels")
st.caption(
    "A CSV file with the columns `prediction_id` and `label` (other columns are ignored, so a scored file with a "
    "`label` column added works). Good rows are kept; every rejected row is listed with its reason."
)
uploader = f"feedback_upload_{st.session_state.get(UPLOADER_ID, 0)}"
st.file_uploader(
    "CSV of prediction_id,label", type=["csv", "txt"], key=uploader, on_change=_keep_upload, args=(uploader,)
)
path = st.session_state.get(UPLOAD_PATH)
if path:
    name = st.session_state.get(UPLOAD_NAME) or Path(path).name
    if st.button(f"Import labels from {name}", key="feedback_import", type="primary"):
        try:
            with sessions.begin() as session:
                outcome = import_labels(session=session, dataset=dataset, source=path, who=WHO, settings=settings)
        except SiftError as exc:
            st.error(str(exc))
        else:
            _after_saving(outcome, f"Imported {name}")
            _forget_upload()
            st.session_state[UPLOADER_ID] = st.session_state.get(UPLOADER_ID, 0) + 1
            st.rerun()

# --- one prediction's label history -----------------------------------------------------------------

with st.expander("History of a prediction's label"):
    number = st.number_input("Prediction", min_value=1, step=1, value=None, key="feedback_history_id")
    if number:
        with sessions() as session:
            history = label_history(session=session, prediction_id=int(number))
        if history:
            st.dataframe(
                pd.DataFrame(
                    [{"when": h.created_at, "who": h.who, "from": h.old_label, "to": h.new_label} for h in history]
                ),
                hide_index=True,
                key="feedback_history",
            )
        else:
            st.caption(f"Prediction {int(number)} has no label yet.")
