"""Feedback: the true class of past predictions, as the analyst gives it.

One label per prediction in :class:`~core.db.models.Feedback`; giving another replaces it, and
every change (the first label included) is kept in :class:`~core.db.models.FeedbackHistory`
with who made it, when, and the old and new label. A label must be one of the classes of the
model version that made the prediction: those the ledger recorded with it (the keys of its
``probabilities``, which are that version's input-contract classes).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Feedback, FeedbackHistory, Prediction, utcnow
from core.errors import InvalidLabel, PredictionNotFound

MAX_WHO = 128


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def known_classes(prediction: Prediction) -> list[str]:
    """The classes of the model version that made ``prediction``, in its order."""
    return list(json.loads(prediction.probabilities))


def normalise_label(label: object, classes: list[str], *, where: str = "the model") -> str:
    """The class ``label`` names, matched whatever its case and surrounding or repeated spaces."""
    text = " ".join(str(label if label is not None else "").split())
    listed = ", ".join(map(repr, classes))
    if not text:
        raise InvalidLabel(f"The label is empty. Give one of the classes of {where}: {listed}.")
    if text in classes:
        return text
    matches = [c for c in classes if _key(c) == _key(text)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidLabel(
            f"{text!r} matches several classes of {where} ({', '.join(map(repr, matches))}): give it exactly."
        )
    raise InvalidLabel(
        f"{text!r} is not a class of {where}; its classes are {listed}. To teach the model a new class, add "
        "labelled rows with it to a new version of the dataset and retrain."
    )


def get_prediction(session: Session, prediction_id: object) -> Prediction:
    try:
        number = int(str(prediction_id).strip())
    except ValueError:
        number = None
    found = session.get(Prediction, number) if number is not None else None
    if found is None:
        raise PredictionNotFound(
            f"No prediction {prediction_id!r} in the ledger. Use the prediction_id of a scored row "
            "(the Predict page shows it, scored files have it in a column)."
        )
    return found


def label_of(*, session: Session, prediction_id: int) -> Feedback | None:
    """The label given to a prediction, if any."""
    return session.scalar(select(Feedback).where(Feedback.prediction_id == int(prediction_id)))


def label_history(*, session: Session, prediction_id: int) -> list[FeedbackHistory]:
    """Every label given to a prediction, oldest first."""
    stmt = (
        select(FeedbackHistory)
        .where(FeedbackHistory.prediction_id == int(prediction_id))
        .order_by(FeedbackHistory.created_at, FeedbackHistory.id)
    )
    return list(session.scalars(stmt))


def record_label(*, session: Session, prediction_id: int, label: object, who: str = "app") -> Feedback:
    """Give ``prediction_id`` its true class; a second label replaces the first, keeping the history.

    The label is matched to one of the model version's classes (case and spaces do not matter);
    a class the model does not know is refused, as is an unknown prediction: nothing is written
    then. The caller owns the transaction.
    """
    prediction = get_prediction(session, prediction_id)
    where = f"model {prediction.model_name} v{prediction.model_version}"
    label = normalise_label(label, known_classes(prediction), where=where)
    who = (" ".join(str(who or "").split()) or "app")[:MAX_WHO]
    now = utcnow()
    feedback = label_of(session=session, prediction_id=prediction.id)
    if feedback is not None and feedback.label == label:
        return feedback
    old = feedback.label if feedback is not None else None
    if feedback is None:
        feedback = Feedback(prediction_id=prediction.id, label=label, who=who, created_at=now, updated_at=now)
        session.add(feedback)
    else:
        feedback.label, feedback.who, feedback.updated_at = label, who, now
    session.add(FeedbackHistory(prediction_id=prediction.id, old_label=old, new_label=label, who=who, created_at=now))
    session.flush()
    return feedback
