"""Feedback: the true class of past predictions, as the analyst gives it.

One label per prediction in :class:`~core.db.models.Feedback`; giving another replaces it, and
every change (the first label included) is kept in :class:`~core.db.models.FeedbackHistory`
with who made it, when, and the old and new label. A label must be one of the classes of the
model version that made the prediction: those the ledger recorded with it (the keys of its
``probabilities``, which are that version's input-contract classes).

Many labels at once (:func:`import_labels` for a CSV file of ``prediction_id,label``,
:func:`save_labels` for the table of recent predictions) follow the same rules, checked for all
rows in bulk and written in one statement per table: good rows are kept, every bad one is
reported with its reason, and a rejected row changes nothing.

**Retraining.** :func:`feedback_counts` gives the counters (predictions without a label, labels
gathered since the champion was registered, the dataset's threshold) and :func:`retrain_policy`
the threshold and automatic mode; :func:`core.retrain.retrain_if_due`, run after labels are
recorded, says whether a retrain is due and, when the dataset retrains automatically, queues one
retrain job per crossing of the threshold (recorded here by :func:`record_auto_retrain`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from core import registry
from core.champion import champion_version
from core.config import Settings
from core.datasets.reading import sniff
from core.datasets.versions import get_version
from core.db.models import Feedback, FeedbackHistory, Prediction, RetrainPolicy, utcnow
from core.errors import (
    ColumnError,
    InputFileError,
    InvalidLabel,
    InvalidSetting,
    ModelNotFound,
)
from core.labels import class_text, match_class
from core.scoring.ledger import get_prediction

MAX_WHO = 128


def known_classes(prediction: Prediction) -> list[str]:
    """The classes of the model version that made ``prediction``, in its order (as the ledger writes them)."""
    return list(json.loads(prediction.probabilities))


def normalise_label(label: object, classes: list[str], *, where: str = "the model") -> str:
    """The class ``label`` names, as the ledger writes it (:func:`core.labels.match_class`).

    Case and surrounding or repeated spaces do not matter, and a number names the class it
    equals: ``1``, ``"1"`` and ``1.0`` all name class ``1``.
    """
    return class_text(match_class(label, classes, where=where))


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


# --- many labels at once --------------------------------------------------------------------

ID_COLUMN, LABEL_COLUMN = "prediction_id", "label"
_IN_CHUNK = 500  # ids per IN (...) query
MAX_THRESHOLD = 1_000_000


@dataclass
class RetrainTrigger:
    """Whether labels gathered since the champion make a retrain due, and whether one was queued.

    ``job_id`` is a retrain job queued just now (automatic mode): the caller starts it with
    :func:`core.jobs.runner.start_job` after committing (the calls of :mod:`core.retrain_actions`
    do), and ``pid`` is then its process.
    """

    dataset: str
    due: bool = False
    auto: bool = False
    job_id: int | None = None
    message: str = ""
    pid: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"due": self.due, "auto": self.auto, "job_id": self.job_id, "message": self.message}
        if self.pid is not None:
            out["pid"] = self.pid
        return out


@dataclass
class LabelImport:
    """What became of a set of labels.

    ``reasons`` maps each rejected row to its message: the row's number among a file's data rows
    (the first data row is 1), or the prediction id for the table. Accepted labels were
    ``created`` (a first label), ``replaced`` (another label before) or ``unchanged``.
    """

    accepted: int = 0
    rejected: int = 0
    reasons: dict[str, str] = field(default_factory=dict)
    created: int = 0
    replaced: int = 0
    unchanged: int = 0
    retrain: RetrainTrigger | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "reasons": dict(self.reasons),
            "created": self.created,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
        }
        if self.retrain is not None:
            out["retrain"] = self.retrain.as_dict()
        return out


def _clean_who(who: object) -> str:
    return (" ".join(str(who or "").split()) or "app")[:MAX_WHO]


def _parse_id(value: object) -> int | None:
    text = str(value if value is not None else "").strip()
    try:
        number = int(text)
    except ValueError:
        try:
            decimal = float(text)  # 12.0, as a spreadsheet may write it
        except ValueError:
            return None
        number = int(decimal) if decimal.is_integer() else None
    # a number no database integer holds is no prediction id (the query would fail on it)
    return number if number is not None and -(2**63) <= number < 2**63 else None


def _chunks(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _apply_labels(
    session: Session, *, dataset: str, entries: list[tuple[str, object, object]], who: str
) -> LabelImport:
    """Check ``(key, prediction id, label)`` entries in bulk and store the good ones in one go."""
    outcome = LabelImport()
    reasons: dict[str, str] = {}
    wanted: dict[int, tuple[str, object]] = {}
    for key, raw_id, raw_label in entries:
        number = _parse_id(raw_id)
        if number is None:
            shown = str(raw_id if raw_id is not None else "").strip()
            reasons[key] = (
                f"{shown!r} is not a prediction id: give the whole number of the prediction_id column."
                if shown
                else "The prediction_id is empty: give the whole number of the prediction_id column."
            )
        elif number in wanted:
            reasons[key] = (
                f"Prediction {number} is labelled twice (also at {wanted[number][0]}): give one label per "
                "prediction; the first one was used."
            )
        else:
            wanted[number] = (key, raw_label)

    found: dict[int, Any] = {}
    existing: dict[int, Any] = {}
    for chunk in _chunks(list(wanted)):
        stmt = select(Prediction.id, Prediction.dataset, Prediction.model_name, Prediction.model_version)
        found.update((row.id, row) for row in session.execute(stmt.where(Prediction.id.in_(chunk))))
        stmt = select(Feedback.id, Feedback.prediction_id, Feedback.label).where(Feedback.prediction_id.in_(chunk))
        existing.update((row.prediction_id, row) for row in session.execute(stmt))

    classes: dict[tuple[str, int], list[str]] = {}
    matched: dict[tuple[str, int, str], str | InvalidLabel] = {}
    now, who = utcnow(), _clean_who(who)
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for number, (key, raw_label) in wanted.items():
        row = found.get(number)
        if row is None:
            reasons[key] = (
                f"No prediction {number} in the ledger. Use the prediction_id of a scored row "
                "(the Predict page shows it, scored files have it in a column)."
            )
            continue
        if row.dataset != dataset:
            reasons[key] = f"Prediction {number} was made for dataset {row.dataset!r}, not {dataset!r}: label it there."
            continue
        model = (row.model_name, row.model_version)
        if model not in classes:
            stored = session.scalar(select(Prediction.probabilities).where(Prediction.id == number))
            classes[model] = list(json.loads(stored))
        lookup = (*model, str(raw_label))
        if lookup not in matched:
            try:
                matched[lookup] = normalise_label(raw_label, classes[model], where=f"model {model[0]} v{model[1]}")
            except InvalidLabel as exc:
                matched[lookup] = exc
        label = matched[lookup]
        if isinstance(label, InvalidLabel):
            reasons[key] = f"Prediction {number}: {label}"
            continue
        current = existing.get(number)
        if current is None:
            new.append({"prediction_id": number, "label": label, "who": who, "created_at": now, "updated_at": now})
            outcome.created += 1
        elif current.label == label:
            outcome.unchanged += 1
            continue
        else:
            changed.append({"id": current.id, "label": label, "who": who, "updated_at": now})
            outcome.replaced += 1
        old = None if current is None else current.label
        history.append({"prediction_id": number, "old_label": old, "new_label": label, "who": who, "created_at": now})

    if new:
        session.execute(insert(Feedback), new)
    if changed:
        session.execute(update(Feedback), changed)
        for obj in list(session.identity_map.values()):  # bulk updates do not refresh loaded objects
            if isinstance(obj, Feedback):
                session.expire(obj)
    if history:
        session.execute(insert(FeedbackHistory), history)
    order = {key: i for i, (key, _, _) in enumerate(entries)}
    outcome.reasons = dict(sorted(reasons.items(), key=lambda item: order.get(item[0], len(order))))
    outcome.rejected = len(outcome.reasons)
    outcome.accepted = outcome.created + outcome.replaced + outcome.unchanged
    return outcome


def read_labels(path: str | Path) -> list[tuple[str, object, object]]:
    """The ``(row number, prediction_id, label)`` of a CSV file; other columns are ignored.

    Column names match whatever their case and surrounding spaces, so a scored file with a
    ``label`` column added can be imported as it is.
    """
    path = Path(path)
    fmt = sniff(path)
    columns = {" ".join(n.split()).casefold(): n for n in fmt.names}
    missing = [c for c in (ID_COLUMN, LABEL_COLUMN) if c not in columns]
    if missing:
        raise ColumnError(
            f"{path.name} has no {' and no '.join(missing)} column (its columns: {', '.join(map(repr, fmt.names))}). "
            f"Give one row per prediction with the columns {ID_COLUMN} and {LABEL_COLUMN}."
        )
    id_name, label_name = columns[ID_COLUMN], columns[LABEL_COLUMN]
    try:
        frame = pd.read_csv(
            path,
            sep=fmt.delimiter,
            encoding=fmt.encoding,
            header=0,
            names=fmt.names,
            index_col=False,
            usecols=[id_name, label_name],
            dtype=str,
            keep_default_na=False,
        )
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise InputFileError(
            f"{path.name} could not be read as CSV ({exc}). Save it as 'CSV UTF-8' and try again."
        ) from exc
    if frame.empty:
        raise InputFileError(f"{path.name} has a header but no rows. Add one row per labelled prediction.")
    pairs = zip(frame[id_name].tolist(), frame[label_name].tolist(), strict=True)
    return [(f"row {i}", pid, label) for i, (pid, label) in enumerate(pairs, start=1)]


def import_labels(
    *,
    session: Session,
    dataset: str,
    source: str | Path | pd.DataFrame,
    who: str = "app",
    first_row: int = 1,
) -> LabelImport:
    """Label many predictions of ``dataset`` from a CSV file (or a frame) of ``prediction_id,label``.

    Every row is checked as :func:`record_label` would (known prediction of this dataset, a
    class of the model that made it), in bulk; the good rows are stored in one go, the others
    reported by row (a frame's rows numbered from ``first_row``: the API counts from 0).
    :func:`core.retrain.import_label_file` also says whether a retrain is due. The caller owns the
    transaction.
    """
    if isinstance(source, pd.DataFrame):
        columns = {" ".join(str(n).split()).casefold(): n for n in source.columns}
        if ID_COLUMN not in columns or LABEL_COLUMN not in columns:
            raise ColumnError(f"Give the columns {ID_COLUMN} and {LABEL_COLUMN}.")
        pairs = zip(source[columns[ID_COLUMN]].tolist(), source[columns[LABEL_COLUMN]].tolist(), strict=True)
        entries = [(f"row {i}", pid, label) for i, (pid, label) in enumerate(pairs, start=first_row)]
    else:
        entries = read_labels(source)
    return _apply_labels(session, dataset=dataset, entries=entries, who=who)


def save_labels(
    *,
    session: Session,
    dataset: str,
    labels: Mapping[int, object],
    who: str = "app",
) -> LabelImport:
    """Store the labels edited in the table of recent predictions (prediction id -> label).

    The same rules and outcome as :func:`import_labels`; reasons are keyed ``prediction N``.
    """
    entries = [(f"prediction {pid}", pid, label) for pid, label in labels.items()]
    return _apply_labels(session, dataset=dataset, entries=entries, who=who)


# --- the classes to label with ------------------------------------------------------------------------


def dataset_classes(*, session: Session, dataset: str) -> list[str]:
    """The classes the dataset's recent model versions predict, in their order (for label choices)."""
    versions = session.execute(
        select(Prediction.model_version, func.max(Prediction.id))
        .where(Prediction.dataset == dataset)
        .group_by(Prediction.model_version)
        .order_by(Prediction.model_version.desc())
    ).all()
    out: list[str] = []
    for _, last in versions:
        stored = session.scalar(select(Prediction.probabilities).where(Prediction.id == last))
        out += [c for c in json.loads(stored) if c not in out]
    return out


# --- counters and the retrain trigger --------------------------------------------------------------

_registered: dict[tuple[str, str, int], datetime] = {}


def champion_registered_at(settings: Settings, dataset: str, version: int) -> datetime:
    """When a model version was registered (versions never change, so it is kept once read)."""
    key = (settings.tracking_uri, dataset, int(version))
    if key not in _registered:
        info = registry.get_version(settings, dataset, version)
        created = info.created_at.to_pydatetime() if info.created_at is not None else utcnow()
        _registered[key] = created
    return _registered[key]


@dataclass
class FeedbackCounts:
    """The counters shown wherever labels matter."""

    dataset: str
    predictions: int
    labelled: int
    since_champion: int | None  # None: no champion yet
    champion: int | None
    champion_registered: datetime | None
    threshold: int
    auto: bool
    next_auto_at: int | None = None  # automatic mode after a start: labels at which the next one starts

    @property
    def pending(self) -> int:
        """Predictions without a label."""
        return max(0, self.predictions - self.labelled)

    @property
    def due(self) -> bool:
        return self.since_champion is not None and self.since_champion >= self.threshold

    @property
    def gathered_text(self) -> str | None:
        """'46 labels since champion v1 (threshold 30)' (None without a champion)."""
        if self.since_champion is None:
            return None
        return f"{self.since_champion:,} labels since champion v{self.champion} (threshold {self.threshold:,})"

    @property
    def threshold_text(self) -> str | None:
        """Labels since the champion against the threshold, in words (None without a champion):
        '12 of 30 labels since champion v1' below it, '46 labels since champion v1 (threshold 30): a retrain
        is due' once reached, never '46 of 30'."""
        if self.since_champion is None:
            return None
        if self.due:
            return f"{self.gathered_text}: a retrain is due"
        return f"{self.since_champion:,} of {self.threshold:,} labels since champion v{self.champion}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "predictions": self.predictions,
            "labelled": self.labelled,
            "pending": self.pending,
            "since_champion": self.since_champion,
            "champion": self.champion,
            "champion_registered": None if self.champion_registered is None else self.champion_registered.isoformat(),
            "threshold": self.threshold,
            "auto": self.auto,
            "due": self.due,
            "next_auto_at": self.next_auto_at,
        }


def retrain_policy(*, session: Session, settings: Settings, dataset: str) -> RetrainPolicy:
    """The dataset's retrain policy; the defaults of the settings (not stored) when it has none."""
    found = session.get(RetrainPolicy, dataset)
    if found is not None:
        return found
    return RetrainPolicy(dataset=dataset, threshold=settings.retrain_threshold, auto=False)


def set_retrain_policy(
    *, session: Session, settings: Settings, dataset: str, threshold: int | None = None, auto: bool | None = None
) -> RetrainPolicy:
    """Set the dataset's retrain threshold (labels since the champion) and/or automatic mode."""
    get_version(session=session, name=dataset)  # an unknown dataset is refused, naming the known ones
    if threshold is not None:
        try:
            number = int(threshold)
        except (TypeError, ValueError):
            number = 0
        if number != threshold or not 1 <= number <= MAX_THRESHOLD:
            raise InvalidSetting(
                f"The retrain threshold must be a whole number of labels from 1 to {MAX_THRESHOLD:,} "
                f"(got {threshold!r})."
            )
    policy = session.get(RetrainPolicy, dataset)
    if policy is None:
        policy = RetrainPolicy(dataset=dataset, threshold=settings.retrain_threshold, auto=False)
        session.add(policy)
    if threshold is not None:
        policy.threshold = int(threshold)
    if auto is not None:
        policy.auto = bool(auto)
    policy.updated_at = utcnow()
    session.flush()
    return policy


def _next_auto_at(policy: RetrainPolicy, champion: int | None) -> int | None:
    if not policy.auto or policy.last_auto_labels is None or policy.last_auto_champion != champion:
        return None
    return policy.last_auto_labels + policy.threshold


def feedback_counts(*, session: Session, settings: Settings, dataset: str) -> FeedbackCounts:
    """Predictions without a label, labels since the champion was registered, and the threshold."""
    predictions = session.scalar(select(func.count()).select_from(Prediction).where(Prediction.dataset == dataset))
    try:
        champion: int | None = champion_version(settings, dataset, session=session)
        since = champion_registered_at(settings, dataset, champion)
    except ModelNotFound:
        champion, since = None, None
    newer = case((Feedback.created_at > since, 1), else_=0) if since is not None else None
    columns = [func.count(Feedback.id)] + ([func.sum(newer)] if newer is not None else [])
    counted = session.execute(
        select(*columns)
        .select_from(Feedback)
        .join(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.dataset == dataset)
    ).one()
    policy = retrain_policy(session=session, settings=settings, dataset=dataset)
    return FeedbackCounts(
        dataset=dataset,
        predictions=int(predictions or 0),
        labelled=int(counted[0] or 0),
        since_champion=int(counted[1] or 0) if since is not None else None,
        champion=champion,
        champion_registered=since,
        threshold=policy.threshold,
        auto=bool(policy.auto),
        next_auto_at=_next_auto_at(policy, champion),
    )


def record_auto_retrain(*, session: Session, counts: FeedbackCounts, job_id: int) -> None:
    """Record a crossing of the threshold on the dataset's policy: the labels since the champion, that
    champion and the retrain job queued for it (see :func:`core.retrain.retrain_if_due`)."""
    policy = session.get(RetrainPolicy, counts.dataset)
    if policy is None:
        policy = RetrainPolicy(dataset=counts.dataset, threshold=counts.threshold, auto=True)
        session.add(policy)
    policy.last_auto_labels, policy.last_auto_champion, policy.last_auto_job = (
        counts.since_champion,
        counts.champion,
        job_id,
    )
    session.flush()


# --- labelled rows for retraining ----------------------------------------------------------------


@dataclass
class LabelledRows:
    """Labelled predictions of a dataset, oldest label first: their inputs and true class."""

    ids: list[int]
    labelled_at: list[datetime]
    inputs: list[str]  # JSON text as the ledger holds it
    labels: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def labelled_rows(*, session: Session, dataset: str) -> LabelledRows:
    """Every labelled prediction of ``dataset``, ordered by when it was first labelled."""
    rows = session.execute(
        select(Prediction.id, Feedback.created_at, Prediction.inputs, Feedback.label)
        .join(Feedback, Feedback.prediction_id == Prediction.id)
        .where(Prediction.dataset == dataset)
        .order_by(Feedback.created_at, Feedback.id)
    ).all()
    if not rows:
        return LabelledRows([], [], [], [])
    ids, moments, inputs, labels = map(list, zip(*rows, strict=True))
    return LabelledRows(ids, moments, inputs, labels)
