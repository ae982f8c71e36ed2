"""Monitor: drift of inputs over time, quality from feedback, an accuracy estimate, prediction mix, alerts."""

import tempfile
from pathlib import Path

import streamlit as st

from app import resources
from app.ui import access, alerting
from app.ui import monitor as ui
from core.champion import champion_version
from core.errors import SiftError
from core.monitoring import alerts, checks, estimate, options, quality, schedule, windows
from core.monitoring.ledger import KIND_LABELS, Selection
from core.monitoring.reference import model_features

st.title("Monitor")
dataset = resources.require_dataset()
settings, sessions = resources.settings(), resources.sessions()

try:
    with sessions() as session:
        champion = champion_version(settings, dataset, session=session)
    features = model_features(settings, dataset, champion)
except SiftError as exc:
    st.info(str(exc))
    st.stop()
names = [f["name"] for f in features]

# a link from an alert (Home or this page) opens its window
linked = st.query_params.get("window")
if linked and st.session_state.get("monitor_linked") != linked:
    st.session_state["monitor_linked"] = linked
    try:
        with sessions() as session:
            target = windows.get_window(session=session, window_id=int(linked))
        if target.dataset == dataset:
            st.session_state["monitor_kind"] = target.kind
            if target.kind == "count":
                st.session_state["monitor_size"] = int(target.key.split(":")[0])
            st.session_state["monitor_window"] = target.id
    except (SiftError, ValueError):
        pass

with sessions() as session:
    open_alerts = alerts.list_alerts(session=session, dataset=dataset, status="open")
ui.alert_banner(open_alerts)

left, right = st.columns([3, 1])
kind = left.radio(
    "Windows",
    list(KIND_LABELS),
    format_func=KIND_LABELS.get,
    horizontal=True,
    key="monitor_kind",
    help="Drift, quality and the prediction mix are shown per window of the prediction ledger.",
)
size = None
if kind == "count":
    st.session_state.setdefault("monitor_size", settings.drift_window_rows)
    size = right.number_input("Predictions per window", min_value=10, step=100, key="monitor_size")

# viewing never measures: windows are measured after scoring, on a schedule, or by "Measure now"
with sessions() as session:
    stored = windows.list_windows(session=session, dataset=dataset, kind=kind, size=size)
    shown = schedule.status(session=session, dataset=dataset)
status_line, measure_now = st.columns([4, 1])
status_line.caption(ui.schedule_caption(shown, settings.monitor_after_scoring))
if measure_now.button("Measure now", key="monitor_measure_now", help=ui.MEASURE_NOW_HELP):
    note = st.empty()
    with st.spinner("Measuring the new windows…"):
        done = schedule.run(
            sessions=sessions,
            settings=settings,
            dataset=dataset,
            trigger="page",
            extra_kinds=[(kind, int(size))] if size else [],
            progress=note.caption,
        )
    st.session_state["monitor_measured"] = ui.measured_message(done.datasets[0])
    st.rerun()
if message := st.session_state.pop("monitor_measured", None):
    st.toast(message)
frame = ui.with_measured_at(windows.windows_frame(stored), stored)
with sessions() as session:
    bases = estimate.baselines(session=session, dataset=dataset)
    labelled = quality.labelled(session=session, dataset=dataset)
    every_alert = alerts.list_alerts(session=session, dataset=dataset)
st.caption(
    f"Champion v{champion} · {len(frame)} window(s) · drift needs at least "
    f"{settings.drift_min_rows} predictions per window · reference: each version's training data (holdout left out)."
)

drift_tab, now_tab, quality_tab, mix_tab, alerts_tab, delivery_tab, settings_tab = st.tabs(
    [
        "Drift over time",
        "Check drift now",
        "Quality",
        "Prediction mix",
        f"Alerts ({len(open_alerts)})",
        "Alert delivery",
        "Drift settings",
    ]
)

# --- drift over time ------------------------------------------------------------------------
with drift_tab:
    if frame.empty:
        st.info(
            "No windows measured yet. Score rows on the Predict page, a file on the Batch page, or through the API: "
            "their windows are measured in the background. Measure now measures what is new at once."
        )
    else:
        st.plotly_chart(ui.drift_share_figure(frame, settings.alert_drift_share), key="monitor_drift_share")
        if (frame["status"] == "measured").any():
            st.plotly_chart(ui.feature_drift_figure(frame, names), key="monitor_feature_drift")
        st.dataframe(
            frame[ui.WINDOW_COLUMNS],
            hide_index=True,
            column_config=ui.WINDOWS_TABLE_CONFIG,
            key="monitor_windows_table",
        )
        ids = frame["id"].tolist()
        if st.session_state.get("monitor_window") not in ids:
            measured = frame.loc[frame["status"] == "measured", "id"]
            st.session_state["monitor_window"] = int(measured.iloc[-1] if len(measured) else ids[-1])
        labels = dict(zip(frame["id"], frame["window"], strict=True))
        chosen = st.selectbox("Window", ids, format_func=labels.get, key="monitor_window")
        window = next(w for w in stored if w.id == chosen)
        if window.status != "measured":
            st.info(
                f"{labels[chosen]} has {window.rows} prediction(s): drift needs at least {settings.drift_min_rows} "
                "to tell a real shift from noise."
            )
        else:
            st.dataframe(
                ui.drift_table(window.columns),
                hide_index=True,
                column_config=ui.DRIFT_TABLE_CONFIG,
                key="monitor_window_columns",
            )
            if caption := ui.quality_caption(window.columns):
                st.caption(caption)
            path = windows.stored_report(settings, window)
            if path is None and st.button("Open Evidently's full report", key="monitor_build_report"):
                try:
                    with st.spinner("Building the report…"), sessions() as session:
                        path = windows.window_report(session=session, settings=settings, window_id=chosen)
                except SiftError as exc:
                    st.error(str(exc))
            if path is not None:
                ui.report_download(
                    path,
                    f"drift_{dataset}_{window.kind}_{window.key.replace(':', '-')}.html",
                    "monitor_download_report",
                )

# --- a one-off check ----------------------------------------------------------------------------
with now_tab:
    st.caption("Compare a window of your choice with the champion's training data.")
    source = st.radio(
        "Inputs",
        ["last", "dates", "batch", "file"],
        format_func=ui.CHECK_SOURCES.get,
        horizontal=True,
        key="monitor_source",
    )
    upload = None
    if source == "last":
        last = st.number_input("N", min_value=1, value=settings.drift_window_rows, step=100, key="monitor_last")
        selection = Selection(last=int(last))
    elif source == "dates":
        picked = st.date_input("From / to", value=(), key="monitor_dates")
        start, end = (*tuple(picked or ()), None, None)[:2]
        selection = Selection(start=start, end=end or start)
    elif source == "batch":
        batch = st.text_input("Batch id", value="", key="monitor_batch", help="The Batch page lists them.")
        selection = Selection(batch=batch.strip() or None)
    else:
        upload = st.file_uploader("CSV file of inputs", type=["csv"], key="monitor_upload")
        selection = None
    if st.button("Check drift", type="primary", key="monitor_check"):
        try:
            with st.spinner("Comparing with the training data…"), sessions() as session:
                if upload is not None:
                    with tempfile.TemporaryDirectory(prefix="sift-drift-") as folder:
                        saved = Path(folder) / (Path(upload.name).name or "inputs.csv")  # the report names the file
                        saved.write_bytes(upload.getvalue())
                        result, report = checks.check_drift(
                            session=session, settings=settings, dataset=dataset, path=saved
                        )
                elif selection is None:
                    raise SiftError("Choose a CSV file first.")
                else:
                    result, report = checks.check_drift(
                        session=session, settings=settings, dataset=dataset, selection=selection
                    )
            st.session_state["monitor_check_result"] = (result.as_dict(), result.stored_columns(), str(report))
        except SiftError as exc:
            st.session_state.pop("monitor_check_result", None)
            st.warning(str(exc))
    if "monitor_check_result" in st.session_state:
        summary, columns, report = st.session_state["monitor_check_result"]
        ui.check_summary(summary)
        st.dataframe(
            ui.drift_table(columns),
            hide_index=True,
            column_config=ui.DRIFT_TABLE_CONFIG,
            key="monitor_check_columns",
        )
        if caption := ui.quality_caption(columns):
            st.caption(caption)
        path = Path(report)
        if path.exists():
            ui.report_download(path, f"drift_{dataset}_{path.stem}.html", "monitor_download_check")

# --- quality --------------------------------------------------------------------------------------
with quality_tab:
    by_window = quality.quality_by_window(labelled, kind, stored)
    holdout = {v: b.holdout_accuracy for v, b in bases.items() if v in set(frame.get("model_version", []))}
    if labelled.empty:
        st.info(
            "No labels yet: the estimated accuracy (dotted) is all there is. Give true classes on the Feedback page."
        )
    st.plotly_chart(ui.accuracy_figure(by_window, frame, holdout), key="monitor_accuracy")
    if caption := ui.estimate_caption(bases.get(champion), champion):
        st.caption(caption)
    if not by_window.empty:
        st.plotly_chart(
            ui.metric_lines_figure(by_window, {"accuracy": "accuracy", "f1_macro": "macro F1"}),
            key="monitor_f1",
        )
        classes = sorted({c.split(":", 1)[1] for c in by_window.columns if c.startswith("precision:")})
        picked = st.selectbox("Class", classes, key="monitor_class")
        st.plotly_chart(
            ui.metric_lines_figure(by_window, {f"precision:{picked}": "precision", f"recall:{picked}": "recall"}),
            key="monitor_per_class",
        )
        st.dataframe(quality.quality_by_version(labelled), hide_index=True, key="monitor_by_version")

# --- prediction mix -------------------------------------------------------------------------------
with mix_tab:
    if frame.empty:
        st.info("No predictions yet.")
    else:
        training = bases[champion].class_mix if champion in bases else {}
        mixes = [
            {"window": w, "mix": quality.class_mix_shares(m)}
            for w, m in zip(frame["window"], [x.class_mix for x in stored], strict=True)
        ]
        st.plotly_chart(ui.class_mix_figure(mixes, training), key="monitor_class_mix")
        pick = st.selectbox(
            "Confidence of window",
            frame["id"].tolist(),
            format_func=dict(zip(frame["id"], frame["window"], strict=True)).get,
            index=len(frame) - 1,
            key="monitor_confidence_window",
        )
        chosen_window = next(w for w in stored if w.id == pick)
        base = bases.get(chosen_window.model_version)
        st.plotly_chart(
            ui.confidence_figure(
                quality.confidence_histogram(chosen_window.confidence_bins),
                quality.confidence_histogram(base.confidence_bins if base else []),
                "window",
            ),
            key="monitor_confidence",
        )

# --- alerts ---------------------------------------------------------------------------------------
with alerts_tab:
    if not every_alert:
        st.info("No alerts: no threshold crossed in any window measured so far.")
    else:
        st.dataframe(ui.alerts_frame(every_alert), hide_index=True, key="monitor_alerts_table")
        for alert in [a for a in every_alert if a.status == "open"]:
            if st.button(f"Acknowledge #{alert.id}: {alert.message}", key=f"monitor_ack_{alert.id}"):
                with sessions.begin() as session:
                    alerts.acknowledge(session=session, alert_id=alert.id, who="app", dataset=dataset)
                st.rerun()
    st.caption(ui.thresholds_caption(settings))

# --- where alerts are sent, and the log of every try ------------------------------------------------
with delivery_tab:
    alerting.delivery_tab(dataset=dataset, settings=settings, sessions=sessions)

# --- drift settings -------------------------------------------------------------------------------
with settings_tab:
    with sessions() as session:
        chosen_options = options.load_options(session=session, dataset=dataset)
    edited = ui.options_editor(features, chosen_options)
    st.caption(ui.OPTIONS_CAPTION)
    if st.button("Save drift settings", key="monitor_save_options") and access.admin_allowed("Changing drift settings"):
        try:
            with sessions.begin() as session:
                options.save_options(
                    session=session, dataset=dataset, columns=ui.options_from_editor(edited), features=features
                )
            st.rerun()
        except SiftError as exc:
            st.error(str(exc))
