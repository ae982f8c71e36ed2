"""Monitoring on screen: alert banners, drift tables, the plotly figures and the other parts
(captions, reports, the drift settings table) of the Monitor page.

The figure builders are plain functions of stored figures (windows, quality rows, baselines):
they never recompute anything.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.config import Settings
from core.jobs.queue import ago
from core.monitoring import options, schedule
from core.monitoring.alerts import KIND_LABELS

MONITOR_PAGE = "app/pages/monitor.py"
MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
GREY = "#b0b0b0"
REPORT_ZOOM = 0.8
# Evidently's report holds column names and values inside <script> blocks without escaping "</script>",
# and st.iframe gives HTML the app's own origin. So the report runs in a frame sandboxed to scripts only:
# a hostile name in an uploaded file can spoil the report's layout but cannot reach the app.
_SANDBOXED_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'>"
    "<style>html,body{margin:0;height:100%}iframe{border:0;width:100%;height:100%}</style></head>"
    '<body><iframe sandbox="allow-scripts" title="Evidently report" srcdoc="{report}"></iframe></body></html>'
)


def sandboxed_page(report: str) -> str:
    """A page that shows ``report`` (a whole HTML document) in a frame that may run scripts but has no origin."""
    # Evidently lays its tables out for a full browser window: in the app's column their right-hand
    # columns were cut off; at REPORT_ZOOM the same layout fits the column
    report = report.replace("<head>", f"<head><style>html{{zoom:{REPORT_ZOOM}}}</style>", 1)
    return _SANDBOXED_PAGE.replace("{report}", html.escape(report, quote=True))


def show_report(path: Path, *, height: int = 900) -> None:
    """Evidently's full HTML report, isolated from the app (see _SANDBOXED_PAGE)."""
    st.iframe(sandboxed_page(path.read_text(encoding="utf-8")), height=height)


def _color(version: int) -> str:
    return COLORS[(int(version) - 1) % len(COLORS)]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# --- alerts -----------------------------------------------------------------------------------


def alert_banner(alerts: list[Any], *, limit: int = 3, key: str = "alerts") -> None:
    """A warning per open alert (the newest ``limit``), each with a link to its window on the Monitor page."""
    if not alerts:
        return
    for alert in alerts[:limit]:
        with st.container(border=True):
            st.warning(
                f"**{alert.dataset} · {KIND_LABELS.get(alert.kind, alert.kind)}** — {alert.message}",
                icon=":material/notifications_active:",
            )
            params = {"window": str(alert.window_id)} if alert.window_id else None
            st.page_link(
                MONITOR_PAGE, label="See the window on Monitor", icon=":material/monitoring:", query_params=params
            )
    if len(alerts) > limit:
        st.caption(f"{len(alerts) - limit} more open alert(s) on the Monitor page.")


def alerts_frame(alerts: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": a.id,
                "status": a.status,
                "kind": KIND_LABELS.get(a.kind, a.kind),
                "window": a.window,
                "message": a.message,
                "value": a.value,
                "threshold": a.threshold,
                "raised": a.created_at,
                "acknowledged by": a.acknowledged_by,
                "acknowledged": a.acknowledged_at,
            }
            for a in alerts
        ]
    )


# --- drift ------------------------------------------------------------------------------------


DRIFT_TABLE_CONFIG = {
    "score": st.column_config.NumberColumn("score", format="%.3g"),
    "effect": st.column_config.NumberColumn(
        "effect",
        format="%.3g",
        help="How far the distribution moved (normed Wasserstein distance for numbers, Jensen-Shannon for "
        "categories). A p-value test counts as drift only when the effect reaches 0.1.",
    ),
    "threshold": st.column_config.NumberColumn("threshold", format="%.3g"),
    "data quality": st.column_config.TextColumn(
        "data quality", help="Unseen categories and unreadable values in the window: flagged per row, not drift."
    ),
}


def quality_text(found: dict[str, Any] | None) -> str:
    """A feature's data-quality findings in words: ``2 unseen (e.g. 'Atlantis'); 1 unreadable``."""
    found = found or {}
    parts = []
    if found.get("unseen"):
        examples = ", ".join(repr(e) for e in found.get("examples", [])[:3])
        parts.append(f"{found['unseen']:,} unseen ({found.get('unseen_share', 0):.1%}; e.g. {examples})")
    if found.get("unparsable"):
        parts.append(f"{found['unparsable']:,} unreadable")
    return "; ".join(parts)


def quality_caption(columns: dict[str, dict[str, Any]]) -> str:
    """One line naming the data-quality findings of a window's features ('' when there are none)."""
    found = [f"{name}: {quality_text(c.get('quality'))}" for name, c in columns.items() if c.get("quality")]
    return ("Data quality, not drift (flagged per row): " + " · ".join(found)) if found else ""


def drift_table(columns: dict[str, dict[str, Any]], skipped: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per feature: drifted, score, effect, method and threshold, the data-quality findings,
    and for a feature not tested why (from ``columns`` entries with ``not_tested``, or ``skipped``)."""
    rows = []
    for name, c in columns.items():
        why = c.get("not_tested")
        rows.append(
            {
                "feature": name,
                "drifted": None if why else bool(c.get("drifted")),
                "score": c.get("score"),
                "effect": c.get("effect"),
                "method": "not tested" if why else (c.get("method_label") or c.get("method")),
                "threshold": c.get("threshold"),
                "role": c.get("role"),
                "data quality": quality_text(c.get("quality")),
                "note": why or c.get("note", ""),
            }
        )
    rows += [
        {
            "feature": n,
            "drifted": None,
            "score": None,
            "effect": None,
            "method": "not tested",
            "threshold": None,
            "role": "",
            "data quality": "",
            "note": why,
        }
        for n, why in (skipped or {}).items()
        if n not in columns
    ]
    return pd.DataFrame(rows)


def drift_share_figure(windows: pd.DataFrame, threshold: float) -> go.Figure:
    """Share of drifting features per window and model version; windows too small shown apart."""
    fig = go.Figure()
    measured = windows[windows["status"] == "measured"]
    for version, part in measured.groupby("model_version"):
        fig.add_trace(
            go.Scatter(
                x=part["window"],
                y=part["drift_share"],
                mode="lines+markers",
                name=f"v{version}",
                line={"color": _color(version)},
                customdata=part[["rows", "drifted"]].to_numpy(),
                hovertemplate="%{x}: %{y:.0%} of features drift<br>%{customdata[0]} rows<br>%{customdata[1]}"
                "<extra></extra>",
            )
        )
    small = windows[windows["status"] == "too_small"]
    if len(small):
        fig.add_trace(
            go.Scatter(
                x=small["window"],
                y=[0] * len(small),
                mode="markers",
                name="too few rows",
                marker={"symbol": "x", "color": GREY},
                customdata=small[["rows"]].to_numpy(),
                hovertemplate="%{x}: only %{customdata[0]} rows, not measured<extra></extra>",
            )
        )
    fig.add_hline(y=threshold, line_dash="dash", line_color="#d62728", annotation_text="alert")
    fig.update_layout(
        xaxis={"title": None, "type": "category"},
        yaxis={"title": "share of features drifting", "range": [0, 1.05], "tickformat": ".0%"},
        height=320,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def feature_drift_figure(windows: pd.DataFrame, features: list[str]) -> go.Figure:
    """Per feature and window: drifted (dark) or not, with the score, method and threshold on hover."""
    measured = windows[windows["status"] == "measured"]
    shown = [f for f in features if f"drifted:{f}" in measured.columns]
    z = [[1.0 if measured[f"drifted:{f}"].iloc[i] else 0.0 for i in range(len(measured))] for f in shown]
    text = [
        [
            f"score {measured[f'score:{f}'].iloc[i]:.3g}" if pd.notna(measured[f"score:{f}"].iloc[i]) else ""
            for i in range(len(measured))
        ]
        for f in shown
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=measured["window"].tolist(),
            y=shown,
            text=text,
            colorscale=[[0, "#e8f1fa"], [1, "#d62728"]],
            zmin=0,
            zmax=1,
            showscale=False,
            xgap=2,
            ygap=2,
            hovertemplate="%{y} in %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": None, "type": "category"},
        yaxis={"title": None, "type": "category", "autorange": "reversed"},
        height=120 + 28 * len(shown),
        margin=MARGIN,
    )
    return fig


# --- quality ----------------------------------------------------------------------------------


def accuracy_figure(quality: pd.DataFrame, windows: pd.DataFrame, holdout: dict[int, float]) -> go.Figure:
    """Realised accuracy per window (marker size by labels, 95 % Wilson band) beside the estimate."""
    fig = go.Figure()
    if not windows.empty:
        for version, part in windows[windows["estimated_accuracy"].notna()].groupby("model_version"):
            fig.add_trace(
                go.Scatter(
                    x=part["window"],
                    y=part["estimated_accuracy"],
                    mode="lines+markers",
                    name=f"v{version} estimated",
                    line={"color": _color(version), "dash": "dot"},
                    marker={"symbol": "diamond-open"},
                    customdata=part[["rows"]].to_numpy(),
                    hovertemplate="%{x}: estimated %{y:.1%} from %{customdata[0]} predictions<extra></extra>",
                )
            )
    if not quality.empty:
        for version, part in quality.groupby("model_version"):
            color = _color(version)
            fig.add_trace(
                go.Scatter(
                    x=list(part["window"]) + list(part["window"])[::-1],
                    y=list(part["accuracy_high"]) + list(part["accuracy_low"])[::-1],
                    fill="toself",
                    mode="lines",
                    fillcolor=_rgba(color, 0.15),
                    line={"width": 0},
                    hoverinfo="skip",
                    name=f"v{version} 95 % interval",
                    showlegend=True,
                )
            )
            fig.add_trace(
                go.Scatter(
                    x=part["window"],
                    y=part["accuracy"],
                    mode="lines+markers",
                    name=f"v{version} realised",
                    line={"color": color},
                    marker={"size": [6 + min(18, n**0.5) for n in part["labels"]]},
                    customdata=part[["labels", "accuracy_low", "accuracy_high"]].to_numpy(),
                    hovertemplate="%{x}: %{y:.1%} on %{customdata[0]} labels"
                    "<br>95 %: %{customdata[1]:.1%}-%{customdata[2]:.1%}<extra></extra>",
                )
            )
    for version, value in holdout.items():
        fig.add_hline(
            y=value,
            line_dash="dash",
            line_color=_color(version),
            opacity=0.5,
            annotation_text=f"v{version} holdout",
        )
    values = [float(v) for trace in fig.data if trace.y is not None for v in trace.y if pd.notna(v)]
    values += list(holdout.values())
    low = max(0.0, min(values, default=0.5) - 0.05)
    fig.update_layout(
        xaxis={"title": None, "type": "category"},
        yaxis={"title": "accuracy", "tickformat": ".0%" if low < 0.8 else ".1%", "range": [low, 1.01]},
        height=360,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def metric_lines_figure(quality: pd.DataFrame, columns: dict[str, str]) -> go.Figure:
    """Lines of some quality columns (``{column: label}``) per window and model version, labels on hover."""
    fig = go.Figure()
    for version, part in quality.groupby("model_version"):
        for i, (column, label) in enumerate(columns.items()):
            if column not in part.columns:
                continue
            fig.add_trace(
                go.Scatter(
                    x=part["window"],
                    y=part[column],
                    mode="lines+markers",
                    name=f"v{version} {label}",
                    line={"color": _color(version), "dash": ["solid", "dot", "dash", "dashdot"][i % 4]},
                    customdata=part[["labels"]].to_numpy(),
                    hovertemplate=f"%{{x}}: {label} %{{y:.1%}} on %{{customdata[0]}} labels<extra></extra>",
                )
            )
    fig.update_layout(
        xaxis={"title": None, "type": "category"},
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
        height=320,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


# --- prediction mix ---------------------------------------------------------------------------


def class_mix_figure(windows: list[Any], training: dict[str, float]) -> go.Figure:
    """Share of each predicted class per window, the training labels' mix first."""
    labels = ["training labels"] + [w["window"] for w in windows]
    classes = sorted(set(training) | {c for w in windows for c in w["mix"]})
    fig = go.Figure()
    for i, cls in enumerate(classes):
        values = [training.get(cls, 0.0)] + [w["mix"].get(cls, 0.0) for w in windows]
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=cls,
                marker_color=COLORS[i % len(COLORS)],
                hovertemplate=f"%{{x}}: {cls} %{{y:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        xaxis={"title": None, "type": "category"},
        yaxis={"title": "share of predictions", "tickformat": ".0%", "range": [0, 1]},
        height=320,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def confidence_figure(window: pd.DataFrame, holdout: pd.DataFrame, label: str) -> go.Figure:
    """Shares of predictions per confidence bin: the window's against the holdout's."""
    middle = (window["low"] + window["high"]) / 2
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=middle,
            y=holdout["share"],
            width=0.05,
            name="holdout",
            marker_color=GREY,
            opacity=0.7,
            hovertemplate="holdout, confidence %{x:.0%}: %{y:.1%}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=middle,
            y=window["share"],
            width=0.03,
            name=label,
            marker_color="#1f77b4",
            hovertemplate=f"{label}, confidence %{{x:.0%}}: %{{y:.1%}}<extra></extra>",
        )
    )
    fig.update_layout(
        barmode="overlay",
        xaxis={"title": "confidence (largest probability)", "range": [0, 1], "tickformat": ".0%"},
        yaxis={"title": "share of predictions", "tickformat": ".0%"},
        height=300,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


# --- parts of the Monitor page --------------------------------------------------------------------

WINDOW_COLUMNS = [
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
    "measured",
]
WINDOWS_TABLE_CONFIG = {
    "drift_share": st.column_config.ProgressColumn("drift share", min_value=0, max_value=1, format="percent"),
    "estimated_accuracy": st.column_config.NumberColumn("estimated accuracy", format="percent"),
    "not_tested": st.column_config.TextColumn("not tested"),
    "quality_issues": st.column_config.NumberColumn(
        "data quality", help="Unseen or unreadable values in the window (not drift)."
    ),
    "measured": st.column_config.DatetimeColumn("measured", format="YYYY-MM-DD HH:mm", help="When, in UTC."),
}
MEASURE_NOW_HELP = (
    "Measure the windows that are new or have gained predictions since they were measured, check the alerts "
    "and deliver them. This happens by itself after each scored batch and on the schedule."
)
CHECK_SOURCES = {
    "last": "The last N predictions",
    "dates": "A date range",
    "batch": "One batch",
    "file": "A CSV file",
}
OPTIONS_CAPTION = (
    "auto: chosen by the column's values and the sample size. Up to 1,000 values in either sample: the K-S "
    "test for numbers, chi-square (two values: Z-test) for categories and for numbers with at most 5 distinct "
    "values, at p < 0.05; more: Wasserstein distance for numbers, Jensen-Shannon for categories, at 0.1. "
    "P-value methods drift below their threshold and only when the effect reaches 0.1; distances at or above "
    "their threshold. Unseen categories are data quality, not drift. Saving measures the stored windows "
    "again at the next visit."
)


def report_download(path: Path, file_name: str, key: str) -> None:
    """Evidently's report of a drift measurement: a download button, then the report itself."""
    st.download_button(
        "Download the report (HTML)",
        data=path.read_bytes(),
        file_name=file_name,
        mime="text/html",
        key=key,
    )
    show_report(path)


def check_summary(summary: dict[str, Any]) -> None:
    """A one-off check's figures: share of features drifting, dataset drift, rows compared, its notes."""
    a, b, c = st.columns(3)
    a.metric("Features drifting", f"{summary['drift_share']:.0%}")
    b.metric("Dataset drift", "yes" if summary["dataset_drift"] else "no")
    c.metric("Rows compared", f"{summary['rows']['current']:,} vs {summary['rows']['reference']:,}")
    st.caption(summary.get("window", ""))
    for note in summary.get("notes", []):
        st.caption(note)


def estimate_caption(base: Any, champion: int) -> str | None:
    """How the accuracy estimate is made and how well it fitted the champion's holdout halves."""
    if base is not None and base.check.get("halves"):
        halves = "; ".join(
            f"estimated {h['estimate']:.1%} vs realised {h['realised']:.1%} on {h['estimated_on']} rows"
            for h in base.check["halves"]
        )
        return (
            f"The estimate is the mean chance of being right given each prediction's confidence, calibrated on "
            f"v{champion}'s holdout ({base.holdout_rows} rows, accuracy {base.holdout_accuracy:.1%}). Checked on "
            f"halves of that holdout it fits on one and estimates the other: {halves}."
        )
    return None


def thresholds_caption(settings: Settings) -> str:
    """The alert thresholds in force (settings SIFT_ALERT_*)."""
    return (
        f"Thresholds: drift share {settings.alert_drift_share:.0%}; key features "
        f"{settings.alert_key_features or 'all'}; accuracy {settings.alert_accuracy_drop:.0%} below the holdout "
        f"(realised: from {settings.alert_min_labels} labels); flagged rows {settings.alert_flagged_share:.0%}; "
        f"rejected rows {settings.alert_rejected_share:.0%} (settings SIFT_ALERT_*)."
    )


def options_editor(features: list[dict[str, Any]], chosen_options: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Each feature's drift method and threshold ("auto" when not chosen), editable."""
    names = [f["name"] for f in features]
    editor = pd.DataFrame(
        {
            "feature": names,
            "role": [f["role"] for f in features],
            "method": [chosen_options.get(n, {}).get("method", "auto") for n in names],
            "threshold": [chosen_options.get(n, {}).get("threshold") for n in names],
            "methods that suit it": [", ".join(m.id for m in options.methods_for(f["role"])) for f in features],
        }
    )
    return st.data_editor(
        editor,
        hide_index=True,
        disabled=["feature", "role", "methods that suit it"],
        column_config={
            "method": st.column_config.SelectboxColumn("method", options=["auto", *options.METHODS]),
            "threshold": st.column_config.NumberColumn("threshold", min_value=0.0, format="%.4g"),
        },
        key="monitor_options_editor",
    )


def options_from_editor(edited: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The edited table as per-column choices: "auto" and an empty threshold are no choice."""
    return {
        row.feature: {
            "method": None if row.method in (None, "auto") else row.method,
            "threshold": None if pd.isna(row.threshold) else float(row.threshold),
        }
        for row in edited.itertuples(index=False)
    }


def with_measured_at(frame: pd.DataFrame, stored: list[Any]) -> pd.DataFrame:
    """The windows table with when each window was measured."""
    if not frame.empty:
        frame["measured"] = [pd.Timestamp(w.computed_at).tz_convert(None) for w in stored]
    return frame


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else ago(moment)


def schedule_caption(shown: schedule.Status, after_scoring: bool) -> str:
    """When the windows were last measured, whether they are being measured, and when they are next due."""
    triggers = {
        "scoring": "after scoring",
        "schedule": "on schedule",
        "page": "from this page",
        "command": "by command",
    }
    parts = [f"Last measured {_when(shown.last_finished_at)}"]
    if shown.last_trigger and shown.last_finished_at is not None:
        parts[0] += f", {triggers.get(shown.last_trigger, shown.last_trigger)}"
    if shown.measuring:
        parts.append(f"being measured now by {shown.measuring}")
    if shown.next_due is not None and shown.schedule_every is not None:
        parts.append(f"next due {shown.next_due:%Y-%m-%d %H:%M} UTC (every {shown.schedule_every / 60:g} min)")
    else:
        parts.append("no schedule running (python -m core monitor --every 15m, or serve)")
    if after_scoring:
        parts.append("and after each scored batch")
    text = " · ".join(parts) + "."
    if shown.last_error:
        text += f" The last run failed: {shown.last_error}"
    return text


def measured_message(done: schedule.DatasetRun) -> str:
    """What Measure now did, in a sentence."""
    if done.error:
        return f"Measuring failed: {done.error}"
    if done.skipped:
        return f"Already {done.skipped}."
    alerts = f", {len(done.alerts)} new alert(s)" if done.alerts else ""
    return f"Measured {done.measured} new or changed window(s){alerts}; {done.kept} unchanged."
