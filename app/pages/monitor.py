"""Monitor: drift of inputs over time, quality from feedback, an accuracy estimate, prediction mix, alerts."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app import resources
from app.ui import access
from app.ui import monitor as ui
from core.champion import champion_version
from core.errors import SiftError
from core.monitoring import alerts, drift, estimate, quality, windows
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

bar = st.empty()
with st.spinner("Measuring the new windows…"):
    refreshed = windows.refresh(
        sessions=sessions,
        settings=settings,
        dataset=dataset,
        kind=kind,
        size=size,
        progress=lambda done, total: bar.progress(done / total, text=f"Measured {done} of {total} new windows"),
    )
bar.empty()
if refreshed.alerts:
    st.rerun()  # show the new alerts in the banner
frame = windows.windows_frame(refreshed.windows)
with sessions() as session:
    bases = estimate.baselines(session=session, dataset=dataset)
    labelled = quality.labelled(session=session, dataset=dataset)
    every_alert = alerts.list_alerts(session=session, dataset=dataset)
st.caption(
    f"Champion v{champion} · {len(frame)} window(s), {refreshed.measured} measured just now · drift needs at least "
    f"{settings.drift_min_rows} predictions per window · reference: each version's training data (holdout left out)."
)

drift_tab, now_tab, quality_tab, mix_tab, alerts_tab, settings_tab = st.tabs(
    [
        "Drift over time",
        "Check drift now",
        "Quality",
        "Prediction mix",
        f"Alerts ({len(open_alerts)})",
        "Drift settings",
    ]
)

# --- drift over time ------------------------------------------------------------------------
with drift_tab:
    if frame.empty:
        st.info("No predictions yet: score rows on the Predict page or a file on the Batch page.")
    else:
        st.plotly_chart(ui.drift_share_figure(frame, settings.alert_drift_share), key="monitor_drift_share")
        if (frame["status"] == "measured").any():
            st.plotly_chart(ui.feature_drift_figure(frame, names), key="monitor_feature_drift")
        shown = frame[
            [
                "id",
                "window",
                "rows",
                "status",
                "drift_share",
                "drifted",
                "not_tested",
                "quality_issues",
                "estimated_accuracy",
                "closed",
            ]
        ]
        st.dataframe(
            shown,
            hide_index=True,
            column_config={
                "drift_share": st.column_config.ProgressColumn(
                    "drift share", min_value=0, max_value=1, format="percent"
                ),
                "estimated_accuracy": st.column_config.NumberColumn("estimated accuracy", format="percent"),
                "not_tested": st.column_config.TextColumn("not tested"),
                "quality_issues": st.column_config.NumberColumn(
                    "data quality", help="Unseen or unreadable values in the window (not drift)."
                ),
            },
            key="monitor_windows_table",
        )
        ids = frame["id"].tolist()
        if st.session_state.get("monitor_window") not in ids:
            measured = frame.loc[frame["status"] == "measured", "id"]
            st.session_state["monitor_window"] = int(measured.iloc[-1] if len(measured) else ids[-1])
        labels = dict(zip(frame["id"], frame["window"], strict=True))
        chosen = st.selectbox("Window", ids, format_func=labels.get, key="monitor_window")
        window = next(w for w in refreshed.windows if w.id == chosen)
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
                st.download_button(
                    "Download the report (HTML)",
                    data=path.read_bytes(),
                    file_name=f"drift_{dataset}_{window.kind}_{window.key.replace(':', '-')}.html",
                    mime="text/html",
                    key="monitor_download_report",
                )
                ui.show_report(path)

# --- a one-off check ----------------------------------------------------------------------------
with now_tab:
    st.caption("Compare a window of your choice with the champion's training data.")
    source = st.radio(
        "Inputs",
        ["last", "dates", "batch", "file"],
        format_func={
            "last": "The last N predictions",
            "dates": "A date range",
            "batch": "One batch",
            "file": "A CSV file",
        }.get,
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
                        result = drift.measure_file(session=session, settings=settings, dataset=dataset, path=saved)
                elif selection is None:
                    raise SiftError("Choose a CSV file first.")
                else:
                    result = drift.measure_selection(
                        session=session, settings=settings, dataset=dataset, selection=selection
                    )
            report = drift.save_check_report(result, settings, dataset)
            st.session_state["monitor_check_result"] = (result.as_dict(), result.stored_columns(), str(report))
        except SiftError as exc:
            st.session_state.pop("monitor_check_result", None)
            st.warning(str(exc))
    if "monitor_check_result" in st.session_state:
        summary, columns, report = st.session_state["monitor_check_result"]
        a, b, c = st.columns(3)
        a.metric("Features drifting", f"{summary['drift_share']:.0%}")
        b.metric("Dataset drift", "yes" if summary["dataset_drift"] else "no")
        c.metric("Rows compared", f"{summary['rows']['current']:,} vs {summary['rows']['reference']:,}")
        st.caption(summary.get("window", ""))
        for note in summary.get("notes", []):
            st.caption(note)
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
            st.download_button(
                "Download the report (HTML)",
                data=path.read_bytes(),
                file_name=f"drift_{dataset}_{path.stem}.html",
                mime="text/html",
                key="monitor_download_check",
            )
            ui.show_report(path)

# --- quality --------------------------------------------------------------------------------------
with quality_tab:
    by_window = quality.quality_by_window(labelled, kind, refreshed.windows)
    holdout = {v: b.holdout_accuracy for v, b in bases.items() if v in set(frame.get("model_version", []))}
    if labelled.empty:
        st.info(
            "No labels yet: the estimated accuracy (dotted) is all there is. Give true classes on the Feedback page."
        )
    st.plotly_chart(ui.accuracy_figure(by_window, frame, holdout), key="monitor_accuracy")
    base = bases.get(champion)
    if base is not None and base.check.get("halves"):
        halves = "; ".join(
            f"estimated {h['estimate']:.1%} vs realised {h['realised']:.1%} on {h['estimated_on']} rows"
            for h in base.check["halves"]
        )
        st.caption(
            f"The estimate is the mean chance of being right given each prediction's confidence, calibrated on "
            f"v{champion}'s holdout ({base.holdout_rows} rows, accuracy {base.holdout_accuracy:.1%}). Checked on "
            f"halves of that holdout it fits on one and estimates the other: {halves}."
        )
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
            for w, m in zip(frame["window"], [x.class_mix for x in refreshed.windows], strict=True)
        ]
        st.plotly_chart(ui.class_mix_figure(mixes, training), key="monitor_class_mix")
        pick = st.selectbox(
            "Confidence of window",
            frame["id"].tolist(),
            format_func=dict(zip(frame["id"], frame["window"], strict=True)).get,
            index=len(frame) - 1,
            key="monitor_confidence_window",
        )
        chosen_window = next(w for w in refreshed.windows if w.id == pick)
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
    st.caption(
        f"Thresholds: drift share {settings.alert_drift_share:.0%}; key features "
        f"{settings.alert_key_features or 'all'}; accuracy {settings.alert_accuracy_drop:.0%} below the holdout "
        f"(realised: from {settings.alert_min_labels} labels); flagged rows {settings.alert_flagged_share:.0%}; "
        f"rejected rows {settings.alert_rejected_share:.0%} (settings SIFT_ALERT_*)."
    )

# --- drift settings -------------------------------------------------------------------------------
with settings_tab:
    with sessions() as session:
        chosen_options = drift.load_options(session=session, dataset=dataset)
    editor = pd.DataFrame(
        {
            "feature": names,
            "role": [f["role"] for f in features],
            "method": [chosen_options.get(n, {}).get("method", "auto") for n in names],
            "threshold": [chosen_options.get(n, {}).get("threshold") for n in names],
            "methods that suit it": [", ".join(m.id for m in drift.methods_for(f["role"])) for f in features],
        }
    )
    edited = st.data_editor(
        editor,
        hide_index=True,
        disabled=["feature", "role", "methods that suit it"],
        column_config={
            "method": st.column_config.SelectboxColumn("method", options=["auto", *drift.METHODS]),
            "threshold": st.column_config.NumberColumn("threshold", min_value=0.0, format="%.4g"),
        },
        key="monitor_options_editor",
    )
    st.caption(
        "auto: chosen by the column's values and the sample size. Up to 1,000 values in either sample: the K-S "
        "test for numbers, chi-square (two values: Z-test) for categories and for numbers with at most 5 distinct "
        "values, at p < 0.05; more: Wasserstein distance for numbers, Jensen-Shannon for categories, at 0.1. "
        "P-value methods drift below their threshold and only when the effect reaches 0.1; distances at or above "
        "their threshold. Unseen categories are data quality, not drift. Saving measures the stored windows "
        "again at the next visit."
    )
    if st.button("Save drift settings", key="monitor_save_options") and access.admin_allowed("Changing drift settings"):
        wanted = {
            row.feature: {
                "method": None if row.method in (None, "auto") else row.method,
                "threshold": None if pd.isna(row.threshold) else float(row.threshold),
            }
            for row in edited.itertuples(index=False)
        }
        try:
            with sessions.begin() as session:
                drift.save_options(session=session, dataset=dataset, columns=wanted, features=features)
            st.rerun()
        except SiftError as exc:
            st.error(str(exc))
