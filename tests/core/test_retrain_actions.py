"""The actions that may start a retrain (core/retrain_actions.py) on a real home: each commits its
labels or settings in one transaction, then starts the retrain job it queued in a real background
process; a job that cannot start ends cancelled and the labels and settings stay saved."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from core.db.models import Feedback, Job
from core.errors import NotEnoughFeedback
from core.feedback import retrain_policy
from core.jobs import queue
from core.retrain_actions import (
    import_label_file_and_retrain,
    label_prediction_and_retrain,
    label_predictions_and_retrain,
    save_retrain_policy,
    start_retrain,
)
from core.training.budgets import Budget
from tests.core.jobs.conftest import block_job_logs, job_count, read_job, wait_until_finished
from tests.core.test_feedback_loop import score_rice


def _labels(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Feedback))


def _stop(sessions, job_id: int) -> Job:
    """Cancel a started job and wait for its process to end it."""
    with sessions.begin() as session:
        queue.cancel_job(session=session, job_id=job_id)
    return wait_until_finished(sessions, job_id)


def _policy(settings, sessions):
    with sessions() as session:
        return retrain_policy(session=session, settings=settings, dataset="rice")


def test_labels_that_cross_the_threshold_start_the_retrain_once_committed(
    trained_settings, trained_sessions, tmp_path
) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=12)
    # automatic mode with nothing due: saved, nothing queued
    trigger = save_retrain_policy(
        sessions=trained_sessions, settings=trained_settings, dataset="rice", threshold=10, auto=True
    )
    assert (trigger.due, trigger.job_id, trigger.pid) == (False, None, None)
    assert "pid" not in trigger.as_dict()
    assert (
        save_retrain_policy(sessions=trained_sessions, settings=trained_settings, dataset="rice", threshold=10) is None
    )

    outcome = import_label_file_and_retrain(
        sessions=trained_sessions, settings=trained_settings, dataset="rice", source=scored.iloc[:10], who="ana"
    )
    assert outcome.accepted == 10 and _labels(trained_sessions) == 10
    started = outcome.retrain
    assert started.job_id is not None and "started automatically" in started.message
    assert started.pid not in (None, os.getpid())
    assert list(outcome.as_dict()["retrain"]) == ["due", "auto", "job_id", "message", "pid"]
    job = read_job(trained_sessions, started.job_id)
    assert (job.kind, job.pid) == ("retrain", started.pid)
    assert _policy(trained_settings, trained_sessions).last_auto_job == started.job_id
    assert _stop(trained_sessions, started.job_id).status == "cancelled"

    # the next label is below the next crossing: saved, nothing started
    given, trigger = label_prediction_and_retrain(
        sessions=trained_sessions,
        settings=trained_settings,
        prediction_id=int(scored["prediction_id"][10]),
        label="Cammeo",
    )
    assert given.label == "Cammeo" and (trigger.job_id, trigger.pid) == (None, None)
    assert _labels(trained_sessions) == 11 and job_count(trained_sessions) == 1


def test_a_retrain_that_cannot_start_ends_cancelled_and_the_labels_stay_saved(
    trained_settings, trained_sessions, tmp_path
) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=30)
    assert (
        save_retrain_policy(
            sessions=trained_sessions, settings=trained_settings, dataset="rice", threshold=10, auto=False
        )
        is None
    )
    block_job_logs(trained_settings)
    outcome = import_label_file_and_retrain(
        sessions=trained_sessions, settings=trained_settings, dataset="rice", source=scored.iloc[:10]
    )
    assert outcome.retrain.due and outcome.retrain.job_id is None  # not automatic: nothing to start

    # automatic mode switched on with a retrain already due: the setting is saved, its job cancelled
    with pytest.raises(OSError):
        save_retrain_policy(sessions=trained_sessions, settings=trained_settings, dataset="rice", auto=True)
    policy = _policy(trained_settings, trained_sessions)
    assert (policy.threshold, policy.auto, policy.last_auto_labels, policy.last_auto_job) == (10, True, 10, 1)
    assert read_job(trained_sessions, 1).status == "cancelled" and job_count(trained_sessions) == 1

    table = dict(zip(scored["prediction_id"][10:19].astype(int), scored["label"][10:19], strict=True))
    below = label_predictions_and_retrain(
        sessions=trained_sessions, settings=trained_settings, dataset="rice", labels=table, who="ana"
    )
    assert below.accepted == 9 and below.retrain.job_id is None and "next one starts at 20" in below.retrain.message

    # the next crossings queue a job each: none can start, every label stays saved
    with pytest.raises(OSError):
        label_prediction_and_retrain(
            sessions=trained_sessions,
            settings=trained_settings,
            prediction_id=int(scored["prediction_id"][19]),
            label=scored["label"][19],
        )
    assert _labels(trained_sessions) == 20
    with pytest.raises(OSError):
        import_label_file_and_retrain(
            sessions=trained_sessions, settings=trained_settings, dataset="rice", source=scored.iloc[20:30]
        )
    assert _labels(trained_sessions) == 30
    assert [read_job(trained_sessions, n).status for n in (1, 2, 3)] == ["cancelled"] * 3
    assert job_count(trained_sessions) == 3 and _policy(trained_settings, trained_sessions).last_auto_job == 3


def test_retrain_now_starts_the_job_or_refuses_and_cancels(trained_settings, trained_sessions, tmp_path) -> None:
    with pytest.raises(NotEnoughFeedback, match="needs at least 10 labelled predictions"):
        start_retrain(sessions=trained_sessions, settings=trained_settings, dataset="rice")
    assert job_count(trained_sessions) == 0
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=10)
    import_label_file_and_retrain(sessions=trained_sessions, settings=trained_settings, dataset="rice", source=scored)

    job = start_retrain(sessions=trained_sessions, settings=trained_settings, dataset="rice", budget=Budget(trials=1))
    assert (job.kind, job.dataset_version, job.parameters["trials"]) == ("retrain", 1, 1)
    assert job.pid not in (None, os.getpid())
    assert _stop(trained_sessions, job.id).status == "cancelled"

    block_job_logs(trained_settings, job.id)
    with pytest.raises(OSError):
        start_retrain(sessions=trained_sessions, settings=trained_settings, dataset="rice")
    assert read_job(trained_sessions, job.id + 1).status == "cancelled" and job_count(trained_sessions) == 2
