"""What the service's answers and the store behind it must show: an error body, the ledger rows of
the ids a client received, and a snapshot of the store to compare before and after a bad request."""

from __future__ import annotations

from collections.abc import Iterable

import httpx
from sqlalchemy import func, select

from core.db.models import Counter, Feedback, FeedbackHistory, Prediction, Rejection
from tests.api.conftest import Service


def error_of(response: httpx.Response, status: int) -> str:
    """The message of an error answer: ``status``, a JSON body with only ``error``, no traceback."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert "Traceback" not in response.text
    body = response.json()
    assert list(body) == ["error"], body
    assert isinstance(body["error"], str) and body["error"]
    return body["error"]


def ledger(service: Service, ids: Iterable[int]) -> dict[int, Prediction]:
    """The ledger rows of ``ids`` (those that exist), by id."""
    wanted = sorted(set(ids))
    with service.sessions()() as session:
        rows = session.scalars(select(Prediction).where(Prediction.id.in_(wanted))).all()
        session.expunge_all()
    return {row.id: row for row in rows}


def store_state(service: Service) -> dict[str, object]:
    """What a bad request must leave as it was: predictions, rows refused, the id counters, labels and their history."""
    with service.sessions()() as session:
        return {
            "predictions": session.scalar(select(func.count()).select_from(Prediction)),
            "last_prediction": session.scalar(select(func.max(Prediction.id))),
            "rejections": session.scalar(select(func.count()).select_from(Rejection)),
            "counters": sorted(session.execute(select(Counter.name, Counter.value)).all()),
            "labels": session.scalar(select(func.count()).select_from(Feedback)),
            "label_history": session.scalar(select(func.count()).select_from(FeedbackHistory)),
        }
