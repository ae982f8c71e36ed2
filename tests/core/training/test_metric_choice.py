"""The analyst's metric picks the model: on a real table where accuracy and macro F1 disagree, each
choice wins on its own metric; and a column derived from the target is flagged in the result and card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.model_card import build_card
from core.training.budgets import Budget
from core.training.candidates import Candidate
from core.training.selection import SELECTION_METRICS
from core.training.train import TRADES, below_majority, train
from tests.conftest import TEST_TRIALS
from tests.core.training.conftest import ingest_frame
from tests.real.tables import TABLES


def _pbc() -> pd.DataFrame:
    """Mayo Clinic's primary biliary cirrhosis trial: 418 patients, status 0/1/2 with 25 in class 1."""
    table = next(t for t in TABLES if t.name == "pbc")
    return table.load()


def test_accuracy_and_macro_f1_pick_different_models_each_best_on_its_own_metric(
    settings, sessions, tmp_path: Path
) -> None:
    ingest_frame(sessions, tmp_path, _pbc(), "pbc", "status")
    results = {}
    for metric in ("accuracy", "f1_macro"):
        with sessions.begin() as session:
            results[metric] = train(
                session=session, settings=settings, dataset="pbc", metric=metric, budget=Budget(trials=TEST_TRIALS)
            )
    by_accuracy, by_f1 = results["accuracy"], results["f1_macro"]
    assert by_accuracy.selection["metric"] == "accuracy" and by_accuracy.selection["chosen"]
    # the same folds for both trainings: their out-of-fold figures compare
    assert by_accuracy.metrics["cv_accuracy"] > by_f1.metrics["cv_accuracy"]
    assert by_f1.metrics["cv_f1_macro"] > by_accuracy.metrics["cv_f1_macro"]
    assert (by_accuracy.estimator, by_accuracy.selection["members"]) != (by_f1.estimator, by_f1.selection["members"])
    # macro F1 counts the rare class as much as the others: weighting it up pays for some candidates
    weights = {m: {row["name"]: row["class_weight"] for row in r.leaderboard} for m, r in results.items()}
    assert "balanced" in weights["f1_macro"].values()
    assert weights["accuracy"]["hist_gradient_boosting"] == "none"


def test_a_column_derived_from_the_target_is_flagged_in_the_result_and_the_card(
    settings, sessions, tmp_path: Path
) -> None:
    frame = _pbc().dropna(subset=["status"])
    frame["outcome_code"] = frame["status"].map({0: "censored", 1: "transplant", 2: "died"})
    ingest_frame(sessions, tmp_path, frame, "leaky", "status")
    with sessions.begin() as session:
        result = train(session=session, settings=settings, dataset="leaky", budget=Budget(trials=1))
    leaks = [w for w in result.warnings if "`outcome_code`" in w and "target leakage" in w]
    assert len(leaks) == 1
    assert result.as_dict()["warnings"] == result.warnings
    with sessions() as session:
        card = build_card(session=session, settings=settings, dataset="leaky", version=result.version)
    assert "## Warnings" in card.markdown() and "outcome\\_code" in card.markdown()


def _winner(metric: str, accuracy: float) -> Candidate:
    empty = np.zeros((0, 2))
    return Candidate("xgboost", None, metric, [], empty, {}, {"accuracy": accuracy}, empty, 0.0, 0.0)


def test_accuracy_below_always_the_majority_is_explained_in_one_sentence() -> None:
    chance = {"accuracy": 0.94, "guess": "no"}
    sentence = below_majority(_winner("f1_macro", 0.84), chance)
    assert sentence == (
        "Accuracy 0.840 is below the 0.940 of always answering 'no', because the model was chosen on Macro F1, "
        "which counts every class equally, so it gives up some majority-class rows to find more of the rare ones; "
        "choose accuracy as the metric if the share of rows right is what matters."
    )
    assert set(TRADES) == set(SELECTION_METRICS) - {"accuracy"}
    assert below_majority(_winner("f1_macro", 0.95), chance) is None  # above the majority: nothing to explain
    assert below_majority(_winner("accuracy", 0.80), chance) is None  # chosen on accuracy: the figure says it all
