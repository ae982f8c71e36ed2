"""Promotion, rollback and the alias history, on a real MLflow store and a real SQLite database."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from core import registry
from core.db.models import AliasEvent, Prediction
from core.errors import ModelNotFound, PromotionRefused
from core.promotion import (
    alias_history,
    compare,
    decide,
    judged_metrics,
    promote,
    record_initial,
    rollback,
    rollback_target,
)
from core.scoring.single import score_row
from core.training.budgets import Budget
from tests.conftest import RICE

FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def _events(sessions) -> list[AliasEvent]:
    with sessions() as session:
        return list(session.scalars(select(AliasEvent).order_by(AliasEvent.id)))


def test_the_first_champion_is_recorded_once_when_history_is_read(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        events = alias_history(session=session, dataset="rice", settings=trained_settings)
    with trained_sessions.begin() as session:
        assert record_initial(session=session, settings=trained_settings, dataset="rice") is None
        again = alias_history(session=session, dataset="rice", settings=trained_settings)
    assert len(events) == len(again) == 1
    first = again[0]
    assert (first.action, first.alias, first.from_version, first.to_version) == ("initial", "champion", None, 1)
    assert first.who == "sift train"
    assert first.details["run_id"] == registry.get_version(trained_settings, "rice", 1).run_id


def test_promote_moves_the_champion_and_records_who_when_from_to_why(two_settings, two_sessions) -> None:
    assert registry.get_version(two_settings, "rice", 2).aliases == ["challenger"]
    before = datetime.now(UTC)
    with two_sessions.begin() as session:
        change = promote(
            session=session,
            settings=two_settings,
            dataset="rice",
            version=2,
            who="alice",
            reason="better on recent feedback",
            details={"labels": 120},
        )
    assert (change.champion, change.previous, change.who, change.reason) == (2, 1, "alice", "better on recent feedback")
    assert registry.alias_version(two_settings, "rice") == 2
    assert registry.get_version(two_settings, "rice", 2).aliases == ["champion"]  # no longer challenger
    assert registry.get_version(two_settings, "rice", 1).aliases == []

    with two_sessions() as session:
        newest, initial = alias_history(session=session, dataset="rice")
    assert (initial.action, initial.to_version) == ("initial", 1)
    assert (newest.action, newest.alias, newest.from_version, newest.to_version) == ("promote", "champion", 1, 2)
    assert (newest.who, newest.reason) == ("alice", "better on recent feedback")
    assert newest.details == {"labels": 120, "challenger_cleared": 2}
    when = newest.created_at
    assert before - timedelta(seconds=1) <= when <= datetime.now(UTC)


def test_who_defaults_to_the_login_name(two_settings, two_sessions) -> None:
    with two_sessions.begin() as session:
        change = promote(session=session, settings=two_settings, dataset="rice", version=2)
    assert change.who == getpass.getuser() and _events(two_sessions)[-1].who == getpass.getuser()
    assert change.reason == ""


def test_rollback_restores_the_previous_champion_and_replays_history_as_a_stack(two_settings, two_sessions) -> None:
    def run(action, **kwargs):
        with two_sessions.begin() as session:
            return action(session=session, settings=two_settings, dataset="rice", **kwargs)

    run(promote, version=2, reason="try v2")
    run(promote, version=1, reason="back to v1 by hand")
    with two_sessions() as session:
        assert rollback_target(session=session, settings=two_settings, dataset="rice") == 2
    change = run(rollback, reason="v1 misbehaves", who="bob")
    assert (change.action, change.champion, change.previous) == ("rollback", 2, 1)
    assert registry.alias_version(two_settings, "rice") == 2
    last = _events(two_sessions)[-1]
    assert (last.action, last.from_version, last.to_version, last.who, last.reason) == (
        "rollback",
        1,
        2,
        "bob",
        "v1 misbehaves",
    )

    assert run(rollback).champion == 1  # undo the first promotion too
    with pytest.raises(PromotionRefused, match="only champion"):
        run(rollback)
    assert registry.alias_version(two_settings, "rice") == 1
    assert [e.action for e in _events(two_sessions)] == ["initial", "promote", "promote", "rollback", "rollback"]


def test_refusals_raise_and_change_nothing(two_settings, two_sessions) -> None:
    def attempt(action, **kwargs):
        with two_sessions.begin() as session:
            action(session=session, settings=two_settings, dataset="rice", **kwargs)

    with pytest.raises(ModelNotFound, match=r"no version 9\. Its versions are: 1, 2"):
        attempt(promote, version=9)
    with pytest.raises(PromotionRefused, match="already the champion"):
        attempt(promote, version=1)
    with pytest.raises(PromotionRefused, match="Nothing to roll back to"):
        attempt(rollback)
    with pytest.raises(ModelNotFound, match="no model yet"), two_sessions.begin() as session:
        promote(session=session, settings=two_settings, dataset="nope", version=1)
    assert _events(two_sessions) == []  # each refused transaction rolled back, the lazy first record too
    assert registry.alias_version(two_settings, "rice") == 1
    assert registry.get_version(two_settings, "rice", 2).aliases == ["challenger"]


def test_scoring_follows_the_champion_after_a_promotion(two_settings, two_sessions) -> None:
    row = pd.read_csv(RICE, nrows=1)[FEATURES].iloc[0].to_dict()

    def score() -> int:
        with two_sessions.begin() as session:
            return score_row(session=session, settings=two_settings, dataset="rice", values=row).prediction_id

    first = score()
    with two_sessions.begin() as session:
        promote(session=session, settings=two_settings, dataset="rice", version=2, reason="test")
    second = score()
    with two_sessions() as session:
        assert session.get(Prediction, first).model_version == 1
        assert session.get(Prediction, second).model_version == 2
        assert session.scalar(select(func.count()).select_from(Prediction)) == 2


def test_compare_uses_logged_metrics_on_a_shared_holdout(two_settings, two_sessions) -> None:
    with two_sessions() as session:
        comparison = compare(session=session, settings=two_settings, dataset="rice", version=2)
    assert (comparison.champion, comparison.version, comparison.same_holdout) == (1, 2, True)
    assert [r["metric"] for r in comparison.rows] == [
        "Accuracy",
        "Macro F1",
        "Balanced accuracy",
        "ROC AUC",
        "Log loss",
    ]
    logged = registry.get_version(two_settings, "rice", 2).metrics
    accuracy = comparison.rows[0]
    assert accuracy["version"] == pytest.approx(logged["accuracy"])
    assert accuracy["difference"] == pytest.approx(accuracy["version"] - accuracy["champion"])
    assert "same holdout" in comparison.basis


def test_compare_rescores_both_versions_when_holdouts_differ(two_settings, two_sessions) -> None:
    from core.training.train import train

    with two_sessions.begin() as session:
        third = train(session=session, settings=two_settings, dataset="rice", budget=Budget(trials=1, seed=7)).version
    with two_sessions() as session:
        comparison = compare(session=session, settings=two_settings, dataset="rice", version=third)
    logged = registry.get_version(two_settings, "rice", third).metrics
    assert comparison.rows[0]["version"] == pytest.approx(logged["accuracy"])  # its own holdout
    assert "scored on version 3's holdout (762 rows of rice v1)" in comparison.basis
    assert "The champion was trained on" in comparison.basis


def test_the_gate_judges_the_chosen_metric_first_and_a_log_loss_by_its_direction() -> None:
    assert judged_metrics() == ("f1_macro", "roc_auc", "balanced_accuracy")  # models chosen before the choice
    assert judged_metrics("accuracy") == ("accuracy", "roc_auc")
    assert judged_metrics("roc_auc") == ("roc_auc",)
    rows = {"holdout": 500, "recent_feedback": 0}

    def slices(loss: float, auc: float = 0.9) -> dict:
        return {"holdout": {"log_loss": loss, "roc_auc": auc}, "recent_feedback": {}}

    common = {"rows": rows, "tolerance": 0.01, "min_recent_labels": 50, "metric": "log_loss"}
    assert decide(slices(0.30), slices(0.25), **common).promoted  # a lower log loss is better
    assert decide(slices(0.30), slices(0.305), **common).promoted  # within the tolerance
    kept = decide(slices(0.30), slices(0.32), **common)
    assert not kept.promoted and kept.worse == {"holdout": ["log_loss"]}
    reason = kept.reason(champion_version=1, challenger_version=2)
    assert "on the champion's holdout in log loss (+0.0200)" in reason
    promoted = decide(slices(0.30), slices(0.25), **common).reason(champion_version=1, challenger_version=2)
    assert "tolerance of 0.01 on log loss or ROC AUC." in promoted
