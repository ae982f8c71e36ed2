"""Training on screen: the training report (leaderboard, confusion matrix, curves, importance,
tuning), a training job's live panel and outcome, Past jobs, and the retrain counters and decisions.

:func:`show_report` renders what :func:`core.training.report.load_report` returns; the figure
builders are plain functions of the stored documents, so they never recompute anything.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui.format import METRIC_LABELS, metric, metric_column, metric_columns
from core.config import Settings
from core.feedback import FeedbackCounts
from core.jobs import queue
from core.model_card import md_text
from core.retrain import decision_table
from core.training.budgets import BUDGETS
from core.training.evaluate import METRICS, OLD_SELECTION_METRIC, chance_summary, chance_warning
from core.training.factories import LABELS
from core.training.selection import MEANINGS, SELECTION_METRICS, default_metric_for

SCORE = "CV score"  # the tuned XGBoost's cross-validated selection metric (see selection_note)
MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}
TOP_FEATURES = 20
INTERVAL = "holdout 95 % interval"


def board_metric(rows: list[dict[str, Any]]) -> str:
    """The selection metric a leaderboard was ranked on (macro F1 before it was a choice)."""
    return (rows[0].get("metric") if rows else None) or OLD_SELECTION_METRIC


def _interval(row: dict[str, Any]) -> str:
    low, high = row.get("holdout_low"), row.get("holdout_high")
    return "" if low is None or high is None else f"{low:.3f} to {high:.3f}"


def leaderboard_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per candidate, best first, with the analyst's column names: what decides the winner
    (the out-of-fold selection metric) first, then the holdout with its interval, so nothing that
    matters is off to the right of a narrow screen."""
    label = METRICS[board_metric(rows)]
    return pd.DataFrame(
        {
            "": ["★" if r.get("winner") else "" for r in rows],
            "candidate": [r.get("label") or r.get("name") for r in rows],
            f"CV {label}": [r.get("cv_score", r.get("cv_f1_macro")) for r in rows],
            "CV ±": [r.get("cv_score_std", r.get("cv_f1_macro_std")) for r in rows],
            f"holdout {label}": [r.get(board_metric(rows)) for r in rows],
            INTERVAL: [_interval(r) for r in rows],
            "holdout accuracy": [r.get("accuracy") for r in rows],
            "weighting": [r.get("class_weight", "") for r in rows],
            "calibration": [r.get("calibration", "") for r in rows],
            "trials": [r.get("trials") for r in rows],
            "fit seconds": [r.get("fit_seconds") for r in rows],
        }
    )


def board_metrics(rows: list[dict[str, Any]]) -> tuple[str, ...]:
    """The leaderboard's metric columns: the selection metric out of fold and on the holdout, then accuracy."""
    label = METRICS[board_metric(rows)]
    return (f"CV {label}", f"holdout {label}", "holdout accuracy")


def leaderboard_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Column widths and formats that keep the whole leaderboard in view (metrics by the one rule)."""
    return (
        {
            "": st.column_config.TextColumn(width=32, pinned=True),
            "candidate": st.column_config.TextColumn(width=170, pinned=True),
            INTERVAL: st.column_config.TextColumn(width=120),
            "weighting": st.column_config.TextColumn(width=75, help="class weighting: balanced or none"),
            "calibration": st.column_config.TextColumn(width=80, help="fitted on out-of-fold probabilities"),
            "trials": st.column_config.NumberColumn(width=55, format="plain"),
            "fit seconds": st.column_config.NumberColumn(width=80, format="%.2f"),
        }
        | metric_columns(board_metrics(rows), width=100)
        | {"CV ±": metric_column(width=65)}
    )


def metric_picker(sessions: Any, dataset: str, version: int) -> str | None:
    """The selection metric box of the Train page: None keeps the default for the target, shown with its reason."""
    with sessions() as session:
        default = default_metric_for(session=session, dataset=dataset, version=version)
    picked = st.selectbox(
        "Metric that picks the model",
        [None, *SELECTION_METRICS],
        format_func=lambda m: f"{default.label} (the default for this target)" if m is None else METRICS[m],
        key="train_metric",
        help="Tuning, the choice of the winner, calibration, the ensemble and the retrain's promotion gate use it; "
        "every metric is still reported.",
    )
    st.caption(default.reason if picked is None else f"{METRICS[picked]}: {MEANINGS[picked]}")
    return picked


def selection_note(selection: dict[str, Any] | None) -> str:
    """How the winner was chosen, in a few sentences (reports older than the choice: macro F1)."""
    if not selection:
        return "The winner (★) has the best cross-validated macro F1."
    label = METRICS[selection["metric"]]
    parts = [
        f"The winner (★) has the best {label} out of fold: each training row predicted by the models of the "
        f"{selection.get('cv_folds', '')} folds that did not see it"
        + (f" ({selection['cv_repeats']} repeats of the folds)" if (selection.get("cv_repeats") or 1) > 1 else "")
        + ". The holdout and its 95 % interval are reported, never used to choose.",
        f"Metric: {selection.get('reason', label)}",
    ]
    members = selection.get("members") or {}
    if members:
        parts.append("Ensemble: " + ", ".join(f"{LABELS.get(n, n)} {w:.0%}" for n, w in members.items()) + ".")
    if selection.get("calibration") not in (None, "none"):
        parts.append(f"Its probabilities are calibrated ({selection['calibration']}): that lowered their log loss.")
    return " ".join(parts)


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
    selection = report.get("selection") or {}
    for note in selection.get("warnings") or []:
        st.warning(note, icon=":material/warning:")
    st.subheader("Leaderboard")
    if board:
        st.caption(
            "Every candidate on the same cross-validation folds and the same holdout. " + selection_note(selection)
        )
        st.dataframe(
            leaderboard_frame(board),
            hide_index=True,
            width="stretch",
            key=f"{key}_leaderboard",
            column_config=leaderboard_columns(board),
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


# --- training jobs and retraining on the Train page ------------------------------------------------


def limits(trials: Any, timeout: Any) -> str:
    parts = []
    if trials:
        parts.append(f"{int(trials)} trial{'s' if int(trials) != 1 else ''}")
    if timeout:
        parts.append(duration(float(timeout)))
    return " or ".join(parts) if parts else "the default number of trials"


def budget_caption(name: str) -> str:
    preset = BUDGETS[name]
    return f"{preset.description} Up to {limits(preset.trials, preset.timeout)}, whichever comes first."


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    return f"{secs} s"


def trial_chart(values: list[float | None]) -> go.Figure:
    """The score of each finished trial, and the best so far."""
    trials = [i for i, v in enumerate(values, start=1) if v is not None]
    scores = [v for v in values if v is not None]
    best, running = [], None
    for value in scores:
        running = value if running is None else max(running, value)
        best.append(running)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=trials, y=scores, mode="markers", name="trial", marker={"size": 8}))
    fig.add_trace(go.Scatter(x=trials, y=best, mode="lines", name="best so far", line={"shape": "hv"}))
    fig.update_layout(
        xaxis={"title": "trial", "dtick": 1 if len(values) <= 20 else None},
        yaxis={"title": SCORE},
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def budget_text(job: queue.Job) -> str:
    p = job.parameters or {}
    name = p.get("budget") or "custom"
    return f"{name}: {limits(p.get('trials'), p.get('timeout'))}"


def show_decision(decision: dict[str, Any], key: str) -> None:
    """A retrain's decision: the reason, and both models' metrics on both slices."""
    (st.success if decision.get("promoted") else st.warning)(decision.get("reason") or "No reason recorded.")
    st.dataframe(
        decision_table(decision),
        hide_index=True,
        column_config={c: metric_column() for c in ("champion", "challenger", "difference")},
        key=key,
    )


def next_step(progress: queue.JobProgress) -> None:
    """After a training, the next thing to do is one click away: predict with the champion, or compare."""
    if "champion" in progress.aliases:
        st.page_link("app/pages/predict.py", label="Make a prediction", icon=":material/online_prediction:")
    else:
        st.page_link("app/pages/models.py", label="Compare it with the champion", icon=":material/model_training:")


def show_result(job: queue.Job, progress: queue.JobProgress) -> None:
    result = job.result or {}
    if "promoted" in result:  # a retrain: the decision says what became of the challenger
        show_decision(result, key=f"train_decision_{job.id}")
        next_step(progress)
        return
    # the aliases it holds now (the registry's), not those it got when registered: a later promotion moves them
    if "champion" in progress.aliases:
        role = "It is the **champion**: scoring uses it."
    elif "challenger" in progress.aliases:
        role = "It is the **challenger**: the champion keeps scoring until you promote it on the Models page."
    else:
        role = "It holds no alias now."
    st.success(f"Registered {result.get('model', job.dataset)} **v{progress.version}**. {role}")
    metrics = result.get("metrics") or {}
    shown = [key for key in METRIC_LABELS if key in metrics]
    for column, key in zip(st.columns(max(1, len(shown))), shown, strict=False):
        column.metric(METRIC_LABELS[key], metric(metrics[key]))
    next_step(progress)


def job_heading(job: queue.Job) -> None:
    """The job's title line and its budget, age, duration and study."""
    what = "Retrain job" if job.kind == "retrain" else "Job"
    st.subheader(f"{what} {job.id}: {job.dataset} v{job.dataset_version} · {job.status}")
    took = f" · ran {duration(queue.elapsed_seconds(job))}" if job.finished_at and job.started_at else ""
    st.caption(f"Budget {budget_text(job)} · submitted {queue.ago(job.created_at)}{took} · study `{job.study_name}`")


def job_running(job: queue.Job, progress: queue.JobProgress) -> None:
    """A queued or running job: trial, best score, time, and how far it is."""
    trial, planned = progress.trial, progress.trials
    elapsed, timeout = queue.elapsed_seconds(job), (job.parameters or {}).get("timeout")
    trial_col, best_col, time_col = st.columns(3)
    trial_col.metric("Trial", progress.trial_text)
    best_col.metric(f"Best {SCORE} so far", metric(progress.best))
    time_col.metric("Elapsed", duration(elapsed), help=f"Time limit {duration(timeout)}" if timeout else None)
    # tuning stops at whichever limit comes first: show the nearer one
    done = max(trial / planned if planned else 0.0, (elapsed or 0.0) / timeout if timeout else 0.0)
    st.progress(min(1.0, done), text=f"Stage: {progress.stage}")
    if job.status == "queued":
        st.info("Waiting for the worker process to start…")
    elif job.kind == "train":
        helper = f"python -m core tune-worker --dataset {job.dataset} --study {job.study_name}"
        st.caption(f"Other machines can help: `{helper}`")


def job_outcome(job: queue.Job, progress: queue.JobProgress) -> None:
    """An ended job: what it registered, or why it stopped."""
    if job.status == "done":
        show_result(job, progress)
    elif job.status == "failed":
        st.error(f"Job {job.id} failed: {job.error or 'no reason recorded.'}")
    elif job.status == "cancelled":
        st.info(f"Job {job.id} was cancelled after {progress.trial} trial(s): nothing was registered.")
    elif job.status == "interrupted":
        st.warning(
            f"Job {job.id} was interrupted after {progress.trial} trial(s): its worker process "
            "stopped before the end, and nothing was registered. Resume continues the same tuning study."
        )


def history_frame(history: list[tuple[queue.Job, queue.JobProgress]]) -> pd.DataFrame:
    """Past jobs: a done job's score is its registered winner's, its aliases those it holds now."""
    rows = []
    for job, progress in history:
        rows.append(
            {
                "job": job.id,
                "kind": job.kind,
                "status": progress.state,
                "dataset version": job.dataset_version,
                "budget": budget_text(job),
                "trials": progress.trial_text,
                f"best {SCORE}": progress.shown_score,
                "model version": progress.version,
                "aliases": ", ".join(progress.aliases),
                "submitted": queue.ago(job.created_at),
                "duration": duration(queue.elapsed_seconds(job)),
                "reason": job.error or "",
            }
        )
    return pd.DataFrame(rows)


def retrain_counts(counts: FeedbackCounts) -> None:
    """Labels since the champion against the threshold, labelled predictions, predictions without a label."""
    since_col, labelled_col, pending_col = st.columns(3)
    since_col.metric(
        f"Labels since champion v{counts.champion}",
        f"{counts.since_champion:,}",
        delta=f"threshold {counts.threshold:,}: a retrain is due"
        if counts.due
        else f"{counts.threshold - counts.since_champion:,} more for a retrain",
        delta_color="off",
        delta_arrow="off",
        help="Labels given after the champion was registered, and the threshold that makes a retrain due.",
    )
    labelled_col.metric("Labelled predictions", f"{counts.labelled:,}", help="All of them join a retrain.")
    pending_col.metric("Predictions without a label", f"{counts.pending:,}")


def retrain_due(counts: FeedbackCounts) -> None:
    if counts.due:
        st.info(
            f"A retrain is due: {counts.since_champion:,} labels since champion v{counts.champion}"
            + (f"; the next automatic one starts at {counts.next_auto_at:,}." if counts.next_auto_at else ".")
        )


def retrain_rule(settings: Settings, champion: int) -> str:
    """What a retrain trains on, and when its result is promoted."""
    return (
        f"A retrain trains like Start training, on champion v{champion}'s data plus every labelled prediction, "
        f"except the most recent {settings.retrain_eval_fraction:.0%} of labels (at least "
        f"{settings.retrain_min_eval_rows}), kept out to judge it. The result becomes the challenger and is promoted "
        f"only if none of its macro F1, ROC AUC and balanced accuracy is worse than the champion's by more than "
        f"{settings.retrain_tolerance:g}, on the champion's holdout and, from "
        f"{settings.retrain_min_recent_labels} of them, on those recent labels."
    )


def show_decisions(decisions: list[dict[str, Any]]) -> None:
    """The latest retrain decision, and all of them in an expander."""
    if decisions:
        latest = decisions[0]
        st.markdown(f"**Latest decision** ({queue.ago(latest['when'])}):")
        show_decision(latest, key="train_retrain_decision")
        if len(decisions) > 1:
            with st.expander(f"All {len(decisions)} retrain decisions"):
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "when": d["when"],
                                "promoted": d["promoted"],
                                "champion": d["champion_version"],
                                "challenger": d["challenger_version"],
                                "reason": d["reason"],
                            }
                            for d in decisions
                        ]
                    ),
                    hide_index=True,
                    key="train_retrain_decisions",
                )
