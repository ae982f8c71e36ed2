"""The analyst's actions that may start a retrain in the background, each one call into core.

Retrain now (:func:`start_retrain`), saving the retrain settings (:func:`save_retrain_policy`)
and labelling predictions (:func:`label_prediction_and_retrain`,
:func:`label_predictions_and_retrain`, :func:`import_label_file_and_retrain`) each open and
commit a transaction of their own over :mod:`core.retrain`, and only then start the retrain job
it queued (:func:`core.jobs.runner.start_job`: a job that cannot start is cancelled, the labels
and settings stay saved).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings
from core.db.models import Feedback, Job
from core.feedback import LabelImport, RetrainTrigger, set_retrain_policy
from core.jobs.runner import queue_and_start, start_job
from core.retrain import import_label_file, label_prediction, label_predictions, retrain_if_due, submit_retrain
from core.training.budgets import Budget


def _start_due(settings: Settings, trigger: RetrainTrigger) -> RetrainTrigger:
    """Start the retrain job ``trigger`` queued, its transaction committed (one that cannot start is cancelled)."""
    if trigger.job_id is not None:
        trigger.pid = start_job(settings, trigger.job_id)
    return trigger


def start_retrain(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    budget: Budget | None = None,
    metric: str | None = None,
) -> Job:
    """Retrain the dataset's champion in the background (:func:`submit_retrain`, committed, then started)."""
    return queue_and_start(
        sessions=sessions,
        settings=settings,
        submit=lambda session: submit_retrain(
            session=session, settings=settings, dataset=dataset, budget=budget, metric=metric
        ),
    )


def save_retrain_policy(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    threshold: int | None = None,
    auto: bool | None = None,
) -> RetrainTrigger | None:
    """Set the retrain threshold and/or automatic mode; with ``auto`` on, start the retrain already due.

    Returns :func:`retrain_if_due`'s trigger (its job started) when ``auto`` is true, else None.
    """
    with sessions.begin() as session:
        set_retrain_policy(session=session, settings=settings, dataset=dataset, threshold=threshold, auto=auto)
        trigger = retrain_if_due(session=session, settings=settings, dataset=dataset) if auto else None
    return None if trigger is None else _start_due(settings, trigger)


def label_prediction_and_retrain(
    *, sessions: sessionmaker[Session], settings: Settings, prediction_id: int, label: object, who: str = "app"
) -> tuple[Feedback, RetrainTrigger]:
    """:func:`label_prediction` committed, then the retrain job it queued started (the Predict page)."""
    with sessions.begin() as session:
        feedback, trigger = label_prediction(
            session=session, settings=settings, prediction_id=prediction_id, label=label, who=who
        )
    return feedback, _start_due(settings, trigger)


def label_predictions_and_retrain(
    *, sessions: sessionmaker[Session], settings: Settings, dataset: str, labels: Mapping[int, object], who: str = "app"
) -> LabelImport:
    """:func:`label_predictions` committed, then the retrain job it queued started (the Feedback page's table)."""
    with sessions.begin() as session:
        outcome = label_predictions(session=session, settings=settings, dataset=dataset, labels=labels, who=who)
    _start_due(settings, outcome.retrain)
    return outcome


def import_label_file_and_retrain(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    source: str | Path | pd.DataFrame,
    who: str = "app",
    threshold: int | None = None,
    auto: bool | None = None,
    first_row: int = 1,
) -> LabelImport:
    """:func:`import_label_file` committed, then the retrain job it queued started.

    A ``threshold`` or ``auto`` given with the file (``python -m core feedback``) is set first, in
    the same transaction.
    """
    with sessions.begin() as session:
        if threshold is not None or auto is not None:
            set_retrain_policy(session=session, settings=settings, dataset=dataset, threshold=threshold, auto=auto)
        outcome = import_label_file(
            session=session, settings=settings, dataset=dataset, source=source, who=who, first_row=first_row
        )
    _start_due(settings, outcome.retrain)
    return outcome
