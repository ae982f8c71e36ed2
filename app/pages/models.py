"""Models: versions with their metrics and aliases, a version against the champion, promote and
roll back with a reason, the alias history, each version's model card, and exports."""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd
import streamlit as st

from app import resources
from app.ui import access, state
from app.ui.format import METRIC_LABELS, metric_columns
from core import registry
from core.errors import SiftError
from core.export import export_archive
from core.model_card import ModelCard, build_card
from core.promotion import Comparison, alias_history, compare, history_rows, promote, rollback, rollback_target
from core.training.report import load_report

WHO = "app"
FORMATS = {"mlflow": "MLflow model (for mlflow models serve)", "onnx": "ONNX (where the pipeline converts)"}


@st.cache_data(max_entries=32, show_spinner=False)
def _card(database_url: str, tracking_uri: str, dataset: str, version: int, aliases: tuple[str, ...]) -> ModelCard:
    # keyed by the URLs (homes) and the aliases, which are the only part of a version that changes
    with resources.sessions()() as session:
        return build_card(session=session, settings=resources.settings(), dataset=dataset, version=version)


@st.cache_data(max_entries=32, show_spinner=False)
def _comparison(database_url: str, tracking_uri: str, dataset: str, version: int, champion: int) -> Comparison:
    with resources.sessions()() as session:
        settings = resources.settings()
        return compare(session=session, settings=settings, dataset=dataset, version=version, against=champion)


def _training_report(settings: Any, dataset: str, version: int) -> tuple[Any, Any]:
    """(report, show_report) when the report's display helper exists and this version has a report."""
    try:  # app/ui/training.py comes with the training report; until then the card shows what it has
        show_report = importlib.import_module("app.ui.training").show_report
    except (ImportError, AttributeError):
        return None, None
    try:
        return load_report(settings, dataset, version), show_report
    except SiftError:
        return None, None


def _label(version: registry.ModelVersionInfo) -> str:
    return f"v{version.version}" + (f" ({', '.join(version.aliases)})" if version.aliases else "")


st.title("Models")
dataset = resources.require_dataset()

settings = resources.settings()
sessions = resources.sessions()
versions = registry.list_versions(settings, dataset)
if not versions:
    st.info(f"No model for {dataset} yet. Train one on the Train page (or `python -m core train --dataset {dataset}`).")
    st.stop()

by_number = {v.version: v for v in versions}
numbers = [v.version for v in versions]
champion = next((v.version for v in versions if registry.CHAMPION in v.aliases), None)
challenger = next((v.version for v in versions if registry.CHALLENGER in v.aliases), None)
with sessions.begin() as session:
    history = history_rows(alias_history(session=session, dataset=dataset, settings=settings))
    previous = rollback_target(session=session, settings=settings, dataset=dataset)

# Every widget and result of this page belongs to the dataset and to its champion as it stands
# (the alias history's length tells a promote and its rollback apart): after a change of champion
# or of dataset the version box, the reason, the confirmation and any prepared export start afresh.
page = state.scope("models", dataset=dataset, champion=champion, changes=len(history))
# what outlives a change of champion (its confirmation, the version it made champion): per dataset only
after = state.scope("models_after_change", dataset=dataset)
flash = after.pop("flash")
if flash:
    st.success(flash)

st.caption(
    f"Registered model `{dataset}`: {len(versions)} version(s). Scoring uses the `champion` alias"
    + (f", now version {champion}." if champion else ": no version holds it.")
)
rows = []
for v in versions:
    row = {
        "version": v.version,
        "aliases": ", ".join(v.aliases),
        "created": v.created_at,
        "dataset version": registry.trained_on(v)[1] or "",
    }
    row |= {label: v.metrics.get(key) for key, label in METRIC_LABELS.items()}
    rows.append(row)
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    column_config=metric_columns(METRIC_LABELS.values()) | {"version": st.column_config.NumberColumn(format="v%d")},
    key=page.key("versions"),
)

# --- a version against the champion ---------------------------------------------------------

# the box always holds one of its options: first the version a change just made champion, else the
# challenger, else the first version that is not the champion
# (keyed by its options too: when a retrain adds a version or moves the challenger, a fresh box)
version_key = page.key("version", options=[_label(v) for v in versions])
if st.session_state.get(version_key) not in numbers:
    focus = after.pop("focus")
    st.session_state[version_key] = (
        focus if focus in numbers else challenger or next((n for n in numbers if n != champion), numbers[0])
    )
chosen = st.selectbox(
    "Version",
    numbers,
    format_func=lambda n: _label(by_number[n]),
    key=version_key,
    help="The version to compare with the champion, promote, describe or export.",
)

st.subheader("Against the champion")
if champion is None:
    st.info("No version is champion: promote one below.")
elif chosen == champion:
    st.caption(f"Version {chosen} is the champion. Choose another version above to compare it.")
else:
    try:
        with st.spinner("Scoring both versions on the same holdout…"):
            comparison = _comparison(settings.database_url, settings.tracking_uri, dataset, chosen, champion)
    except SiftError as exc:
        st.error(str(exc))
    else:
        table = pd.DataFrame(comparison.rows).rename(
            columns={
                "metric": "metric",
                "champion": f"champion v{champion}",
                "version": f"v{chosen}",
                "difference": f"v{chosen} − champion",
            }
        )
        st.dataframe(
            table,
            hide_index=True,
            column_config=metric_columns(table.columns[1:]),
            key=page.key("comparison", version=chosen),
        )
        st.caption(comparison.basis)

# --- promote and roll back --------------------------------------------------------------------

st.subheader("Promote or roll back")
reason = st.text_input("Reason", key=page.key("reason"), placeholder="Why change the champion? Kept in the history.")
confirmed = st.checkbox(f"I confirm this change of the champion of {dataset}", key=page.key("confirm"))
left, right = st.columns(2)
promote_clicked = left.button(
    f"Promote v{chosen} to champion",
    key=page.key("promote", version=chosen),
    type="primary",
    disabled=chosen == champion,
    help="Scoring switches to this version at once." if chosen != champion else "Already the champion.",
)
rollback_clicked = right.button(
    f"Roll back to v{previous}" if previous else "Roll back",
    key=page.key("rollback", version=previous),
    disabled=previous is None,
    help="Make the previous champion the champion again."
    if previous
    else "No earlier champion in the alias history to go back to.",
)
if promote_clicked or rollback_clicked:
    if not confirmed:
        st.warning("Tick the confirmation box first, then press the button again.")
    elif access.admin_allowed("Changing the champion"):
        try:
            with sessions.begin() as session:
                if promote_clicked:
                    change = promote(
                        session=session, settings=settings, dataset=dataset, version=chosen, who=WHO, reason=reason
                    )
                else:
                    change = rollback(session=session, settings=settings, dataset=dataset, who=WHO, reason=reason)
        except SiftError as exc:
            st.error(str(exc))
        else:
            verb = "Promoted:" if change.action == "promote" else "Rolled back:"
            after.set(
                "flash",
                f"{verb} version {change.champion} is now the champion of {dataset}"
                + (f" (was version {change.previous})." if change.previous else "."),
            )
            after.set("focus", change.champion)  # the box then shows the version just made champion
            page.clear()  # nothing armed for the next change: a fresh reason, confirmation and export
            st.rerun()

st.subheader("Alias history")
if history:
    st.dataframe(
        pd.DataFrame(history)[["when", "who", "action", "from", "to", "why"]],
        hide_index=True,
        column_config={
            "when": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "from": st.column_config.NumberColumn(format="v%d"),
            "to": st.column_config.NumberColumn(format="v%d"),
        },
        key=page.key("history"),
    )
else:
    st.caption("No change of champion yet.")

# --- the model card -----------------------------------------------------------------------------

st.subheader(f"Model card: v{chosen}")
try:
    with st.spinner("Scoring the holdout for the card…"):
        card = _card(settings.database_url, settings.tracking_uri, dataset, chosen, tuple(by_number[chosen].aliases))
except SiftError as exc:
    st.error(str(exc))
else:
    left, right = st.columns(2)
    left.download_button(
        f"Download the card of v{chosen} (Markdown)",
        card.markdown(),
        file_name=f"{card.filename}.md",
        mime="text/markdown",
        key=page.key("card_md", version=chosen),
    )
    right.download_button(
        f"Download the card of v{chosen} (HTML)",
        card.html(),
        file_name=f"{card.filename}.html",
        mime="text/html",
        key=page.key("card_html", version=chosen),
    )
    with st.expander("Show the model card", expanded=False):
        st.markdown(card.markdown())

report, show_report = _training_report(settings, dataset, chosen)
if report is not None:
    with st.expander(f"Training results of v{chosen}: leaderboard, curves, importance"):
        show_report(report, key=page.key("report", version=chosen))

# --- exports ------------------------------------------------------------------------------------

st.subheader(f"Export v{chosen}")
fmt = st.radio("Format", list(FORMATS), format_func=FORMATS.get, horizontal=True, key=page.key("export_format"))
export_of = {"version": chosen, "format": fmt}  # a prepared export is shown only for these very choices
if st.button(f"Prepare the export of v{chosen}", key=page.key("export", version=chosen)):
    try:
        with st.spinner("Exporting…"), sessions() as session:
            exported = export_archive(session=session, settings=settings, dataset=dataset, fmt=fmt, version=chosen)
    except SiftError as exc:
        page.pop("export")
        st.error(str(exc))
    else:
        page.set("export", {"file": exported[0], "data": exported[1], "summary": exported[2]}, inputs=export_of)
stored = page.get("export")
if stored and page.current("export", export_of):
    st.download_button(
        f"Download {stored['file']}",
        stored["data"],
        file_name=stored["file"],
        mime="application/zip",
        key=page.key("export_download", version=chosen, format=fmt),
    )
    check = stored["summary"].get("check")
    if check:
        st.caption(
            f"Checked against the Pipeline on {check['holdout_rows']} holdout rows: largest probability difference "
            f"{check['max_probability_difference']:.2g}, {check['label_disagreements']} label(s) differ."
        )
    else:
        st.caption(
            "Unzip, then serve it with `mlflow models serve -m FOLDER --env-manager local` "
            "(the repository on PYTHONPATH); see the README."
        )
