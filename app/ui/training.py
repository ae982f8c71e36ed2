"""The training report on screen: leaderboard, confusion matrix, curves, importance, tuning.

:func:`show_report` renders what :func:`core.training.report.load_report` returns; the figure
builders are plain functions of the stored documents, so they never recompute anything.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui.format import metric, metric_column, metric_columns
from core.model_card import md_text
from core.training.evaluate import chance_summary, chance_warning

SCORE = "CV macro F1"
MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}
TOP_FEATURES = 20


# the leaderboard's metric columns, the deciding ones first (balanced accuracy is on the model card)
BOARD_METRICS = (SCORE, "CV ±", "holdout macro F1", "holdout accuracy", "ROC AUC")


def leaderboard_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per candidate, best first, with the analyst's column names: what decides the winner
    first, so nothing that matters is off to the right of a narrow screen."""
    return pd.DataFrame(
        {
            "": ["★" if r.get("winner") else "" for r in rows],
            "candidate": [r.get("label") or r.get("name") for r in rows],
            SCORE: [r.get("cv_f1_macro") for r in rows],
            "CV ±": [r.get("cv_f1_macro_std") for r in rows],
            "holdout macro F1": [r.get("f1_macro") for r in rows],
            "holdout accuracy": [r.get("accuracy") for r in rows],
            "ROC AUC": [r.get("roc_auc") for r in rows],
            "trials": [r.get("trials") for r in rows],
            "fit seconds": [r.get("fit_seconds") for r in rows],
        }
    )


def leaderboard_columns() -> dict[str, Any]:
    """Column widths and formats that keep the whole leaderboard in view (metrics by the one rule)."""
    return (
        {
            "": st.column_config.TextColumn(width=32, pinned=True),
            "candidate": st.column_config.TextColumn(width=190, pinned=True),
            "trials": st.column_config.NumberColumn(width=60, format="plain"),
            "fit seconds": st.column_config.NumberColumn(width=90, format="%.2f"),
        }
        | metric_columns(BOARD_METRICS, width=110)
        | {"CV ±": metric_column(width=70)}
    )


def confusion_figure(doc: dict[str, Any]) -> go.Figure:
    labels, matrix = doc["labels"], doc["matrix"]
    totals = [sum(row) or 1 for row in matrix]
    share = [[v / t for v in row] for row, t in zip(matrix, totals, strict=True)]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=labels,
            y=labels,
            text=matrix,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": "share of row", "tickformat": ".0%"},
            hovertemplate="true %{y}, predicted %{x}: %{text} rows (%{z:.1%} of the true class)<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "predicted", "type": "category", "side": "top"},
        yaxis={"title": "true", "type": "category", "autorange": "reversed"},
        height=140 + 45 * len(labels),
        margin=MARGIN,
    )
    return fig


def roc_figure(doc: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for curve in doc["curves"]:
        name = f"{curve['label']} (AUC {metric(curve['auc'])})"
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines", name=name))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}))
    return _square(fig, "false positive rate", "true positive rate")


def pr_figure(doc: dict[str, Any]) -> go.Figure:
    fig = go.Figure()
    for curve in doc["curves"]:
        name = f"{curve['label']} (AP {metric(curve['average_precision'])})"
        fig.add_trace(go.Scatter(x=curve["recall"], y=curve["precision"], mode="lines", name=name))
    if doc["kind"] == "binary" and doc["curves"]:
        prevalence = doc["curves"][0]["prevalence"]
        fig.add_trace(
            go.Scatter(x=[0, 1], y=[prevalence] * 2, mode="lines", name="chance", line={"dash": "dot", "color": "grey"})
        )
    return _square(fig, "recall", "precision")


def calibration_figure(doc: dict[str, Any]) -> go.Figure:
    bins = doc["bins"]
    fig = go.Figure(
        go.Scatter(
            x=[b["predicted"] for b in bins],
            y=[b["observed"] for b in bins],
            mode="lines+markers",
            name="holdout",
            marker={"size": [6 + 14 * (b["count"] / max(c["count"] for c in bins)) ** 0.5 for b in bins]},
            customdata=[b["count"] for b in bins],
            hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{customdata} rows)<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "grey"}))
    observed = "share that was right" if doc["kind"] == "top-label" else f"share of {doc.get('label')}"
    return _square(fig, "predicted probability", observed)


def importance_figure(rows: list[dict[str, Any]]) -> go.Figure:
    shown = rows[:TOP_FEATURES][::-1]  # largest at the top
    fig = go.Figure(
        go.Bar(
            x=[r["importance"] for r in shown],
            y=[r["feature"] for r in shown],
            orientation="h",
            error_x={"type": "data", "array": [r.get("std") or 0 for r in shown]},
            marker_color="#1f77b4",
        )
    )
    fig.update_layout(
        xaxis={"title": "drop in holdout macro F1 when the column is shuffled"},
        yaxis={"title": None, "type": "category"},
        height=120 + 28 * len(shown),
        margin=MARGIN,
    )
    return fig


def tuning_figure(doc: dict[str, Any]) -> go.Figure:
    """Each completed trial's score, the best so far, and where pruned trials stopped."""
    trials = doc["trials"]
    complete = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
    pruned = [t for t in trials if t["state"] == "PRUNED" and t.get("last_intermediate") is not None]
    best, running = [], None
    for t in complete:
        running = t["value"] if running is None else max(running, t["value"])
        best.append(running)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[t["number"] for t in complete],
            y=[t["value"] for t in complete],
            mode="markers",
            name="trial",
            marker={"size": 8},
        )
    )
    if pruned:
        fig.add_trace(
            go.Scatter(
                x=[t["number"] for t in pruned],
                y=[t["last_intermediate"] for t in pruned],
                mode="markers",
                name="pruned (mean of its first folds)",
                marker={"symbol": "x", "color": "grey", "size": 7},
            )
        )
    fig.add_trace(
        go.Scatter(x=[t["number"] for t in complete], y=best, mode="lines", name="best so far", line={"shape": "hv"})
    )
    fig.update_layout(
        xaxis={"title": "trial"},
        yaxis={"title": SCORE},
        height=320,
        margin=MARGIN,
        legend={"orientation": "h", "y": 1.15},
    )
    return fig


def _square(fig: go.Figure, x: str, y: str) -> go.Figure:
    fig.update_layout(
        xaxis={"title": x, "range": [0, 1]},
        yaxis={"title": y, "range": [0, 1.02]},
        height=380,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _missing(what: str) -> None:
    st.caption(f"No {what} was recorded for this model version.")


def show_report(report: dict[str, Any], *, key: str = "training_report") -> None:
    """Render a training report; ``key`` prefixes element keys when a page shows several."""
    board = report.get("leaderboard")
    chance = report.get("chance")
    if chance:  # the guessed class is the user's data: inert in Markdown
        chance = chance | {"guess": md_text(chance["guess"])}
    if warning := chance_warning(chance):
        st.warning(warning, icon=":material/warning:")
    st.subheader("Leaderboard")
    if board:
        st.caption(
            f"Every candidate on the same cross-validation folds and the same holdout. The winner (★) has the best "
            f"{SCORE}; ties go to the better holdout macro F1."
        )
        st.dataframe(
            leaderboard_frame(board),
            hide_index=True,
            width="stretch",
            key=f"{key}_leaderboard",
            column_config=leaderboard_columns(),
        )
        if chance:
            st.caption(chance_summary(chance))
    else:
        _missing("leaderboard")

    names = ["Confusion matrix", "ROC", "Precision-recall", "Calibration", "Importance", "Tuning"]
    confusion, roc, pr, calibration, importance, tuning = st.tabs(names)
    with confusion:
        if report.get("confusion_matrix"):
            st.plotly_chart(confusion_figure(report["confusion_matrix"]), key=f"{key}_confusion")
        else:
            _missing("confusion matrix")
    with roc:
        if report.get("roc_curve", {}).get("curves"):
            if report["roc_curve"]["kind"] == "one-vs-rest":
                st.caption("One curve per class: that class against all the others.")
            st.plotly_chart(roc_figure(report["roc_curve"]), key=f"{key}_roc")
        else:
            _missing("ROC curve")
    with pr:
        if report.get("pr_curve", {}).get("curves"):
            st.plotly_chart(pr_figure(report["pr_curve"]), key=f"{key}_pr")
        else:
            _missing("precision-recall curve")
    with calibration:
        if report.get("calibration", {}).get("bins"):
            st.caption(report["calibration"].get("note", ""))
            st.plotly_chart(calibration_figure(report["calibration"]), key=f"{key}_calibration")
        else:
            _missing("calibration curve")
    with importance:
        if report.get("permutation_importance"):
            st.caption("Permutation importance on the holdout, per column of the uploaded data.")
            st.plotly_chart(importance_figure(report["permutation_importance"]), key=f"{key}_importance")
        else:
            _missing("feature importance")
    with tuning:
        if report.get("tuning", {}).get("trials"):
            doc = report["tuning"]
            states = pd.Series([t["state"] for t in doc["trials"]]).value_counts()
            st.caption(
                f"XGBoost search, study `{doc.get('study_name')}`: "
                + ", ".join(f"{n} {state.lower()}" for state, n in states.items())
                + "."
            )
            st.plotly_chart(tuning_figure(doc), key=f"{key}_tuning")
        else:
            _missing("tuning history")
