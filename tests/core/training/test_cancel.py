"""Cancelling or failing mid-training registers nothing and leaves the champion alone."""

from __future__ import annotations

import pytest

from core import registry
from core.errors import TrainingCancelled
from core.training.budgets import Budget
from core.training.train import train


def test_should_stop_cancels_before_anything_is_registered(trained_settings, trained_sessions) -> None:
    runs_before = len(registry.list_runs(trained_settings, "rice"))
    with trained_sessions.begin() as session, pytest.raises(TrainingCancelled) as raised:
        train(
            session=session,
            settings=trained_settings,
            dataset="rice",
            budget=Budget(trials=1),
            should_stop=lambda: True,
        )
    assert str(raised.value) == "Training was cancelled; nothing was registered and the champion is unchanged."
    assert [v.version for v in registry.list_versions(trained_settings, "rice")] == [1]
    assert registry.alias_version(trained_settings, "rice") == 1
    assert len(registry.list_runs(trained_settings, "rice")) == runs_before


def test_cancel_after_the_first_trial_stops_the_search(settings, sessions, wine) -> None:
    updates = []

    def stop() -> bool:
        return any(u["trial"] >= 1 for u in updates)

    with sessions.begin() as session, pytest.raises(TrainingCancelled):
        train(
            session=session,
            settings=settings,
            dataset=wine,
            budget=Budget(trials=3),
            progress=updates.append,
            should_stop=stop,
        )
    assert max(u["trial"] for u in updates) == 1
    assert updates[-1]["stage"] == "tuning xgboost"
    assert registry.list_versions(settings, wine) == []
    assert registry.list_runs(settings, wine) == []


def test_a_failure_mid_training_propagates_and_registers_nothing(settings, sessions, wine) -> None:
    updates = []

    def broken() -> bool:
        if any(u["trial"] >= 1 for u in updates):  # during the search, after a trial was stored
            raise RuntimeError("the job database went away")
        return False

    with sessions.begin() as session, pytest.raises(RuntimeError, match="went away"):
        train(
            session=session,
            settings=settings,
            dataset=wine,
            budget=Budget(trials=3),
            progress=updates.append,
            should_stop=broken,
        )
    assert updates[-1]["stage"] == "tuning xgboost"
    assert registry.list_versions(settings, wine) == []
    assert registry.list_runs(settings, wine) == []
