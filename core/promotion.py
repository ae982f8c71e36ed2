"""Promotion and rollback of a dataset's model: the ``champion`` alias and its history.

Aliases, not stages: the first registered version becomes ``champion`` and later ones
``challenger`` (see :func:`core.registry.register_model`). Promoting a version moves
``champion`` to it; the old champion keeps no alias, and a promoted challenger loses
``challenger``. Every move is an :class:`~core.db.models.AliasEvent` row in Sift's database.

The first champion is set by training, which does not write history: the functions here record
it lazily (:func:`record_initial`) the first time they meet a model with a champion and no
history, dated when that version was registered. Scoring resolves the alias on every call, so a
promotion is picked up without a restart.
"""

from __future__ import annotations

import getpass
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import registry
from core.champion import load_version
from core.config import Settings
from core.db.models import AliasEvent, utcnow
from core.errors import ModelNotFound, PromotionRefused, SiftError
from core.holdout import SPLIT_FILE, load_holdout, score_holdout
from core.training.evaluate import LOWER_IS_BETTER, METRICS, OLD_SELECTION_METRIC

CHAMPION = registry.CHAMPION
TRAINING = "sift train"  # who set the first champion
MAX_REASON = 2000


def default_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "unknown"


@dataclass
class AliasChange:
    """The outcome of a promotion or rollback."""

    model: str
    action: str
    champion: int
    previous: int | None
    who: str
    reason: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "champion": self.champion,
            "previous": self.previous,
            "reason": self.reason,
            "who": self.who,
            "at": self.at.isoformat(),
        }


def _current_champion(settings: Settings, dataset: str) -> int | None:
    try:
        return registry.alias_version(settings, dataset, CHAMPION)
    except ModelNotFound:
        return None


def _events(session: Session, dataset: str) -> list[AliasEvent]:
    stmt = (
        select(AliasEvent)
        .where(AliasEvent.model_name == dataset, AliasEvent.alias == CHAMPION)
        .order_by(AliasEvent.created_at, AliasEvent.id)
    )
    return list(session.scalars(stmt))


def record_initial(*, session: Session, settings: Settings, dataset: str) -> AliasEvent | None:
    """Record the champion set by training, if the model has one and no history yet.

    Called by the functions of this module; training may also call it right after registering a
    first version (then ``when`` is exact). Returns the new event, or None when nothing was needed.
    """
    if session.scalar(select(AliasEvent.id).where(AliasEvent.model_name == dataset).limit(1)) is not None:
        return None
    champion = _current_champion(settings, dataset)
    if champion is None:
        return None
    info = registry.get_version(settings, dataset, champion)
    event = AliasEvent(
        model_name=dataset,
        alias=CHAMPION,
        action="initial",
        from_version=None,
        to_version=champion,
        who=TRAINING,
        reason="first trained version becomes champion",
        details={"source": "training", "run_id": info.run_id},
        created_at=info.created_at.to_pydatetime() if info.created_at is not None else utcnow(),
    )
    session.add(event)
    session.flush()
    return event


def alias_history(*, session: Session, dataset: str, settings: Settings | None = None) -> list[AliasEvent]:
    """Every recorded alias change of the dataset's model, newest first.

    With ``settings``, the first champion set by training is recorded first if it is missing.
    """
    if settings is not None:
        record_initial(session=session, settings=settings, dataset=dataset)
    stmt = (
        select(AliasEvent)
        .where(AliasEvent.model_name == dataset)
        .order_by(AliasEvent.created_at.desc(), AliasEvent.id.desc())
    )
    return list(session.scalars(stmt))


def history_rows(events: list[AliasEvent]) -> list[dict[str, Any]]:
    """Alias events as plain rows for tables and JSON."""
    return [
        {
            "when": e.created_at,
            "who": e.who,
            "action": e.action,
            "alias": e.alias,
            "from": e.from_version,
            "to": e.to_version,
            "why": e.reason,
        }
        for e in events
    ]


def rollback_target(*, session: Session, settings: Settings, dataset: str) -> int | None:
    """The version a rollback would make champion again, or None if there is no earlier champion.

    The champion history is replayed as a stack: a promotion pushes, a rollback pops; so rolling
    back twice after two promotions goes back to the first champion.
    """
    current = _current_champion(settings, dataset)
    stack: list[int] = []
    for event in _events(session, dataset):
        if event.to_version is None:
            continue
        if event.action == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != event.to_version:
                stack.append(event.to_version)
        else:
            stack.append(event.to_version)
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)  # the alias was moved outside Sift: treat that as a promotion
    earlier = [v for v in stack[:-1] if v != current]
    return earlier[-1] if earlier else None


def _clean_reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    return text[:MAX_REASON]


def _require_version(settings: Settings, dataset: str, version: int) -> registry.ModelVersionInfo:
    try:
        return registry.get_version(settings, dataset, version)
    except ModelNotFound:
        known = sorted(v.version for v in registry.list_versions(settings, dataset))
        if not known:
            raise ModelNotFound(
                f"Dataset {dataset!r} has no model yet. Train one first (python -m core train --dataset {dataset})."
            ) from None
        raise ModelNotFound(
            f"Model {dataset!r} has no version {version}. Its versions are: {', '.join(map(str, known))}."
        ) from None


def _move_champion(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    info: registry.ModelVersionInfo,
    current: int | None,
    action: str,
    who: str | None,
    reason: str | None,
    details: dict[str, Any] | None,
) -> AliasChange:
    who = (who or default_user()).strip()[:128] or "unknown"
    reason = _clean_reason(reason)
    extra = dict(details or {})
    if registry.CHALLENGER in info.aliases:
        extra["challenger_cleared"] = info.version
    event = AliasEvent(
        model_name=dataset,
        alias=CHAMPION,
        action=action,
        from_version=current,
        to_version=info.version,
        who=who,
        reason=reason,
        details=extra or None,
    )
    # the event is written first: if MLflow fails, the caller's transaction rolls it back
    session.add(event)
    session.flush()
    registry.set_alias(settings, dataset, CHAMPION, info.version)
    if registry.CHALLENGER in info.aliases:
        registry.delete_alias(settings, dataset, registry.CHALLENGER)
    return AliasChange(
        model=dataset,
        action=action,
        champion=info.version,
        previous=current,
        who=who,
        reason=reason,
        at=event.created_at,
    )


def promote(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    version: int,
    who: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AliasChange:
    """Make ``version`` the champion and record it. The caller owns the transaction (commits).

    ``who`` defaults to the login name; ``details`` is stored as JSON with the event (e.g. the
    figures behind a retraining decision). Raises ModelNotFound for an unknown version and
    PromotionRefused if it already is the champion.
    """
    info = _require_version(settings, dataset, int(version))
    record_initial(session=session, settings=settings, dataset=dataset)
    current = _current_champion(settings, dataset)
    if current == info.version:
        raise PromotionRefused(
            f"Version {info.version} is already the champion of {dataset!r}. Choose another version "
            f"(python -m core models --dataset {dataset} lists them)."
        )
    return _move_champion(
        session=session,
        settings=settings,
        dataset=dataset,
        info=info,
        current=current,
        action="promote",
        who=who,
        reason=reason,
        details=details,
    )


def rollback(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    who: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AliasChange:
    """Make the previous champion (from the alias history) champion again, and record it.

    Raises PromotionRefused when there is no earlier champion to go back to.
    """
    record_initial(session=session, settings=settings, dataset=dataset)
    current = _current_champion(settings, dataset)
    if current is None:
        _require_version(settings, dataset, 1)  # no model at all: say so
        raise PromotionRefused(f"Model {dataset!r} has no champion to roll back from. Promote a version instead.")
    target = rollback_target(session=session, settings=settings, dataset=dataset)
    if target is None:
        raise PromotionRefused(
            f"Nothing to roll back to: version {current} is the only champion {dataset!r} has had. "
            "Promote another version instead."
        )
    try:
        info = registry.get_version(settings, dataset, target)
    except ModelNotFound:
        raise PromotionRefused(
            f"The previous champion of {dataset!r}, version {target}, no longer exists. Promote a version instead."
        ) from None
    return _move_champion(
        session=session,
        settings=settings,
        dataset=dataset,
        info=info,
        current=current,
        action="rollback",
        who=who,
        reason=reason,
        details=details,
    )


# --- comparing a version with the champion --------------------------------------------------


@dataclass
class Comparison:
    """Holdout metrics of ``version`` beside those of ``champion``, with the difference."""

    model: str
    champion: int
    version: int
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"metric", "champion", "version", "difference"}
    basis: str = ""
    same_holdout: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "champion": self.champion,
            "version": self.version,
            "metrics": self.rows,
            "basis": self.basis,
            "same_holdout": self.same_holdout,
        }


def _split(settings: Settings, info: registry.ModelVersionInfo) -> list[int] | None:
    try:
        return registry.load_document(settings, info.run_id, SPLIT_FILE).get("holdout_row_ids")
    except Exception:  # no split recorded; MLflow raises its own types
        return None


def _rows(a: dict[str, float], b: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for key, label in METRICS.items():
        x, y = a.get(key, math.nan), b.get(key, math.nan)
        rows.append({"metric": label, "champion": x, "version": y, "difference": y - x})
    return rows


def compare(
    *, session: Session, settings: Settings, dataset: str, version: int, against: int | None = None
) -> Comparison:
    """Compare ``version`` with the champion (or ``against``) on the same holdout metrics.

    When both runs recorded the same holdout rows of the same dataset version, their logged
    metrics are compared as they are. Otherwise both models score ``version``'s holdout.
    """
    info = _require_version(settings, dataset, int(version))
    if against is None:
        against = _current_champion(settings, dataset)
        if against is None:
            raise ModelNotFound(f"Model {dataset!r} has no champion to compare with. Promote a version first.")
    base = _require_version(settings, dataset, int(against))
    same_data = registry.trained_on(info) == registry.trained_on(base)
    split_a, split_b = _split(settings, base), _split(settings, info)
    if same_data and split_a is not None and split_a == split_b:
        return Comparison(
            model=dataset,
            champion=base.version,
            version=info.version,
            rows=_rows(base.metrics, info.metrics),
            basis=f"Both versions were evaluated on the same holdout ({len(split_a)} rows): logged metrics.",
        )
    try:
        holdout = load_holdout(session=session, settings=settings, info=info)
        scores = []
        for number in (base.version, info.version):
            scores.append(score_holdout(load_version(settings, dataset, number), holdout))
    except SiftError as exc:
        return Comparison(
            model=dataset,
            champion=base.version,
            version=info.version,
            rows=_rows(base.metrics, info.metrics),
            basis=f"Logged metrics, on different holdouts: they cannot be rescored on one ({exc})",
            same_holdout=False,
        )
    basis = (
        f"Both versions scored on version {info.version}'s holdout ({len(holdout)} rows of {holdout.dataset.label})."
    )
    if same_data and split_a is not None:
        seen = len(set(holdout.row_ids) - set(split_a))
        if seen:
            basis += f" The champion was trained on {seen} of these rows, which favours it."
    elif not same_data:
        basis += " The champion was trained on another dataset version and may have seen some of these rows."
    return Comparison(
        model=dataset, champion=base.version, version=info.version, rows=_rows(scores[0], scores[1]), basis=basis
    )


# --- the promotion decision of a retrain -----------------------------------------------------

JUDGED_METRICS = (OLD_SELECTION_METRIC, "roc_auc", "balanced_accuracy")  # the judged metrics of macro F1


def judged_metrics(metric: str = OLD_SELECTION_METRIC) -> tuple[str, ...]:
    """What a retrain is judged on: the selection metric first, then ROC AUC (how the probabilities rank
    rows), then balanced accuracy when the metric weighs every class equally (macro F1)."""
    guards = ("roc_auc", "balanced_accuracy") if metric == OLD_SELECTION_METRIC else ("roc_auc",)
    return tuple(dict.fromkeys((metric, *guards)))


SLICES = {"holdout": "the champion's holdout", "recent_feedback": "recent feedback"}
NOT_WORSE, WORSE, NOT_JUDGED = "not worse", "worse beyond the tolerance", "not judged"


def _in_a_sentence(metric: str) -> str:
    """A metric's name (:data:`METRICS`) inside a sentence: 'macro F1', 'balanced accuracy', 'ROC AUC'."""
    name = METRICS[metric]
    return name if name.split()[0].isupper() else name[0].lower() + name[1:]


@dataclass
class Decision:
    """Whether a challenger is promoted over the champion, from their metrics on the same rows.

    ``verdicts`` maps each slice to each judged metric's verdict (:data:`NOT_WORSE`,
    :data:`WORSE` or :data:`NOT_JUDGED`); ``notes`` says why a whole slice was not judged (a
    metric undefined on a slice is marked so among the figures).
    """

    promoted: bool
    champion: dict[str, dict[str, float | None]]
    challenger: dict[str, dict[str, float | None]]
    rows: dict[str, int]
    tolerance: float
    min_recent_labels: int
    verdicts: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    metric: str = OLD_SELECTION_METRIC  # the selection metric: the first judged

    @property
    def judged(self) -> tuple[str, ...]:
        return judged_metrics(self.metric)

    @property
    def worse(self) -> dict[str, list[str]]:
        """The metrics on which the challenger is worse beyond the tolerance, by slice."""
        out: dict[str, list[str]] = {}
        for key, verdicts in self.verdicts.items():
            metrics = [m for m, v in verdicts.items() if v == WORSE]
            if metrics:
                out[key] = metrics
        return out

    def _figure(self, key: str, metric: str) -> str:
        a, b = self.champion.get(key, {}).get(metric), self.challenger.get(key, {}).get(metric)
        name = _in_a_sentence(metric)
        if a is None or b is None:
            return f"{name} {_shown(b)} vs {_shown(a)} (undefined: not judged)"
        return f"{name} {b:.4f} vs {a:.4f} ({b - a:+.4f})"

    def _change(self, key: str, metric: str) -> str:
        a, b = self.champion.get(key, {}).get(metric), self.challenger.get(key, {}).get(metric)
        return "n/a" if a is None or b is None else f"{b - a:+.4f}"

    def figures(self) -> str:
        """Every number the decision used: each judged metric of both models on each slice, and the slice sizes."""
        parts = []
        for key, label in SLICES.items():
            unit = "rows" if key == "holdout" else "labels"
            head = f"on {label} ({self.rows.get(key, 0)} {unit})"
            if key in self.notes:
                parts.append(f"{head}: {self.notes[key]}")
            else:
                parts.append(f"{head}: " + ", ".join(self._figure(key, m) for m in self.judged))
        return "Challenger vs champion " + "; ".join(parts) + "."

    def reason(self, *, champion_version: int, challenger_version: int) -> str:
        """The stored reason: the verdict, then every number behind it."""
        if self.promoted:
            head = (
                f"Challenger v{challenger_version} promoted: not worse than champion v{champion_version} beyond the "
                f"tolerance of {self.tolerance:g} on {_any_of([_in_a_sentence(m) for m in self.judged])}."
            )
        else:
            worse = [
                f"{SLICES[key]} in " + " and ".join(f"{_in_a_sentence(m)} ({self._change(key, m)})" for m in metrics)
                for key, metrics in self.worse.items()
            ]
            head = (
                f"Champion v{champion_version} kept: challenger v{challenger_version} is worse beyond the tolerance "
                f"of {self.tolerance:g} on {' and on '.join(worse)}."
            )
        return f"{head} {self.figures()}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "metric": self.metric,
            "judged_metrics": list(self.judged),
            "tolerance": self.tolerance,
            "min_recent_labels": self.min_recent_labels,
            "verdicts": {k: dict(v) for k, v in self.verdicts.items()},
            "notes": dict(self.notes),
        }


def _any_of(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def decide(
    champion: dict[str, dict[str, float | None]],
    challenger: dict[str, dict[str, float | None]],
    *,
    rows: dict[str, int],
    tolerance: float,
    min_recent_labels: int,
    metric: str = OLD_SELECTION_METRIC,
) -> Decision:
    """Promote the challenger only if it is not worse beyond ``tolerance`` on any judged metric of any judged slice.

    Both models were scored on the same rows of each slice (``champion[slice][metric]``). The
    judged metrics (:func:`judged_metrics`) are the selection metric, then ROC AUC, and for macro
    F1 balanced accuracy: a challenger level on the selection metric but ranking (or balancing)
    the classes worse stays challenger. Worse means lower, or higher for a log loss.
    The champion's holdout is always judged; the recent-feedback slice only with at least
    ``min_recent_labels`` labels (fewer are noise: the decision then rests on the holdout). A
    metric undefined for either model on a slice (ROC AUC when a slice holds one class) is not
    judged there.

    Why a tolerance and not a paired significance test: on the small holdouts analysts have,
    such a test rarely calls a real drop significant, so it would let worse challengers through;
    a fixed tolerance keeps the champion unless the evidence says the challenger is not worse.
    """
    verdicts: dict[str, dict[str, str]] = {}
    notes: dict[str, str] = {}
    for key in SLICES:
        size = int(rows.get(key, 0))
        if key == "recent_feedback" and size < min_recent_labels:
            notes[key] = (
                f"too few recent labels to judge ({size} < {min_recent_labels}); the decision rests on the holdout"
            )
            verdicts[key] = dict.fromkeys(judged_metrics(metric), NOT_JUDGED)
            continue
        verdicts[key] = {}
        for judged in judged_metrics(metric):
            a, b = champion.get(key, {}).get(judged), challenger.get(key, {}).get(judged)
            if a is None or b is None:
                verdicts[key][judged] = NOT_JUDGED
            else:
                drop = b - a if judged in LOWER_IS_BETTER else a - b
                verdicts[key][judged] = WORSE if drop > tolerance + 1e-12 else NOT_WORSE
    promoted = not any(v == WORSE for slice_verdicts in verdicts.values() for v in slice_verdicts.values())
    return Decision(
        promoted=promoted,
        champion=champion,
        challenger=challenger,
        rows={k: int(v) for k, v in rows.items()},
        tolerance=tolerance,
        min_recent_labels=min_recent_labels,
        verdicts=verdicts,
        notes=notes,
        metric=metric,
    )
