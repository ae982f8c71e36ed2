"""Retraining: the champion's training data plus the labelled feedback, judged against the champion.

A use case over feedback, training, the frozen holdout and promotion. Labels recorded through
:func:`label_prediction`, :func:`label_predictions` or :func:`import_label_file` are followed by
:func:`retrain_if_due`, which queues a retrain job when the dataset retrains automatically and its
threshold is crossed (:mod:`core.feedback` holds the counters and the policy).

A retrain trains exactly as :func:`core.training.train.train` does (same candidates, same
tuning), on the rows of the champion's dataset version plus every labelled prediction of the
dataset, except the most recent labels: those (``retrain_eval_fraction`` of them, at least
``retrain_min_eval_rows``) are never trained on. The holdout is the champion's own frozen
holdout (its ``split.json``), and feedback rows that repeat a holdout row are left out of
training so the holdout stays unseen. Labels are matched to the champion's classes by
:func:`core.labels.as_classes`, so integer, boolean and text classes alike keep their type.

Both models are scored on (a) the champion's holdout and (b) the recent feedback slice, and
:func:`core.promotion.decide` judges them: the challenger is promoted only if it is not worse
beyond ``retrain_tolerance`` on macro F1, ROC AUC or balanced accuracy, on the holdout and, when
it holds at least ``retrain_min_recent_labels`` labels, on recent feedback. The decision, both
models' metrics on both slices and a reason naming every number are stored in the alias
history: a promotion through :func:`core.promotion.promote` (``who="retrain"``), a kept
champion as an event of action ``not promoted`` on the ``challenger`` alias.

Nothing is registered until the challenger has been judged: the judging runs on the fitted
pipeline before training registers it, so a retrain that fails at any step (fitting, scoring
either slice, deciding) or is cancelled leaves the registry, the aliases, their history and
scoring as they were.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import promotion, registry
from core.champion import load_version
from core.config import Settings
from core.db.models import AliasEvent, Feedback, Job, Prediction
from core.errors import InvalidLabel, ModelNotFound, NotEnoughFeedback, SiftError
from core.features import coerce_inputs
from core.feedback import (
    LabelImport,
    RetrainTrigger,
    feedback_counts,
    import_labels,
    labelled_rows,
    record_auto_retrain,
    record_label,
    retrain_policy,
    save_labels,
)
from core.holdout import load_holdout
from core.holdout import score_slice as slice_metrics
from core.jobs.queue import submit_training
from core.labels import class_dtype, match_class, plain
from core.promotion import JUDGED_METRICS, SLICES, Decision, promote, record_initial
from core.training.budgets import Budget
from core.training.evaluate import METRICS, OLD_SELECTION_METRIC
from core.training.progress import Progress
from core.training.train import train

RETRAIN = "retrain"  # the job kind, and who promotes in the alias history
NOT_PROMOTED = "not promoted"
STAGE_FEEDBACK = "reading feedback"
STAGE_COMPARING = "comparing with the champion"
ACCURACY_NOTE = "shown, not judged"


def minimum_labels(settings: Settings) -> int:
    """Fewest usable labelled predictions a retrain needs: as many to learn from as to judge with."""
    return 2 * settings.retrain_min_eval_rows


def _champion(settings: Settings, dataset: str) -> registry.ModelVersionInfo:
    try:
        version = registry.alias_version(settings, dataset)
    except ModelNotFound:
        raise ModelNotFound(
            f"Dataset {dataset!r} has no champion to retrain. Train one first "
            f"(the Train page, or python -m core train --dataset {dataset})."
        ) from None
    return registry.get_version(settings, dataset, version)


def _dataset_version_number(info: registry.ModelVersionInfo) -> int:
    number = registry.trained_on(info)[1]
    if number is None:
        raise ModelNotFound(
            f"Champion v{info.version} of {info.name!r} does not record the dataset version it was trained on, so it "
            "cannot be retrained. Train a new model on the Train page."
        )
    return int(number)


def submit_retrain(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    budget: Budget | None = None,
    metric: str | None = None,
) -> Job:
    """Queue a retrain job of the dataset's champion (:func:`core.retrain_actions.start_retrain` also starts it).

    Refused when the dataset has no champion, too few labelled predictions, or another job.
    """
    info = _champion(settings, dataset)
    labelled = session.scalar(
        select(func.count(Feedback.id))
        .join(Prediction, Prediction.id == Feedback.prediction_id)
        .where(Prediction.dataset == dataset)
    )
    needed = minimum_labels(settings)
    if (labelled or 0) < needed:
        raise NotEnoughFeedback(
            f"Retraining {dataset} needs at least {needed} labelled predictions, half to learn from and half to judge "
            f"the result with; it has {labelled or 0}. Label more on the Feedback page."
        )
    return submit_training(
        session=session,
        dataset=dataset,
        dataset_version=_dataset_version_number(info),
        budget=budget,
        metric=metric,
        kind=RETRAIN,
    )


# --- labels recorded: a retrain due, queued in automatic mode ---------------------------------------


def retrain_if_due(*, session: Session, settings: Settings, dataset: str) -> RetrainTrigger:
    """Whether a retrain is due; in automatic mode, queue one retrain job per crossing of the threshold.

    A crossing is recorded on the policy (the labels since the champion, and that champion),
    so later labels start nothing until ``threshold`` more have gathered, or a new champion
    starts the count again. The one-job-per-dataset rule of :mod:`core.jobs.queue` holds: while a
    job runs, nothing is queued and the crossing is not recorded (the next label tries again).
    The caller owns the transaction and starts ``job_id`` after committing (:mod:`core.retrain_actions`).
    """
    counts = feedback_counts(session=session, settings=settings, dataset=dataset)
    trigger = RetrainTrigger(dataset=dataset, due=counts.due, auto=counts.auto)
    if not counts.due:
        return trigger
    gathered = counts.gathered_text
    if not counts.auto:
        trigger.message = (
            f"{gathered}: a retrain is due. Start it on the Train page or with "
            f"`python -m core retrain --dataset {dataset}`."
        )
        return trigger
    if counts.next_auto_at is not None and counts.since_champion < counts.next_auto_at:
        policy = retrain_policy(session=session, settings=settings, dataset=dataset)
        trigger.message = (
            f"{gathered}: a retrain was started automatically at {policy.last_auto_labels} labels "
            f"(job {policy.last_auto_job}); the next one starts at {counts.next_auto_at}."
        )
        return trigger
    try:
        with session.begin_nested():
            job = submit_retrain(session=session, settings=settings, dataset=dataset)
    except SiftError as exc:  # another job runs, too few usable labels: say so, try again next time
        trigger.message = f"{gathered}: a retrain is due but was not started: {exc}"
        return trigger
    record_auto_retrain(session=session, counts=counts, job_id=job.id)
    trigger.job_id = job.id
    trigger.message = f"{gathered}: retrain job {job.id} was started automatically."
    return trigger


def label_prediction(
    *, session: Session, settings: Settings, prediction_id: int, label: object, who: str = "app"
) -> tuple[Feedback, RetrainTrigger]:
    """:func:`core.feedback.record_label`, then :func:`retrain_if_due` for the prediction's dataset (for pages)."""
    feedback = record_label(session=session, prediction_id=prediction_id, label=label, who=who)
    dataset = session.scalar(select(Prediction.dataset).where(Prediction.id == feedback.prediction_id))
    return feedback, retrain_if_due(session=session, settings=settings, dataset=dataset)


def label_predictions(
    *, session: Session, settings: Settings, dataset: str, labels: Mapping[int, object], who: str = "app"
) -> LabelImport:
    """:func:`core.feedback.save_labels` (the table's edits), then :func:`retrain_if_due` (``retrain``)."""
    outcome = save_labels(session=session, dataset=dataset, labels=labels, who=who)
    outcome.retrain = retrain_if_due(session=session, settings=settings, dataset=dataset)
    return outcome


def import_label_file(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    source: str | Path | pd.DataFrame,
    who: str = "app",
    first_row: int = 1,
) -> LabelImport:
    """:func:`core.feedback.import_labels` (a CSV file or frame), then :func:`retrain_if_due` (``retrain``)."""
    outcome = import_labels(session=session, dataset=dataset, source=source, who=who, first_row=first_row)
    outcome.retrain = retrain_if_due(session=session, settings=settings, dataset=dataset)
    return outcome


# --- the feedback rows ----------------------------------------------------------------------------


@dataclass
class FeedbackSplit:
    """Labelled feedback, as rows of the model's inputs and the target: to train on, and to judge with."""

    train: pd.DataFrame
    recent: pd.DataFrame
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows left out
    holdout_duplicates: int = 0  # feedback rows equal to a holdout row: not trained on
    recent_since: datetime | None = None  # when the first label of the recent slice was given

    def as_dict(self) -> dict[str, Any]:
        return {
            "training_rows": len(self.train),
            "evaluation_rows": len(self.recent),
            "skipped": dict(self.skipped),
            "holdout_duplicates": self.holdout_duplicates,
            "recent_since": None if self.recent_since is None else self.recent_since.isoformat(),
        }


def _row_keys(frame: pd.DataFrame, features: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One comparable key per row of typed model inputs (numbers to 6 decimals)."""
    typed = coerce_inputs(frame[[f["name"] for f in features]], features)
    parts = []
    for spec in features:
        values = typed[spec["name"]]
        parts.append((values.round(6) if spec["role"] == "numeric" else values).astype(str).tolist())
    return list(zip(*parts, strict=True))


def feedback_split(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    features: list[dict[str, Any]],
    target: str,
    classes: list[Any],
    holdout: pd.DataFrame,
) -> FeedbackSplit:
    """The dataset's labelled predictions that fit the model, split by time into training and recent rows.

    A row is left out when its stored inputs lack one of the model's columns or its label is
    not one of ``classes`` (the labels of another model version). The most recent labels form
    the evaluation slice; older ones that equal a ``holdout`` row are not trained on.
    """
    rows = labelled_rows(session=session, dataset=dataset)
    names = [f["name"] for f in features]
    lookup: dict[str, Any] = {}  # stored label -> the champion's class, typed (None: not one of them)
    skipped: dict[str, int] = {}
    kept_inputs, kept_labels, kept_at = [], [], []
    for text, label, moment in zip(rows.inputs, rows.labels, rows.labelled_at, strict=True):
        try:
            values = json.loads(text)
        except (TypeError, ValueError):
            values = None
        if not isinstance(values, dict):
            skipped["inputs cannot be read"] = skipped.get("inputs cannot be read", 0) + 1
            continue
        if any(name not in values for name in names):
            reason = "inputs lack a column the model uses"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        if label not in lookup:
            try:
                lookup[label] = plain(match_class(label, classes))
            except InvalidLabel:
                lookup[label] = None
        if lookup[label] is None:
            reason = "label is not a class of the champion"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        kept_inputs.append({name: values[name] for name in names})
        kept_labels.append(lookup[label])
        kept_at.append(moment)
    needed = minimum_labels(settings)
    if len(kept_inputs) < needed:
        left_out = "; ".join(f"{n} left out: {reason}" for reason, n in skipped.items())
        raise NotEnoughFeedback(
            f"Retraining {dataset} needs at least {needed} usable labelled predictions, half to learn from and half "
            f"to judge the result with; it has {len(kept_inputs)}" + (f" ({left_out})" if left_out else "") + ". "
            "Label more predictions on the Feedback page."
        )
    frame = pd.DataFrame(kept_inputs, columns=names)
    frame[target] = np.asarray(kept_labels, dtype=class_dtype(classes))  # the classes' own type, as training has it
    recent_rows = max(settings.retrain_min_eval_rows, math.ceil(len(frame) * settings.retrain_eval_fraction))
    cut = len(frame) - recent_rows
    older, recent = frame.iloc[:cut], frame.iloc[cut:].reset_index(drop=True)
    held = set(_row_keys(holdout, features)) if len(holdout) else set()
    repeats = np.array([key in held for key in _row_keys(older, features)], dtype=bool)
    return FeedbackSplit(
        train=older[~repeats].reset_index(drop=True),
        recent=recent,
        skipped=skipped,
        holdout_duplicates=int(repeats.sum()),
        recent_since=kept_at[cut],
    )


# --- judging -----------------------------------------------------------------------------------


def _clean(value: Any) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def score_slice(
    pipeline: Any, features: list[dict[str, Any]], frame: pd.DataFrame, truth: Any
) -> dict[str, float | None]:
    """Holdout-style metrics of a fitted pipeline on rows of its input columns and their true classes."""
    with warnings.catch_warnings():  # a few recent labels may all be of one class: ROC AUC is then undefined
        warnings.simplefilter("ignore", UserWarning)
        metrics = slice_metrics(pipeline, features, frame, truth)
    return {key: _clean(metrics[key]) for key in METRICS}


def decide(
    champion: dict[str, dict[str, float | None]],
    challenger: dict[str, dict[str, float | None]],
    *,
    tolerance: float,
    champion_version: int,
    challenger_version: int,
    rows: dict[str, int],
    min_recent_labels: int = Settings.model_fields["retrain_min_recent_labels"].default,
    metric: str = OLD_SELECTION_METRIC,
) -> tuple[bool, str]:
    """:func:`core.promotion.decide` as ``(promoted, reason)``, the reason naming both versions."""
    decision = promotion.decide(
        champion, challenger, rows=rows, tolerance=tolerance, min_recent_labels=min_recent_labels, metric=metric
    )
    return decision.promoted, decision.reason(champion_version=champion_version, challenger_version=challenger_version)


@dataclass
class RetrainResult:
    model: str
    challenger_version: int
    champion_version: int
    promoted: bool
    reason: str
    champion: dict[str, dict[str, float | None]]
    challenger: dict[str, dict[str, float | None]]
    tolerance: float
    feedback: dict[str, Any]
    rows: dict[str, int]
    training: Any  # the TrainingResult of the challenger
    decision: Decision | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "model": self.model,
            "version": self.challenger_version,
            "aliases": [registry.CHAMPION] if self.promoted else [registry.CHALLENGER],
            "metrics": self.training.metrics,
            "challenger_version": self.challenger_version,
            "champion_version": self.champion_version,
            "promoted": self.promoted,
            "reason": self.reason,
            "champion": self.champion,
            "challenger": self.challenger,
            "tolerance": self.tolerance,
            "rows": self.rows,
            "feedback": self.feedback,
        }
        if self.decision is not None:
            judged = self.decision.as_dict()
            out |= {k: judged[k] for k in ("judged_metrics", "min_recent_labels", "verdicts", "notes")}
        if self.training.selection:
            out["selection"] = {k: v for k, v in self.training.selection.items() if k != "warnings"}
        return out


def _stage(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress({"stage": stage, "candidate": "", "value": None, "state": ""})  # type: ignore[typeddict-item]


def retrain(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    budget: Budget | None = None,
    metric: str | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    study_name: str | None = None,
) -> RetrainResult:
    """Retrain the dataset's champion with its labelled feedback, judge the result, then register and decide.

    ``budget``, ``progress``, ``should_stop`` and ``study_name`` are those of
    :func:`core.training.train.train`. ``metric`` picks the challenger and leads the judgement;
    None: the metric the champion was chosen on (macro F1 for a champion older than the choice).
    The challenger is judged on the fitted pipeline, before
    training registers it: a failure anywhere up to the decision registers nothing. The caller
    owns the transaction, which holds the decision's entry in the alias history.
    """
    _stage(progress, STAGE_FEEDBACK)
    info = _champion(settings, dataset)
    holdout = load_holdout(session=session, settings=settings, info=info)
    champion = load_version(settings, dataset, info.version)
    target = holdout.dataset.target
    split = feedback_split(
        session=session,
        settings=settings,
        dataset=dataset,
        features=champion.features,
        target=target,
        classes=list(champion.classes),
        holdout=holdout.frame,
    )
    rows = {"holdout": len(holdout), "recent_feedback": len(split.recent)}
    tolerance = settings.retrain_tolerance
    metric = metric or info.params.get("selection_metric") or OLD_SELECTION_METRIC
    judged: dict[str, Any] = {}

    def judge(pipeline: Any, contract: dict[str, Any]) -> None:
        """Score champion and challenger on the same rows of both slices and decide, before registering."""
        _stage(progress, STAGE_COMPARING)
        scores: dict[str, dict[str, dict[str, float | None]]] = {}
        for role, (fitted, features) in {
            "champion": (champion.pipeline, champion.features),
            "challenger": (pipeline, contract["features"]),
        }.items():
            scores[role] = {
                "holdout": score_slice(fitted, features, holdout.frame, holdout.y),
                "recent_feedback": score_slice(fitted, features, split.recent, split.recent[target]),
            }
        judged["scores"] = scores
        judged["decision"] = promotion.decide(
            scores["champion"],
            scores["challenger"],
            rows=rows,
            tolerance=tolerance,
            min_recent_labels=settings.retrain_min_recent_labels,
            metric=metric,
        )

    trained = train(
        session=session,
        settings=settings,
        dataset=dataset,
        dataset_version=holdout.dataset.version,
        budget=budget,
        metric=metric,
        progress=progress,
        should_stop=should_stop,
        study_name=study_name,
        extra_rows=split.train,
        holdout_row_ids=holdout.row_ids,
        before_registering=judge,
    )

    scores, decision = judged["scores"], judged["decision"]
    promoted = decision.promoted
    reason = decision.reason(champion_version=info.version, challenger_version=trained.version)
    current = registry.alias_version(settings, dataset)
    if current != info.version:  # someone moved the champion meanwhile: theirs is the decision
        promoted = False
        reason = (
            f"Challenger v{trained.version} not promoted: the champion moved from v{info.version} to v{current} "
            f"while retraining. Compare it on the Models page. {decision.figures()}"
        )
    details = {
        "source": RETRAIN,
        "champion_version": info.version,
        "challenger_version": trained.version,
        "promoted": promoted,
        "metric": metric,
        "tolerance": tolerance,
        "rows": rows,
        "champion": scores["champion"],
        "challenger": scores["challenger"],
        "feedback": split.as_dict(),
    }
    details |= {k: v for k, v in decision.as_dict().items() if k not in details}
    if promoted:
        promote(
            session=session,
            settings=settings,
            dataset=dataset,
            version=trained.version,
            who=RETRAIN,
            reason=reason,
            details=details,
        )
    else:
        record_initial(session=session, settings=settings, dataset=dataset)
        session.add(
            AliasEvent(
                model_name=dataset,
                alias=registry.CHALLENGER,
                action=NOT_PROMOTED,
                from_version=current,
                to_version=trained.version,
                who=RETRAIN,
                reason=reason,
                details=details,
            )
        )
        session.flush()
    return RetrainResult(
        model=dataset,
        challenger_version=trained.version,
        champion_version=info.version,
        promoted=promoted,
        reason=reason,
        champion=scores["champion"],
        challenger=scores["challenger"],
        tolerance=tolerance,
        feedback=split.as_dict(),
        rows=rows,
        training=trained,
        decision=decision,
    )


def retrain_decisions(*, session: Session, dataset: str, limit: int = 20) -> list[dict[str, Any]]:
    """The dataset's retrain decisions (promoted or not), newest first, from the alias history."""
    events = session.scalars(
        select(AliasEvent)
        .where(AliasEvent.model_name == dataset, AliasEvent.who == RETRAIN)
        .order_by(AliasEvent.created_at.desc(), AliasEvent.id.desc())
        .limit(limit)
    )
    out = []
    for event in events:
        details = event.details or {}
        out.append(
            {
                "when": event.created_at,
                "promoted": event.action != NOT_PROMOTED,
                "champion_version": details.get("champion_version", event.from_version),
                "challenger_version": details.get("challenger_version", event.to_version),
                "reason": event.reason,
                "tolerance": details.get("tolerance"),
                "rows": details.get("rows") or {},
                "champion": details.get("champion") or {},
                "challenger": details.get("challenger") or {},
                "feedback": details.get("feedback") or {},
                "min_recent_labels": details.get("min_recent_labels"),
                "verdicts": details.get("verdicts") or {},
                "notes": details.get("notes") or {},
                # decisions stored before the metric was a choice judged macro F1 first
                "metric": details.get("metric", OLD_SELECTION_METRIC),
                "judged_metrics": details.get("judged_metrics") or list(JUDGED_METRICS),
            }
        )
    return out


def decision_table(decision: dict[str, Any]) -> pd.DataFrame:
    """Both models' metrics on both slices of one decision, one row per metric and slice, with its verdict.

    ``verdict`` says how each figure weighed: not worse, worse beyond the tolerance, or not judged
    and why (too few recent labels, undefined, accuracy only shown). Decisions stored before
    verdicts were recorded have an empty one.
    """
    verdicts, notes = decision.get("verdicts") or {}, decision.get("notes") or {}
    judged = decision.get("judged_metrics") or JUDGED_METRICS
    rows = []
    for key, label in SLICES.items():
        for metric in METRICS:
            a = (decision.get("champion") or {}).get(key, {}).get(metric)
            b = (decision.get("challenger") or {}).get(key, {}).get(metric)
            verdict = (verdicts.get(key) or {}).get(metric, "")
            if verdicts and metric not in judged:
                verdict = ACCURACY_NOTE
            elif key in notes:
                verdict = f"{verdict}: {notes[key]}"
            rows.append(
                {
                    "slice": f"{label} ({(decision.get('rows') or {}).get(key, '?')} rows)",
                    "metric": metric,
                    "champion": a,
                    "challenger": b,
                    "difference": None if a is None or b is None else b - a,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows)
