"""Train: tune and register a model for a dataset version, as a background job.

The job runs in a process of its own and writes its progress to the database, so this page only
reads it: leave the page, reload the browser or open it in another tab, and the progress panel
finds the dataset's job again.
"""

from __future__ import annotations

import streamlit as st

from app import resources
from app.ui import access
from app.ui import format as fmt
from app.ui import training as ui
from core.datasets.versions import list_versions
from core.errors import SiftError
from core.feedback import feedback_counts
from core.jobs import queue, runner
from core.retrain import minimum_labels, retrain_decisions
from core.retrain_actions import save_retrain_policy, start_retrain
from core.training.budgets import BUDGETS, DEFAULT_BUDGET, Budget
from core.training.evaluate import METRICS
from core.training.report import load_report
from core.training.selection import SELECTION_METRICS

CUSTOM = "custom"
REFRESH_SECONDS = 2
HISTORY = 50
RETRAIN_FLASH = "train_retrain_flash"


def _resume_button(job: queue.Job) -> None:
    resume = st.button("Resume", key=f"train_resume_{job.id}", type="primary", help="Continue the same tuning study.")
    if resume and (job.kind != "retrain" or access.admin_allowed("Resuming a retrain")):
        try:
            runner.resume_in_background(sessions=sessions, settings=settings, job_id=job.id)
        except SiftError as exc:
            st.error(str(exc))
        else:
            st.rerun()


def _show_report(job: queue.Job) -> bool:
    """The registered version's training report (its tuning chart included); False if there is none."""
    try:
        report = load_report(settings, job.dataset, (job.result or {}).get("version"))
    except SiftError as exc:
        st.info(f"No training report to show: {exc}")
        return False
    ui.show_report(report, key=f"train_report_{job.id}")
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
    job = next((j for j in found if j.status in queue.JOB_ACTIVE), found[0])
    if was_active and job.status not in queue.JOB_ACTIVE:
        st.rerun()  # it just ended: refresh the whole page (the Start button, the retrain counters)
    aliases = queue.current_aliases(settings, dataset)
    with st.container(border=True):
        show_job(job, queue.job_progress(job, aliases=aliases))
    st.subheader("Past jobs")
    st.dataframe(
        ui.history_frame([(j, queue.job_progress(j, aliases=aliases)) for j in found]),
        hide_index=True,
        column_config={f"best {ui.SCORE}": fmt.metric_column()},
    )


def show_job(job: queue.Job, progress: queue.JobProgress) -> None:
    """The job's live panel: progress while it runs, its outcome once it ended."""
    ui.job_heading(job)
    if job.status in queue.JOB_ACTIVE:
        ui.job_running(job, progress)
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
    else:
        ui.job_outcome(job, progress)
        if job.status in ("failed", "interrupted"):
            _resume_button(job)

    reported = job.status == "done" and _show_report(job)
    if not reported and any(v is not None for v in progress.values):
        st.plotly_chart(ui.trial_chart(progress.values), key=f"train_chart_{job.id}")


st.title("Train")
dataset = resources.require_dataset()
settings = resources.settings()
sessions = resources.sessions()

with sessions() as session:
    numbers = [v.version for v in list_versions(session=session, name=dataset)]
    history = queue.list_jobs(session=session, dataset=dataset, limit=HISTORY)
active = next((job for job in history if job.status in queue.JOB_ACTIVE), None)

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
        captions=[ui.budget_caption(name) for name in presets] + ["Set trials and/or a time limit yourself."],
        horizontal=True,
        key="train_budget",
        help=(
            "Every budget cross-validates the three baselines, tunes XGBoost, calibrates each candidate's "
            "probabilities where that helps, and tries an ensemble of them. The budget bounds the XGBoost search: "
            "each trial cross-validates one set of its parameters, and the search stops at the trials or the time, "
            "whichever comes first. Bigger budgets help most on larger tables."
        ),
    )
    trials = seconds = None
    if budget == CUSTOM:
        left, right = st.columns(2)
        trials = left.number_input("Trials", min_value=1, value=None, step=1, key="train_trials")
        seconds = right.number_input("Time limit (seconds)", min_value=1, value=None, step=30, key="train_seconds")
        st.caption("Tuning stops at whichever limit comes first.")
    chosen = ui.metric_picker(sessions, dataset, version)
    blocked = f"Job {active.id} is {active.status} for {dataset}: wait for it or cancel it." if active else None
    if st.button("Start training", type="primary", key="train_start", disabled=active is not None, help=blocked):
        if budget == CUSTOM and trials is None and seconds is None:
            st.error("Give a number of trials, a time limit, or both.")
        else:
            try:
                runner.start_training(
                    sessions=sessions,
                    settings=settings,
                    dataset=dataset,
                    dataset_version=version,
                    budget=Budget(None if budget == CUSTOM else budget, trials=trials, timeout=seconds),
                    metric=chosen,
                )
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
    ui.retrain_counts(counts)
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
            trigger = save_retrain_policy(
                sessions=sessions, settings=settings, dataset=dataset, threshold=int(threshold), auto=auto
            )
            message = f"Saved: a retrain is due at {int(threshold):,} labels since the champion" + (
                ", and starts by itself." if auto else "."
            )
            if trigger is not None and trigger.job_id is not None:
                message += f" Retrain job {trigger.job_id} started: the threshold is already crossed."
        except SiftError as exc:
            st.error(str(exc))
        else:
            st.session_state[RETRAIN_FLASH] = message
            st.rerun()
    ui.retrain_due(counts)
    presets = list(BUDGETS)
    left, middle, right = st.columns([2, 2, 1])
    budget = left.selectbox(
        "Retrain budget",
        presets,
        index=presets.index(DEFAULT_BUDGET) if DEFAULT_BUDGET in presets else 0,
        format_func=lambda name: f"{name}: up to {ui.limits(BUDGETS[name].trials, BUDGETS[name].timeout)}",
        key="train_retrain_budget",
    )
    metric = middle.selectbox(
        "Retrain metric",
        [None, *SELECTION_METRICS],
        format_func=lambda m: "the champion's" if m is None else METRICS[m],
        key="train_retrain_metric",
        help="It picks the challenger and leads the promotion gate; by default the metric the champion was chosen on.",
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
            start_retrain(sessions=sessions, settings=settings, dataset=dataset, budget=Budget(budget), metric=metric)
        except SiftError as exc:
            st.error(str(exc))
        else:
            st.rerun()
    st.caption(ui.retrain_rule(settings, counts.champion))
    ui.show_decisions(decisions)


with st.container(border=True):
    retrain_section()

if history:
    st.fragment(run_every=REFRESH_SECONDS if active else None)(show_jobs)(active is not None)
