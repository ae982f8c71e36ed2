"""Train: tune and register a model for a dataset version, as a background job.

The job runs in a process of its own and writes its progress to the database, so this page only
reads it: leave the page, reload the browser or open it in another tab, and the progress panel
finds the dataset's job again.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import resources
from app.ui import access
from app.ui import format as fmt
from app.ui.format import METRIC_LABELS
from app.ui.training import show_report
from core.datasets.versions import list_versions
from core.db.models import JOB_ACTIVE, Job
from core.errors import SiftError
from core.feedback import feedback_counts, set_retrain_policy
from core.jobs import queue, runner
from core.retrain import decision_table, minimum_labels, retrain_decisions, retrain_if_due, submit_retrain
from core.training.budgets import BUDGETS, DEFAULT_BUDGET, Budget
from core.training.report import load_report

CUSTOM = "custom"
REFRESH_SECONDS = 2
HISTORY = 50
SCORE = "CV macro F1"
RETRAIN_FLASH = "train_retrain_flash"


def _limits(trials: Any, timeout: Any) -> str:
    parts = []
    if trials:
        parts.append(f"{int(trials)} trial{'s' if int(trials) != 1 else ''}")
    if timeout:
        parts.append(_duration(float(timeout)))
    return " or ".join(parts) if parts else "the default number of trials"


def _budget_caption(name: str) -> str:
    preset = BUDGETS[name]
    return f"{preset.description} Up to {_limits(preset.trials, preset.timeout)}, whichever comes first."


def _duration(seconds: float | None) -> str:
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


def _score(value: float | None) -> str:
    return fmt.metric(value)


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


def _budget_text(job: Job) -> str:
    p = job.parameters or {}
    name = p.get("budget") or "custom"
    return f"{name}: {_limits(p.get('trials'), p.get('timeout'))}"


def _resume_button(job: Job) -> None:
    resume = st.button("Resume", key=f"train_resume_{job.id}", type="primary", help="Continue the same tuning study.")
    if resume and (job.kind != "retrain" or access.admin_allowed("Resuming a retrain")):
        try:
            with sessions.begin() as session:
                queue.resume_job(session=session, job_id=job.id)
            _start(job.id)
        except SiftError as exc:
            st.error(str(exc))
        else:
            st.rerun()


def _start(job_id: int) -> None:
    """Launch the job's background worker; a job that cannot start is cancelled, not left queued."""
    runner.start_job(settings, job_id)


def show_decision(decision: dict[str, Any], key: str) -> None:
    """A retrain's decision: the reason, and both models' metrics on both slices."""
    (st.success if decision.get("promoted") else st.warning)(decision.get("reason") or "No reason recorded.")
    st.dataframe(
        decision_table(decision),
        hide_index=True,
        column_config={c: fmt.metric_column() for c in ("champion", "challenger", "difference")},
        key=key,
    )


def _next_step(progress: queue.JobProgress) -> None:
    """After a training, the next thing to do is one click away: predict with the champion, or compare."""
    if "champion" in progress.aliases:
        st.page_link("app/pages/predict.py", label="Make a prediction", icon=":material/online_prediction:")
    else:
        st.page_link("app/pages/models.py", label="Compare it with the champion", icon=":material/model_training:")


def _show_result(job: Job, progress: queue.JobProgress) -> None:
    result = job.result or {}
    if "promoted" in result:  # a retrain: the decision says what became of the challenger
        show_decision(result, key=f"train_decision_{job.id}")
        _next_step(progress)
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
        column.metric(METRIC_LABELS[key], _score(metrics[key]))
    _next_step(progress)


def _show_report(job: Job) -> bool:
    """The registered version's training report (its tuning chart included); False if there is none."""
    try:
        report = load_report(settings, job.dataset, (job.result or {}).get("version"))
    except SiftError as exc:
        st.info(f"No training report to show: {exc}")
        return False
    show_report(report, key=f"train_report_{job.id}")
    return True


def show_jobs(was_active: bool) -> None:
    """The live panel of the dataset's active (else latest) job, then Past jobs, from one reading of the jobs.

    Both are drawn (and, while a job runs, refreshed) together, and count trials through
    :func:`core.jobs.queue.job_progress` like the sidebar does, so they never disagree.
    """
    with sessions() as session:
        found = queue.list_jobs(session=session, dataset=dataset, limit=HISTORY)
    if not found:
        return
    job = next((j for j in found if j.status in JOB_ACTIVE), found[0])
    if was_active and job.status not in JOB_ACTIVE:
        st.rerun()  # it just ended: refresh the whole page (the Start button, the retrain counters)
    aliases = queue.current_aliases(settings, dataset)
    with st.container(border=True):
        show_job(job, queue.job_progress(job, aliases=aliases))
    st.subheader("Past jobs")
    st.dataframe(
        _history_frame([(j, queue.job_progress(j, aliases=aliases)) for j in found]),
        hide_index=True,
        column_config={f"best {SCORE}": fmt.metric_column()},
    )


def show_job(job: Job, progress: queue.JobProgress) -> None:
    """The job's live panel: progress while it runs, its outcome once it ended."""
    values = progress.values
    what = "Retrain job" if job.kind == "retrain" else "Job"
    st.subheader(f"{what} {job.id}: {job.dataset} v{job.dataset_version} · {job.status}")
    took = f" · ran {_duration(queue.elapsed_seconds(job))}" if job.finished_at and job.started_at else ""
    st.caption(f"Budget {_budget_text(job)} · submitted {queue.ago(job.created_at)}{took} · study `{job.study_name}`")

    if job.status in JOB_ACTIVE:
        trial, planned = progress.trial, progress.trials
        elapsed, timeout = queue.elapsed_seconds(job), (job.parameters or {}).get("timeout")
        trial_col, best_col, time_col = st.columns(3)
        trial_col.metric("Trial", progress.trial_text)
        best_col.metric(f"Best {SCORE} so far", _score(progress.best))
        time_col.metric("Elapsed", _duration(elapsed), help=f"Time limit {_duration(timeout)}" if timeout else None)
        # tuning stops at whichever limit comes first: show the nearer one
        done = max(trial / planned if planned else 0.0, (elapsed or 0.0) / timeout if timeout else 0.0)
        st.progress(min(1.0, done), text=f"Stage: {progress.stage}")
        if job.status == "queued":
            st.info("Waiting for the worker process to start…")
        elif job.kind == "train":
            helper = f"python -m core tune-worker --dataset {job.dataset} --study {job.study_name}"
            st.caption(f"Other machines can help: `{helper}`")
        if job.cancel_requested:
            st.warning("Cancel requested: the job stops after the current trial and registers nothing.")
        elif st.button(
            "Cancel", key=f"train_cancel_{job.id}", help="Stop after the current trial; nothing is registered."
        ):
            try:
                with sessions.begin() as session:
                    queue.cancel_job(session=session, job_id=job.id)
            except SiftError as exc:
                st.error(str(exc))
            else:
                st.rerun()
    elif job.status == "done":
        _show_result(job, progress)
    elif job.status == "failed":
        st.error(f"Job {job.id} failed: {job.error or 'no reason recorded.'}")
        _resume_button(job)
    elif job.status == "cancelled":
        st.info(f"Job {job.id} was cancelled after {progress.trial} trial(s): nothing was registered.")
    elif job.status == "interrupted":
        st.warning(
            f"Job {job.id} was interrupted after {progress.trial} trial(s): its worker process "
            "stopped before the end, and nothing was registered. Resume continues the same tuning study."
        )
        _resume_button(job)

    reported = job.status == "done" and _show_report(job)
    if not reported and any(v is not None for v in values):
        st.plotly_chart(trial_chart(values), key=f"train_chart_{job.id}")


def _history_frame(history: list[tuple[Job, queue.JobProgress]]) -> pd.DataFrame:
    """Past jobs: a done job's score is its registered winner's, its aliases those it holds now."""
    rows = []
    for job, progress in history:
        rows.append(
            {
                "job": job.id,
                "kind": job.kind,
                "status": progress.state,
                "dataset version": job.dataset_version,
                "budget": _budget_text(job),
                "trials": progress.trial_text,
                f"best {SCORE}": progress.shown_score,
                "model version": progress.version,
                "aliases": ", ".join(progress.aliases),
                "submitted": queue.ago(job.created_at),
                "duration": _duration(queue.elapsed_seconds(job)),
                "reason": job.error or "",
            }
        )
    return pd.DataFrame(rows)


st.title("Train")
dataset = resources.require_dataset()
settings = resources.settings()
sessions = resources.sessions()

with sessions() as session:
    numbers = [v.version for v in list_versions(session=session, name=dataset)]
    history = queue.list_jobs(session=session, dataset=dataset, limit=HISTORY)
active = next((job for job in history if job.status in JOB_ACTIVE), None)

with st.container(border=True):
    st.subheader(f"Train a model for {dataset}")
    version = st.selectbox(
        "Dataset version",
        numbers,
        index=0,
        format_func=lambda n: f"v{n} (latest)" if n == numbers[0] else f"v{n}",
        key="train_version",
    )
    presets = list(BUDGETS)
    budget = st.radio(
        "Budget",
        [*presets, CUSTOM],
        index=presets.index(DEFAULT_BUDGET) if DEFAULT_BUDGET in presets else 0,
        captions=[_budget_caption(name) for name in presets] + ["Set trials and/or a time limit yourself."],
        horizontal=True,
        key="train_budget",
        help="Each trial cross-validates one set of XGBoost parameters; the best one is refitted and registered.",
    )
    trials = seconds = None
    if budget == CUSTOM:
        left, right = st.columns(2)
        trials = left.number_input("Trials", min_value=1, value=None, step=1, key="train_trials")
        seconds = right.number_input("Time limit (seconds)", min_value=1, value=None, step=30, key="train_seconds")
        st.caption("Tuning stops at whichever limit comes first.")
    blocked = f"Job {active.id} is {active.status} for {dataset}: wait for it or cancel it." if active else None
    if st.button("Start training", type="primary", key="train_start", disabled=active is not None, help=blocked):
        if budget == CUSTOM and trials is None and seconds is None:
            st.error("Give a number of trials, a time limit, or both.")
        else:
            try:
                with sessions.begin() as session:
                    job = queue.submit_training(
                        session=session,
                        dataset=dataset,
                        dataset_version=version,
                        budget=Budget(None if budget == CUSTOM else budget, trials=trials, timeout=seconds),
                    )
                _start(job.id)
            except SiftError as exc:
                st.error(str(exc))
            else:
                st.rerun()


def retrain_section() -> None:
    """Labels gathered since the champion, the threshold and automatic mode, Retrain now, the last decision."""
    with sessions() as session:
        counts = feedback_counts(session=session, settings=settings, dataset=dataset)
        decisions = retrain_decisions(session=session, dataset=dataset, limit=HISTORY)
    st.subheader(f"Retrain {dataset} with feedback")
    flash = st.session_state.pop(RETRAIN_FLASH, None)
    if flash:
        st.success(flash)
    if counts.champion is None:
        st.caption("No champion yet: train one first. A retrain adds the labelled predictions to its training data.")
        return
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
    with st.form(f"train_retrain_policy_{dataset}", border=False):
        left, right = st.columns(2)
        threshold = left.number_input(
            "Retrain threshold (labels since the champion)",
            min_value=1,
            value=counts.threshold,
            step=1,
            key=f"train_retrain_threshold_{dataset}",
        )
        auto = right.toggle(
            "Retrain automatically",
            value=counts.auto,
            key=f"train_retrain_auto_{dataset}",
            help="Start a retrain by itself when recorded labels cross the threshold (once per crossing).",
        )
        saved = st.form_submit_button("Save retrain settings")
    if saved and access.admin_allowed("Changing the retrain settings"):
        try:
            with sessions.begin() as session:
                set_retrain_policy(
                    session=session, settings=settings, dataset=dataset, threshold=int(threshold), auto=auto
                )
                trigger = retrain_if_due(session=session, settings=settings, dataset=dataset) if auto else None
            message = f"Saved: a retrain is due at {int(threshold):,} labels since the champion" + (
                ", and starts by itself." if auto else "."
            )
            if trigger is not None and trigger.job_id is not None:
                _start(trigger.job_id)
                message += f" Retrain job {trigger.job_id} started: the threshold is already crossed."
        except SiftError as exc:
            st.error(str(exc))
        else:
            st.session_state[RETRAIN_FLASH] = message
            st.rerun()
    if counts.due:
        st.info(
            f"A retrain is due: {counts.since_champion:,} labels since champion v{counts.champion}"
            + (f"; the next automatic one starts at {counts.next_auto_at:,}." if counts.next_auto_at else ".")
        )
    presets = list(BUDGETS)
    left, right = st.columns([2, 1])
    budget = left.selectbox(
        "Retrain budget",
        presets,
        index=presets.index(DEFAULT_BUDGET) if DEFAULT_BUDGET in presets else 0,
        format_func=lambda name: f"{name}: up to {_limits(BUDGETS[name].trials, BUDGETS[name].timeout)}",
        key="train_retrain_budget",
    )
    needed = minimum_labels(settings)
    blocked = (
        f"Job {active.id} is {active.status} for {dataset}: wait for it or cancel it."
        if active
        else f"A retrain needs at least {needed} labelled predictions ({counts.labelled} so far)."
        if counts.labelled < needed
        else None
    )
    right.write("")  # aligns the button with the select box
    if right.button(
        "Retrain now", key="train_retrain_start", type="primary", disabled=blocked is not None, help=blocked
    ) and access.admin_allowed("Retraining"):
        try:
            with sessions.begin() as session:
                job = submit_retrain(session=session, settings=settings, dataset=dataset, budget=Budget(budget))
            _start(job.id)
        except SiftError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    st.caption(
        f"A retrain trains like Start training, on champion v{counts.champion}'s data plus every labelled prediction, "
        f"except the most recent {settings.retrain_eval_fraction:.0%} of labels (at least "
        f"{settings.retrain_min_eval_rows}), kept out to judge it. The result becomes the challenger and is promoted "
        f"only if none of its macro F1, ROC AUC and balanced accuracy is worse than the champion's by more than "
        f"{settings.retrain_tolerance:g}, on the champion's holdout and, from "
        f"{settings.retrain_min_recent_labels} of them, on those recent labels."
    )
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


with st.container(border=True):
    retrain_section()

if history:
    st.fragment(run_every=REFRESH_SECONDS if active else None)(show_jobs)(active is not None)
