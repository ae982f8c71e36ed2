"""Eight analysts at once on one SQLite home: single predictions and labels from separate processes.

Each process makes the Predict page's calls (score a row, then label it); nothing may fail and no
row may be lost or given twice. The rows are scored without their explanation: it is CPU work that
takes no lock, and without it the writes come faster, which is the harder case for the database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db.engine import counter_value
from core.db.models import Feedback, FeedbackHistory, Prediction
from tests.faults.client import run_clients

PROCESSES, PREDICTIONS, LABELS = 8, 200, 100


def _counts(sessions) -> tuple[int, int, int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Prediction)),
            session.scalar(select(func.count()).select_from(Feedback)),
            session.scalar(select(func.count()).select_from(FeedbackHistory)),
            counter_value(session, "prediction"),
        )


@pytest.mark.slow
def test_eight_processes_predict_and_label_without_errors_or_lost_rows(trained_settings, trained_sessions) -> None:
    predictions, feedback, history, counter = _counts(trained_sessions)
    results, seconds = run_clients(trained_settings.home, "rice", PROCESSES, PREDICTIONS, LABELS)

    ids = [i for r in results for i in r["ids"]]
    labelled = [i for r in results for i in r["labelled"]]
    assert len(ids) == PROCESSES * PREDICTIONS == len(set(ids))
    assert len(labelled) == PROCESSES * LABELS == len(set(labelled))
    assert all(set(r["labelled"]) <= set(r["ids"]) for r in results)  # each labelled its own predictions
    new = PROCESSES * PREDICTIONS
    assert _counts(trained_sessions) == (
        predictions + new,
        feedback + len(labelled),
        history + len(labelled),
        counter + new,
    )
    with trained_sessions() as session:
        stored = set(session.scalars(select(Prediction.id).where(Prediction.source == "form")))
        labels = set(session.scalars(select(Feedback.prediction_id)))
    assert set(ids) <= stored and set(labelled) <= labels
    assert max(ids) == counter + new  # ids came from the counter, none skipped or reused
    print(
        f"\n{PROCESSES} processes: {new} predictions and {len(labelled)} labels in {seconds:.1f} s, "
        f"{new / seconds:.0f} predictions/s (no explanations)"
    )
