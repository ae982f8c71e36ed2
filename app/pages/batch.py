"""Batch: score a CSV file with the champion against its input contract; past batches and their
results, read back from the prediction ledger."""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import resources
from app.ui.charts import class_mix_bar, confidence_histogram
from core.errors import SiftError
from core.scoring import (
    batch_as_dict,
    batch_csv,
    check_file,
    file_fingerprint,
    find_unfinished,
    list_batches,
    load_champion,
    score_file,
)

INPUT_KEY = "batch_input_path"  # the uploaded file's path on disk (tests set it directly)
NAME_KEY = "batch_input_name"
UPLOAD_ID_KEY = "batch_upload_id"
HASH_KEY = "batch_input_hash"
RESULT_KEY = "batch_result"
UPLOADS = Path(tempfile.gettempdir()) / "sift-batches"
INLINE_DOWNLOAD_BYTES = 50 * 2**20  # larger files are read only when the download is clicked
PREVIEW_ROWS = 200

st.title("Batch")
dataset = resources.require_dataset()

try:
    with resources.sessions()() as session:
        model = load_champion(resources.settings(), dataset, session=session)
except SiftError as exc:
    st.warning(str(exc))
    st.stop()

needed = ", ".join(f"`{f['name']}`" for f in model.features)
st.caption(
    f"Scoring with the `{dataset}` champion, version {model.version}. The file needs the columns {needed}; "
    "other columns are kept in the output. Rows whose values cannot be read are returned in a separate file "
    "with the reason; unseen categories and values outside the training range are scored and flagged."
)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload.csv"


uploaded = st.file_uploader("CSV file to score", type=["csv", "txt", "tsv"], key="batch_upload")
if uploaded is not None and st.session_state.get(UPLOAD_ID_KEY) != uploaded.file_id:
    previous = Path(st.session_state.get(INPUT_KEY) or "").parent
    if previous.parent == UPLOADS:  # this session's earlier upload and its outputs
        shutil.rmtree(previous, ignore_errors=True)
    folder = UPLOADS / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(uploaded.name)
    path.write_bytes(uploaded.getbuffer())
    st.session_state.update({INPUT_KEY: str(path), NAME_KEY: uploaded.name, UPLOAD_ID_KEY: uploaded.file_id})
    st.session_state.pop(RESULT_KEY, None)


def _download(path: Path) -> Any:
    """The file's bytes, or for a large file a callable that opens it when the download is clicked."""
    if path.stat().st_size <= INLINE_DOWNLOAD_BYTES:
        return path.read_bytes()
    return lambda: path.open("rb")


def score(path: Path, name: str) -> None:
    bar = st.progress(0.0, text="Reading the file…")

    def progress(done: int, expected: int) -> None:
        bar.progress(min(done / expected, 1.0), text=f"Scored {done:,} of about {expected:,} rows")

    try:
        result = score_file(
            sessions=resources.sessions(),
            settings=resources.settings(),
            dataset=dataset,
            input_path=path,
            output_path=path.with_name(f"{Path(_safe_name(name)).stem}.scored.csv"),
            source_name=name,
            progress=progress,
        )
    except SiftError as exc:
        bar.empty()
        st.error(str(exc))
        return
    bar.empty()
    st.session_state[RESULT_KEY] = result | {"source_file": name}


source = st.session_state.get(INPUT_KEY)
if source:
    path, name = Path(source), st.session_state.get(NAME_KEY) or Path(source).name
    try:
        check = check_file(path, model.contract)
    except SiftError as exc:
        st.error(str(exc))
        check = None
    if check is not None and check.missing:
        st.error(
            f"{name} cannot be scored: it lacks the column{'s' if len(check.missing) > 1 else ''} "
            f"{', '.join(map(repr, check.missing))} that the model needs. Add them (a column may be empty)."
        )
    elif check is not None:
        if check.extra:
            st.info(f"Kept in the output and ignored by the model: {', '.join(map(repr, check.extra))}.")
        digests = st.session_state.setdefault(HASH_KEY, {})
        if source not in digests:
            digests[source] = file_fingerprint(path)[0]
        with resources.sessions()() as session:
            unfinished = find_unfinished(session=session, dataset=dataset, input_hash=digests[source])
            if unfinished is not None:
                st.info(
                    f"This file's batch `{unfinished.id}` stopped after {unfinished.rows:,} rows: scoring it again "
                    f"resumes it (with model version {unfinished.model_version}); no row is recorded twice."
                )
        if st.button(f"Score {name}", type="primary", key="batch_score"):
            score(path, name)

result = st.session_state.get(RESULT_KEY)
if result is not None and result.get("output"):
    st.subheader(f"Batch `{result['batch_id']}`: {result['source_file']}")
    blank = result.get("blank_lines") or 0
    counts = st.columns(5 if blank else 4)
    counts[0].metric("Rows", f"{result['rows']:,}")
    counts[1].metric("Scored", f"{result['scored']:,}")
    counts[2].metric("Rejected", f"{result['rejected']:,}")
    if blank:  # every line of the file is a scored row, a rejected row or blank
        counts[3].metric("Blank lines", f"{blank:,}", help="Lines with no values at all: in neither output file.")
    counts[-1].metric("Model version", result["model_version"])
    for note in result["notes"]:
        st.caption(note)
    output, rejected = Path(result["output"]), Path(result["rejected_output"])
    if output.exists():
        st.dataframe(pd.read_csv(output, nrows=PREVIEW_ROWS), key="batch_preview", hide_index=True)
        if result["scored"] > PREVIEW_ROWS:
            st.caption(f"The first {PREVIEW_ROWS} scored rows of {result['scored']:,}.")
        charts = st.columns(2)
        with charts[0]:
            st.plotly_chart(class_mix_bar(result["class_mix"]), key="batch_mix")
        with charts[1]:
            st.plotly_chart(confidence_histogram(result["confidence_bins"]), key="batch_confidence")
        stem = Path(_safe_name(result["source_file"])).stem
        with st.container(horizontal=True):
            st.download_button(
                f"Download {result['scored']:,} scored rows (CSV)",
                data=_download(output),
                file_name=f"{stem}.scored.csv",
                mime="text/csv",
                key="batch_download_scored",
                type="primary",
            )
            st.download_button(
                f"Download {result['rejected']:,} rejected rows (CSV)",
                data=_download(rejected),
                file_name=f"{stem}.rejected.csv",
                mime="text/csv",
                key="batch_download_rejected",
                disabled=not result["rejected"] or not rejected.exists(),
            )
    else:
        st.caption("The scored file is gone from the server: download the results from the ledger below.")

st.subheader("Past batches")
with resources.sessions()() as session:
    batches = [batch_as_dict(b) for b in list_batches(session=session, dataset=dataset, limit=100)]
if not batches:
    st.caption("No batch scored yet for this dataset.")
    st.stop()


def _mix(mix: dict[str, int]) -> str:
    total = sum(mix.values()) or 1
    return " · ".join(f"{label} {n / total:.0%}" for label, n in sorted(mix.items(), key=lambda kv: -kv[1]))


table = pd.DataFrame(
    {
        "when": [pd.Timestamp(b["created_at"]).strftime("%Y-%m-%d %H:%M") for b in batches],
        "file": [b["source_file"] for b in batches],
        "model version": [b["model_version"] for b in batches],
        "rows": [b["rows"] for b in batches],
        "scored": [b["scored"] for b in batches],
        "rejected": [b["rejected"] for b in batches],
        "status": [b["status"] for b in batches],
        "class mix": [_mix(b["class_mix"]) for b in batches],
        "batch": [b["batch_id"] for b in batches],
    }
)
st.dataframe(table, key="batch_list", hide_index=True)
if any(b["status"] == "incomplete" for b in batches):
    st.caption("An incomplete batch stopped part-way: score the same file again to resume it.")
by_id = {b["batch_id"]: b for b in batches}
chosen = st.selectbox(
    "Results of a past batch, from the ledger",
    list(by_id),
    format_func=lambda i: f"{by_id[i]['source_file']} · {by_id[i]['scored']:,} scored · {by_id[i]['status']} · {i}",
    key="batch_past",
)
if chosen is not None:
    sessions = resources.sessions()

    def ledger_csv(batch_id: str = chosen) -> bytes:
        with sessions() as session:
            return batch_csv(session=session, batch_id=batch_id)

    st.download_button(
        "Download its scored rows (CSV)",
        data=ledger_csv,
        file_name=f"batch_{chosen}.csv",
        mime="text/csv",
        key="batch_download_ledger",
        help="The model's input columns, prediction_id, prediction, confidence, the probabilities and flags, "
        "as stored in the ledger (columns the model does not use are not stored; rejected rows neither).",
    )
