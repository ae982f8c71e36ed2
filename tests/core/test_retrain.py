"""Retraining on a real home: feedback joins the training data, the challenger is judged on the
champion's holdout and on recent feedback, promoted only if not worse, and scoring swaps at once.
A retrain that fails or is cancelled leaves the champion as it was. Nothing of ours is mocked."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import select

from core import registry
from core.champion import load_champion
from core.db.models import AliasEvent, Feedback, Prediction
from core.errors import ModelNotFound, NotEnoughFeedback, TrainingCancelled
from core.feedback import import_labels
from core.jobs import runner
from core.promotion import alias_history, history_rows, promote, rollback_target
from core.retrain import decide, feedback_split, retrain, retrain_decisions, submit_retrain
from core.scoring.single import score_row
from core.training.budgets import Budget
from core.workloads import WORKLOADS
from tests.conftest import RICE
from tests.core.test_feedback_loop import score_rice

FLIP = {"Cammeo": "Osmancik", "Osmancik": "Cammeo"}
FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def _label(sessions, frame: pd.DataFrame) -> None:
    with sessions.begin() as session:
        outcome = import_labels(session=session, dataset="rice", source=frame, who="tester")
    assert outcome.rejected == 0, outcome.reasons


def _retrain(settings, sessions, **kwargs):
    with sessions.begin() as session:
        return retrain(session=session, settings=settings, dataset="rice", budget=Budget(trials=1), **kwargs)


def _versions(settings) -> list[int]:
    return sorted(v.version for v in registry.list_versions(settings, "rice"))


def _score_one(settings, sessions) -> Prediction:
    row = pd.read_csv(RICE, nrows=1)[FEATURES].iloc[0].to_dict()
    with sessions.begin() as session:
        scored = score_row(session=session, settings=settings, dataset="rice", values=row)
    with sessions() as session:
        return session.get(Prediction, scored.prediction_id)


def test_the_decision_rule() -> None:
    def slices(holdout: float, recent: float, *, auc: float = 0.9, balanced: float = 0.9) -> dict:
        judged = {"roc_auc": auc, "balanced_accuracy": balanced}
        return {"holdout": {"f1_macro": holdout} | judged, "recent_feedback": {"f1_macro": recent} | judged}

    common = {"tolerance": 0.005, "champion_version": 1, "challenger_version": 2}
    rows = {"holdout": 762, "recent_feedback": 60}
    assert decide(slices(0.9, 0.8), slices(0.9, 0.8), rows=rows, **common)[0]  # equal
    assert decide(slices(0.9, 0.8), slices(0.896, 0.9), rows=rows, **common)[0]  # within the tolerance
    promoted, reason = decide(slices(0.9, 0.8), slices(0.894, 0.9), rows=rows, **common)
    assert not promoted
    assert reason.startswith(
        "Champion v1 kept: challenger v2 is worse beyond the tolerance of 0.005 on the champion's holdout in "
        "macro F1 (-0.0060). Challenger vs champion on the champion's holdout (762 rows): macro F1 0.8940 vs 0.9000 "
        "(-0.0060), ROC AUC 0.9000 vs 0.9000 (+0.0000), balanced accuracy 0.9000 vs 0.9000 (+0.0000); on recent "
        "feedback (60 labels): macro F1 0.9000 vs 0.8000 (+0.1000)"
    )
    promoted, reason = decide(slices(0.9, 0.8), slices(0.9, 0.7), rows=rows, **common)
    assert not promoted and "worse beyond the tolerance of 0.005 on recent feedback in macro F1 (-0.1000)" in reason
    promoted, reason = decide(slices(0.9, 0.8), slices(0.95, 0.85), rows=rows, **common)
    assert promoted and reason.startswith("Challenger v2 promoted: not worse than champion v1 beyond the tolerance")
    assert "macro F1 0.9500 vs 0.9000 (+0.0500)" in reason


def test_recent_feedback_is_never_trained_on_nor_a_holdout_row(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=100)
    _label(trained_sessions, scored)
    champion = load_champion(trained_settings, "rice")
    info = registry.get_version(trained_settings, "rice", 1)
    holdout_ids = registry.load_document(trained_settings, info.run_id, "split.json")["holdout_row_ids"]
    holdout = pd.read_csv(RICE).loc[holdout_ids]
    with trained_sessions() as session:
        split = feedback_split(
            session=session,
            settings=trained_settings,
            dataset="rice",
            features=champion.features,
            target="Class",
            classes=champion.classes,
            holdout=holdout,
        )
    in_holdout = sum(i in set(holdout_ids) for i in range(80))  # the first 80 labels are the older ones
    assert len(split.recent) == 20  # the most recent 20 %
    assert split.recent["Class"].tolist() == scored["label"].tolist()[80:]
    assert split.holdout_duplicates == in_holdout and len(split.train) == 80 - in_holdout
    assert split.as_dict()["evaluation_rows"] == 20


def test_a_worse_challenger_stays_challenger_and_a_better_one_is_promoted_and_scores_at_once(
    trained_settings, trained_sessions, tmp_path
) -> None:
    # every rice row scored twice and labelled with the wrong class: the challenger learns them
    first = score_rice(trained_settings, trained_sessions, tmp_path, rows=3810, name="a.csv")
    second = score_rice(trained_settings, trained_sessions, tmp_path, rows=3810, name="b.csv")
    labels = pd.concat([first, second], ignore_index=True)
    _label(trained_sessions, labels.assign(label=labels["label"].map(FLIP)))

    worse = _retrain(trained_settings, trained_sessions)
    assert (worse.challenger_version, worse.champion_version, worse.promoted) == (2, 1, False)
    assert worse.challenger["holdout"]["f1_macro"] < worse.champion["holdout"]["f1_macro"] - 0.005
    assert worse.reason.startswith("Champion v1 kept: challenger v2 is worse beyond the tolerance of 0.005 on the ")
    # judged on the metric the champion was chosen on (ROC AUC: two classes) and beyond it nothing else
    assert worse.decision.metric == registry.get_version(trained_settings, "rice", 1).params["selection_metric"]
    assert worse.decision.metric == "roc_auc"
    assert "the champion's holdout in ROC AUC" in worse.reason
    assert "on recent feedback (1524 labels): ROC AUC" in worse.reason  # enough recent labels: judged too
    assert worse.rows == {"holdout": 762, "recent_feedback": 1524}
    assert worse.feedback["holdout_duplicates"] > 0
    assert registry.alias_version(trained_settings, "rice") == 1
    assert registry.alias_version(trained_settings, "rice", registry.CHALLENGER) == 2
    splits = [
        registry.load_document(trained_settings, registry.get_version(trained_settings, "rice", v).run_id, "split.json")
        for v in (1, 2)
    ]
    assert splits[0]["holdout_row_ids"] == splits[1]["holdout_row_ids"]  # judged on the champion's own holdout
    assert _score_one(trained_settings, trained_sessions).model_version == 1
    with trained_sessions.begin() as session:
        history = history_rows(alias_history(session=session, dataset="rice", settings=trained_settings))
        assert [(h["action"], h["who"], h["from"], h["to"]) for h in history] == [
            ("not promoted", "retrain", 1, 2),
            ("initial", "sift train", None, 1),
        ]
        assert rollback_target(session=session, settings=trained_settings, dataset="rice") is None
        decision = retrain_decisions(session=session, dataset="rice")[0]
    assert decision["promoted"] is False and decision["reason"] == worse.reason
    assert decision["champion"]["recent_feedback"] == worse.champion["recent_feedback"]
    assert decision["challenger"]["holdout"]["f1_macro"] == worse.challenger["holdout"]["f1_macro"]

    # the bad model becomes champion by mistake; then the labels are corrected and a retrain fixes it
    with trained_sessions.begin() as session:
        promote(session=session, settings=trained_settings, dataset="rice", version=2, who="tester", reason="oops")
    _label(trained_sessions, labels)
    with trained_sessions() as session:
        assert session.scalar(select(Feedback.label).where(Feedback.prediction_id == int(labels["prediction_id"][0])))
    better = _retrain(trained_settings, trained_sessions)
    assert (better.challenger_version, better.champion_version, better.promoted) == (3, 2, True)
    assert better.challenger["holdout"]["f1_macro"] > better.champion["holdout"]["f1_macro"]
    assert better.as_dict()["aliases"] == ["champion"]
    assert registry.alias_version(trained_settings, "rice") == 3

    # the very next prediction, in this process and its cached lookup, uses the new champion
    assert _score_one(trained_settings, trained_sessions).model_version == 3
    with trained_sessions() as session:
        event = session.scalars(select(AliasEvent).order_by(AliasEvent.id.desc())).first()
    assert (event.action, event.who, event.from_version, event.to_version) == ("promote", "retrain", 2, 3)
    assert event.details["challenger"]["holdout"] == better.challenger["holdout"]
    assert event.details["champion"]["recent_feedback"] == better.champion["recent_feedback"]


def test_a_failed_or_cancelled_retrain_leaves_the_champion(trained_settings, trained_sessions, tmp_path) -> None:
    _label(trained_sessions, score_rice(trained_settings, trained_sessions, tmp_path, rows=20))

    def broken() -> bool:
        raise RuntimeError("the worker lost its database")

    with pytest.raises(RuntimeError, match="lost its database"):
        _retrain(trained_settings, trained_sessions, should_stop=broken)
    with pytest.raises(TrainingCancelled):
        _retrain(trained_settings, trained_sessions, should_stop=lambda: True)
    assert _versions(trained_settings) == [1]
    assert registry.alias_version(trained_settings, "rice") == 1
    with trained_sessions() as session:
        assert session.scalar(select(AliasEvent.id)) is None
    assert _score_one(trained_settings, trained_sessions).model_version == 1


def test_a_retrain_job_with_unusable_feedback_fails_and_leaves_the_champion(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:  # labelled predictions whose inputs lack the model's columns
        for number in range(1, 13):
            session.add(
                Prediction(
                    id=number,
                    dataset="rice",
                    model_name="rice",
                    model_version=1,
                    inputs=json.dumps({"Area": 10_000}),
                    predicted_class="Cammeo",
                    probabilities=json.dumps({"Cammeo": 0.9, "Osmancik": 0.1}),
                    confidence=0.9,
                    source="api",
                )
            )
            session.flush()
            session.add(Feedback(prediction_id=number, label="Osmancik", who="tester"))
        job = submit_retrain(session=session, settings=trained_settings, dataset="rice", budget=Budget(trials=1))
    done = runner.run_job(sessions=trained_sessions, settings=trained_settings, job_id=job.id, workloads=WORKLOADS)
    assert (done.kind, done.status) == ("retrain", "failed")
    assert "needs at least 10 usable labelled predictions" in done.error
    assert "12 left out: inputs lack a column the model uses" in done.error
    assert _versions(trained_settings) == [1]
    assert registry.alias_version(trained_settings, "rice") == 1


def test_a_retrain_needs_labels(trained_settings, trained_sessions) -> None:
    with (
        pytest.raises(NotEnoughFeedback, match="needs at least 10 labelled predictions"),
        trained_sessions.begin() as session,
    ):
        submit_retrain(session=session, settings=trained_settings, dataset="rice")


def test_a_retrain_needs_a_champion(settings, sessions) -> None:
    with pytest.raises(ModelNotFound, match="has no champion to retrain"), sessions.begin() as session:
        submit_retrain(session=session, settings=settings, dataset="rice")
