"""Models: versions with their metrics and aliases, a version against the champion, promote and
roll back with a reason, the alias history, each version's model card, and exports."""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd
import streamlit as st

from app import resources
from app.ui import access
from app.ui.format import METRIC_LABELS
from core import registry
from core.errors import SiftError
from core.export import export_archive
from core.model_card import ModelCard, build_card
from core.promotion import Comparison, alias_history, compare, history_rows, promote, rollback, rollback_target
from core.training.report import load_report

WHO = "app"
FLASH = "models_flash"
RESET = "models_reset"
EXPORT = "models_export_file"
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

if st.session_state.get("models_dataset") != dataset:  # another dataset: start from its challenger
    st.session_state["models_dataset"] = dataset
    for key in ("models_version", "models_reason", "models_confirm", EXPORT):
        st.session_state.pop(key, None)
if st.session_state.pop(RESET, False):  # after a change of champion: a fresh reason and confirmation
    for key in ("models_reason", "models_confirm"):
        st.session_state.pop(key, None)
flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)

by_number = {v.version: v for v in versions}
champion = next((v.version for v in versions if registry.CHAMPION in v.aliases), None)
challenger = next((v.version for v in versions if registry.CHALLENGER in v.aliases), None)

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
        "dataset version": v.tags.get("sift.dataset_version", ""),
    }
    row |= {label: v.metrics.get(key) for key, label in METRIC_LABELS.items()}
    rows.append(row)
st.dataframe(
    pd.DataFrame(rows),
    hide_index=True,
    column_config={label: st.column_config.NumberColumn(format="%.3f") for label in METRIC_LABELS.values()},
    key="models_versions",
)

# --- a version against the champion ---------------------------------------------------------

numbers = [v.version for v in versions]
default = challenger or next((n for n in numbers if n != champion), numbers[0])
if st.session_state.get("models_version") not in numbers:
    st.session_state.pop("models_version", None)
chosen = st.selectbox(
    "Version",
    numbers,
    index=numbers.index(default),
    format_func=lambda n: _label(by_number[n]),
    key="models_version",
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
            column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns[1:]},
            key="models_comparison",
        )
        st.caption(comparison.basis)

# --- promote and roll back --------------------------------------------------------------------

st.subheader("Promote or roll back")
with sessions.begin() as session:
    previous = rollback_target(session=session, settings=settings, dataset=dataset)
reason = st.text_input("Reason", key="models_reason", placeholder="Why change the champion? Kept in the history.")
confirmed = st.checkbox(f"I confirm this change of the champion of {dataset}", key="models_confirm")
left, right = st.columns(2)
promote_clicked = left.button(
    f"Promote v{chosen} to champion",
    key="models_promote",
    type="primary",
    disabled=chosen == champion,
    help="Scoring switches to this version at once." if chosen != champion else "Already the champion.",
)
rollback_clicked = right.button(
    f"Roll back to v{previous}" if previous else "Roll back",
    key="models_rollback",
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
            st.session_state[FLASH] = f"{verb} version {change.champion} is now the champion of {dataset}" + (
                f" (was version {change.previous})." if change.previous else "."
            )
            st.session_state[RESET] = True
            st.rerun()

st.subheader("Alias history")
with sessions.begin() as session:
    history = history_rows(alias_history(session=session, dataset=dataset, settings=settings))
if history:
    st.dataframe(
        pd.DataFrame(history)[["when", "who", "action", "from", "to", "why"]],
        hide_index=True,
        column_config={
            "when": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "from": st.column_config.NumberColumn(format="v%d"),
            "to": st.column_config.NumberColumn(format="v%d"),
        },
        key="models_history",
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
        "Download card (Markdown)",
        card.markdown(),
        file_name=f"{card.filename}.md",
        mime="text/markdown",
        key="models_card_md",
    )
    right.download_button(
        "Download card (HTML)",
        card.html(),
        file_name=f"{card.filename}.html",
        mime="text/html",
        key="models_card_html",
    )
    with st.expander("Show the model card", expanded=False):
        st.markdown(card.markdown())

report, show_report = _training_report(settings, dataset, chosen)
if report is not None:
    with st.expander(f"Training results of v{chosen}: leaderboard, curves, importance"):
        show_report(report)

# --- exports ------------------------------------------------------------------------------------

st.subheader(f"Export v{chosen}")
fmt = st.radio("Format", list(FORMATS), format_func=FORMATS.get, horizontal=True, key="models_export_format")
if st.button("Prepare the export", key="models_export"):
    try:
        with st.spinner("Exporting…"), sessions() as session:
            exported = export_archive(session=session, settings=settings, dataset=dataset, fmt=fmt, version=chosen)
    except SiftError as exc:
        st.session_state.pop(EXPORT, None)
        st.error(str(exc))
    else:
        st.session_state[EXPORT] = {"key": (dataset, chosen, fmt), "file": exported[0], "data": exported[1]} | {
            "summary": exported[2]
        }
stored = st.session_state.get(EXPORT)
if stored and stored["key"] == (dataset, chosen, fmt):
    st.download_button(
        f"Download {stored['file']}",
        stored["data"],
        file_name=stored["file"],
        mime="application/zip",
        key="models_export_download",
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
