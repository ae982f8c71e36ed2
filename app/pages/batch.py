"""Batch: score a CSV file with the champion against its input contract, with the flagged and rejected
rows on the page (flags and reasons first); past batches and their results, read back from the prediction
ledger. The file and its result belong to one dataset's champion (app/ui/state.py)."""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app import resources
from app.ui import state
from app.ui.charts import class_mix_bar, confidence_histogram
from app.ui.format import plain_integer_columns
from core.champion import load_champion
from core.contract import MOSTLY_MISSING, check_file
from core.errors import SiftError
from core.monitoring import schedule
from core.scoring.batch import batch_as_dict, find_unfinished, list_batches, score_file
from core.scoring.files import file_fingerprint
from core.scoring.ledger import batch_csv

UPLOADS = Path(tempfile.gettempdir()) / "sift-batches"
FOLDER_KEY = "batch_upload_folder"  # this session's latest upload folder, removed when the next file comes
INLINE_DOWNLOAD_BYTES = 50 * 2**20  # larger files are read only when the download is clicked
PREVIEW_ROWS = 200
OUTCOME_ROWS = 20  # flagged and rejected rows shown on the page (all of them are in the files)
KEY_COLUMNS = ("prediction", "confidence", "flags", "prediction_id")  # first in a wide table
REJECTED_COLUMNS = ("row", "reason")
SHOWN = {  # confidence 0.947 shown as 94.7 %; flags wide enough to read
    "confidence": st.column_config.NumberColumn(format="percent"),
    "flags": st.column_config.TextColumn(width="large"),
}

st.title("Batch")
dataset = resources.require_dataset()

try:
    with resources.sessions()() as session:
        model = load_champion(resources.settings(), dataset, session=session)
except SiftError as exc:
    st.warning(str(exc))
    st.stop()

# the file, its check and its result belong to this dataset's champion: another dataset (even one whose
# champion has the same version number) or a new champion shows nothing of them
page = state.scope("batch", dataset=dataset, version=model.version)

needed = ", ".join(f"`{f['name']}`" for f in model.features)
st.caption(
    f"Scoring with the `{dataset}` champion, version {model.version}. The file needs the columns {needed}; "
    "other columns are kept in the output. Rows whose values cannot be read are returned in a separate file "
    "with the reason; unseen categories and values outside the training range are scored and flagged."
)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload.csv"


uploaded = st.file_uploader("CSV file to score", type=["csv", "txt", "tsv"], key=page.key("upload"))
if uploaded is not None and page.get("upload_id") != uploaded.file_id:
    previous = Path(st.session_state.get(FOLDER_KEY) or "")
    if previous.parent == UPLOADS:  # this session's earlier upload and its outputs
        shutil.rmtree(previous, ignore_errors=True)
    folder = UPLOADS / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / _safe_name(uploaded.name)
    path.write_bytes(uploaded.getbuffer())
    st.session_state[FOLDER_KEY] = str(folder)
    page.set("input_path", str(path))  # tests set input_path and input_name directly
    page.set("input_name", uploaded.name)
    page.set("upload_id", uploaded.file_id)
    page.pop("result")


def _download(path: Path) -> Any:
    """The file's bytes, or for a large file a callable that opens it when the download is clicked."""
    if path.stat().st_size <= INLINE_DOWNLOAD_BYTES:
        return path.read_bytes()
    return lambda: path.open("rb")


def _key_columns_first(frame: pd.DataFrame, first: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with the ``first`` columns it has leading: nothing important is scrolled off to the right."""
    leading = [c for c in first if c in frame.columns]
    return frame[[*leading, *(c for c in frame.columns if c not in leading)]]


def _scored_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Scored rows as shown: the key columns first, no flag shown as an empty cell."""
    if "flags" in frame:
        frame = frame.assign(flags=frame["flags"].fillna(""))
    return _key_columns_first(frame, KEY_COLUMNS)


def _flag_kind(flag: str) -> str:
    # "mostly missing: 5 of 7 inputs empty" counts as one kind whatever the numbers
    return MOSTLY_MISSING if flag.startswith(f"{MOSTLY_MISSING}:") else flag


def flagged_rows(output: Path) -> dict[str, Any]:
    """How many scored rows carry a flag, how many of each flag, and the first flagged rows."""
    flagged, kinds, preview = 0, Counter(), []
    read = {"dtype": {"flags": str}, "chunksize": 200_000}
    for chunk in pd.read_csv(output, usecols=["flags"], **read):
        flags = chunk["flags"].dropna()
        flags = flags[flags != ""]
        flagged += len(flags)
        kinds.update(_flag_kind(f) for text in flags for f in text.split("; ") if f)
    if flagged:  # the rows themselves: read until enough are found
        for chunk in pd.read_csv(output, **read):
            found = chunk[chunk["flags"].fillna("") != ""]
            preview.append(found.head(OUTCOME_ROWS - sum(map(len, preview))))
            if sum(map(len, preview)) >= OUTCOME_ROWS:
                break
    return {
        "flagged": flagged,
        "flag_counts": dict(kinds.most_common()),
        "flagged_preview": pd.concat(preview, ignore_index=True) if preview else None,
    }


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
    if result.get("scored"):  # its drift windows are measured in the background (Monitor page)
        schedule.after_scoring(resources.settings(), dataset)
    bar.progress(1.0, text="Counting flagged rows…")
    outcomes = flagged_rows(Path(result["output"]))
    bar.empty()
    page.set("result", result | outcomes | {"source_file": name})


source = page.get("input_path")
if source:
    path, name = Path(source), page.get("input_name") or Path(source).name
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
        digests = page.get("hashes") or {}
        if source not in digests:
            digests[source] = file_fingerprint(path)[0]
            page.set("hashes", digests)
        with resources.sessions()() as session:
            unfinished = find_unfinished(session=session, dataset=dataset, input_hash=digests[source])
            if unfinished is not None:
                st.info(
                    f"This file's batch `{unfinished.id}` stopped after {unfinished.rows:,} rows: scoring it again "
                    f"resumes it (with model version {unfinished.model_version}); no row is recorded twice."
                )
        if st.button(f"Score {name}", type="primary", key=page.key("score")):
            score(path, name)


def show_outcomes(result: dict[str, Any], output: Path, rejected: Path) -> None:
    """Flagged and rejected rows on the page, with their flags and reasons first."""
    flagged = result.get("flagged") or 0
    if flagged:
        st.markdown(f"**{flagged:,} flagged row{'s' if flagged != 1 else ''}**: scored, but less certain.")
        counts = pd.DataFrame({"flag": list(result["flag_counts"]), "rows": list(result["flag_counts"].values())})
        st.dataframe(counts, key=page.key("flag_counts"), hide_index=True, width="content")
        preview = result.get("flagged_preview")
        if preview is not None:
            st.dataframe(
                _scored_rows(preview),
                key=page.key("flagged"),
                hide_index=True,
                column_config=plain_integer_columns(preview) | SHOWN,
            )
            if flagged > len(preview):
                st.caption(f"The first {len(preview)} flagged rows of {flagged:,}: all are in the scored file.")
    if result["rejected"] and rejected.exists():
        st.markdown(
            f"**{result['rejected']:,} rejected row{'s' if result['rejected'] != 1 else ''}**: not scored; "
            "correct them and score them again."
        )
        frame = pd.read_csv(rejected, nrows=OUTCOME_ROWS, dtype=str, keep_default_na=False)
        st.dataframe(
            _key_columns_first(frame, REJECTED_COLUMNS),
            key=page.key("rejected"),
            hide_index=True,
            column_config=plain_integer_columns(frame),
        )
        if result["rejected"] > len(frame):
            st.caption(f"The first {len(frame)} rejected rows of {result['rejected']:,}: all are in the rejected file.")


result = page.get("result")
if result is not None and result.get("output"):
    st.subheader(f"Batch `{result['batch_id']}`: {result['source_file']}")
    blank = result.get("blank_lines") or 0
    counts = st.columns(6 if blank else 5)
    counts[0].metric("Rows", f"{result['rows']:,}")
    counts[1].metric("Scored", f"{result['scored']:,}")
    counts[2].metric("Rejected", f"{result['rejected']:,}")
    counts[3].metric(
        "Flagged",
        f"{result.get('flagged') or 0:,}",
        help="Scored rows with a flag (an unseen category, a value outside training, mostly missing inputs): "
        "less certain than their confidence says.",
    )
    if blank:  # every line of the file is a scored row, a rejected row or blank
        counts[4].metric("Blank lines", f"{blank:,}", help="Lines with no values at all: in neither output file.")
    counts[-1].metric("Model version", result["model_version"])
    for note in result["notes"]:
        st.caption(note)
    output, rejected = Path(result["output"]), Path(result["rejected_output"])
    if output.exists():
        show_outcomes(result, output, rejected)
        st.markdown("**Scored rows**")
        preview = pd.read_csv(output, nrows=PREVIEW_ROWS, dtype={"flags": str})
        st.dataframe(
            _scored_rows(preview),
            key=page.key("preview"),
            hide_index=True,
            column_config=plain_integer_columns(preview) | SHOWN,
        )
        if result["scored"] > PREVIEW_ROWS:
            st.caption(f"The first {PREVIEW_ROWS} scored rows of {result['scored']:,}.")
        charts = st.columns(2)
        with charts[0]:
            st.plotly_chart(class_mix_bar(result["class_mix"]), key=page.key("mix"))
        with charts[1]:
            st.plotly_chart(confidence_histogram(result["confidence_bins"]), key=page.key("confidence"))
        stem = Path(_safe_name(result["source_file"])).stem
        with st.container(horizontal=True):
            st.download_button(
                f"Download {result['scored']:,} scored rows (CSV)",
                data=_download(output),
                file_name=f"{stem}.scored.csv",
                mime="text/csv",
                key=page.key("download_scored"),
                type="primary",
            )
            st.download_button(
                f"Download {result['rejected']:,} rejected rows (CSV)",
                data=_download(rejected),
                file_name=f"{stem}.rejected.csv",
                mime="text/csv",
                key=page.key("download_rejected"),
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
st.dataframe(table, key=page.key("list"), hide_index=True)
if any(b["status"] == "incomplete" for b in batches):
    st.caption("An incomplete batch stopped part-way: score the same file again to resume it.")
by_id = {b["batch_id"]: b for b in batches}
chosen = st.selectbox(
    "Results of a past batch, from the ledger",
    list(by_id),
    format_func=lambda i: f"{by_id[i]['source_file']} · {by_id[i]['scored']:,} scored · {by_id[i]['status']} · {i}",
    key=page.key("past"),
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
        key=page.key("download_ledger"),
        help="The model's input columns, prediction_id, prediction, confidence, the probabilities and flags, "
        "as stored in the ledger (columns the model does not use are not stored; rejected rows neither).",
    )
