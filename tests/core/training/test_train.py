from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from core import registry
from core.champion import load_champion
from core.datasets.versions import ingest
from core.errors import ModelNotFound
from core.scoring.single import score_row
from core.training.budgets import Budget
from core.training.evaluate import METRICS
from core.training.factories import ENSEMBLE
from core.training.progress import ProgressUpdate
from core.training.report import load_report
from core.training.train import train
from tests.conftest import TEST_TRIALS
from tests.core.training.conftest import ingest_frame, reviews_frame


def test_rice_champion_is_registered_with_metrics(trained_settings) -> None:
    versions = registry.list_versions(trained_settings, "rice")
    assert [v.version for v in versions] == [1]
    champion = versions[0]
    assert champion.aliases == ["champion"]
    assert champion.metrics["accuracy"] > 0.85
    assert {"f1_macro", "roc_auc", "balanced_accuracy"} <= set(champion.metrics)
    assert champion.tags["sift.dataset_version"] == "1"
    assert len(champion.tags["sift.content_hash"]) == 64


def test_a_second_version_is_a_challenger_and_the_champion_stays(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        result = train(session=session, settings=trained_settings, dataset="rice", budget=Budget(trials=1))
    assert result.version == 2 and result.aliases == ["challenger"]
    assert registry.alias_version(trained_settings, "rice") == 1


def test_multiclass_string_labels_round_trip(settings, sessions, tmp_path: Path) -> None:
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        ingest(session=session, path=path, name="wine", target="cultivar")
    with sessions.begin() as session:
        result = train(session=session, settings=settings, dataset="wine", budget=Budget(trials=TEST_TRIALS))
    assert result.metrics["accuracy"] > 0.85
    model = load_champion(settings, "wine")
    assert sorted(model.classes) == ["barbera", "barolo", "grignolino"]
    row = frame.drop(columns="cultivar").iloc[0].to_dict()
    with sessions.begin() as session:
        scored = score_row(session=session, settings=settings, dataset="wine", values=row)
    assert scored.prediction in {"barbera", "barolo", "grignolino"}
    assert set(scored.probabilities) == {"barbera", "barolo", "grignolino"}
    assert np.isclose(sum(scored.probabilities.values()), 1.0)


def test_numeric_labels_and_categorical_and_text_features(settings, sessions, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 300
    colour = rng.choice(["red", "green", "blue"], size=n)
    words = np.where(
        colour == "red", "a warm bright and lovely sunny day outside", "a cold grey and gloomy rainy day inside"
    )
    frame = pd.DataFrame(
        {
            "colour": colour,
            "note": [f"{w} number {i}" for i, w in enumerate(words)],
            "size": rng.normal(size=n),
            "label": (colour == "red").astype(int),
        }
    )
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=path, name="mixed", target="label")
    assert version.roles == {"colour": "categorical", "note": "text", "size": "numeric", "label": "target"}
    with sessions.begin() as session:
        result = train(session=session, settings=settings, dataset="mixed", budget=Budget(trials=1))
    assert result.metrics["accuracy"] > 0.95
    model = load_champion(settings, "mixed")
    assert model.classes == [0, 1]
    with sessions.begin() as session:
        scored = score_row(
            session=session,
            settings=settings,
            dataset="mixed",
            values={"colour": "red", "note": "a warm bright day", "size": 0.1},
        )
    assert scored.prediction == 1


# --- candidates, runs and the report ---------------------------------------------------------

CANDIDATES = {"xgboost", "logistic_regression", "random_forest", "hist_gradient_boosting"}


def test_every_candidate_is_a_run_with_the_shared_tags(trained_settings) -> None:
    runs = registry.list_runs(trained_settings, "rice")
    names = {r.run_name for r in runs}
    assert CANDIDATES <= names <= CANDIDATES | {ENSEMBLE} and len(runs) == len(names)
    champion = registry.get_version(trained_settings, "rice", 1)
    (winner,) = [r for r in runs if r.tags["sift.winner"] == "true"]
    assert winner.run_id == champion.run_id
    assert len({r.tags["sift.study"] for r in runs}) == 1
    for run in runs:
        assert run.tags["sift.estimator"] == run.run_name == run.params["estimator"]
        assert run.tags["sift.dataset_version"] == "1" and run.tags["sift.seed"] == "42"
        assert len(run.tags["sift.content_hash"]) == 64 and run.tags["sift.code_version"]
        metric = run.params["selection_metric"]
        expected = {f"cv_{metric}_std", "accuracy", "f1_macro", "balanced_accuracy", "roc_auc", "log_loss"}
        assert expected | {f"cv_{key}" for key in METRICS} <= set(run.metrics)


def test_binary_report_is_stored_with_the_winner(trained_settings) -> None:
    report = load_report(trained_settings, "rice", 1)
    board = report["leaderboard"]
    assert {row["name"] for row in board} == CANDIDATES
    assert [row["winner"] for row in board] == [True, False, False, False]
    assert board[0]["name"] == report["estimator"]
    assert board[0]["cv_f1_macro"] >= max(row["cv_f1_macro"] for row in board) - 5e-5
    assert all(row["run_id"] for row in board[1:]) and board[0]["run_id"] is None
    holdout = np.sum(report["confusion_matrix"]["matrix"])
    assert holdout == 762 and report["confusion_matrix"]["labels"] == ["Cammeo", "Osmancik"]
    (roc,) = report["roc_curve"]["curves"]
    assert roc["label"] == "Osmancik" and 0.9 < roc["auc"] <= 1 and len(roc["fpr"]) <= 200
    assert len(report["pr_curve"]["curves"]) == 1
    assert report["calibration"]["kind"] == "binary"
    assert sum(b["count"] for b in report["calibration"]["bins"]) == holdout
    importance = report["permutation_importance"]
    assert {row["feature"] for row in importance} == {
        "Area",
        "Perimeter",
        "Major_Axis_Length",
        "Minor_Axis_Length",
        "Eccentricity",
        "Convex_Area",
        "Extent",
    }
    tuning = report["tuning"]
    assert [t["number"] for t in tuning["trials"]] == list(range(TEST_TRIALS))
    assert tuning["trials"][0]["state"] == "COMPLETE" and tuning["trials"][0]["value"] > 0.8
    chance = report["chance"]  # rice's features say a lot about the variety: far beyond guessing
    assert chance["guess"] == "Osmancik" and chance["better_than_chance"] and chance["p_value"] < 0.01
    assert chance["accuracy"] == pytest.approx(np.sum(report["confusion_matrix"]["matrix"][1]) / holdout)
    assert chance["rows"] == holdout and chance["model_balanced_accuracy"] > 0.85


def test_multiclass_progress_and_report(settings, sessions, wine) -> None:
    updates = []
    with sessions.begin() as session:
        result = train(
            session=session, settings=settings, dataset=wine, budget=Budget(trials=2), progress=updates.append
        )
    stages = [u["stage"] for u in updates]
    assert stages[:4] == [
        "preparing data",
        "baseline: logistic regression",
        "baseline: random forest",
        "baseline: histogram gradient boosting",
    ]
    assert stages[-2:] == ["evaluating", "registering"]
    trials = [u for u in updates if u["state"]]
    assert [(u["trial"], u["trials"]) for u in trials] == [(1, 2), (2, 2)]
    assert trials[-1]["best"] == max(u["value"] for u in trials)
    assert all(set(u) == set(ProgressUpdate.__annotations__) for u in updates)
    assert result.trials == 2 and CANDIDATES <= {row["name"] for row in result.leaderboard} <= CANDIDATES | {ENSEMBLE}
    assert result.estimator == result.leaderboard[0]["name"]

    report = load_report(settings, wine, result.version)
    assert [c["label"] for c in report["roc_curve"]["curves"]] == ["barbera", "barolo", "grignolino"]
    assert report["roc_curve"]["kind"] == report["pr_curve"]["kind"] == "one-vs-rest"
    assert report["calibration"]["kind"] == "top-label"
    assert len(report["permutation_importance"]) == 13
    assert report["metrics"]["accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-4)


def test_text_only_dataset_with_numeric_labels(settings, sessions, tmp_path: Path) -> None:
    ingest_frame(sessions, tmp_path, reviews_frame(), "reviews", "label")
    with sessions.begin() as session:
        result = train(session=session, settings=settings, dataset="reviews", budget=Budget(trials=1))
    assert result.metrics["accuracy"] >= 0.75
    assert load_champion(settings, "reviews").classes == [0, 1]
    report = load_report(settings, "reviews", result.version)
    assert [row["feature"] for row in report["permutation_importance"]] == ["review"]
    assert report["permutation_importance"][0]["importance"] > 0


def test_load_report_of_an_unknown_version_is_a_user_error(trained_settings) -> None:
    with pytest.raises(ModelNotFound):
        load_report(trained_settings, "rice", 9)


def test_rows_without_a_label_are_left_out_and_counted(settings, sessions, tmp_path: Path) -> None:
    from palmerpenguins import load_penguins

    ingest_frame(sessions, tmp_path, load_penguins(), "penguins", "sex")  # 344 rows, 11 without `sex`
    with sessions.begin() as session:
        result = train(session=session, settings=settings, dataset="penguins", budget=Budget(trials=TEST_TRIALS))
    assert result.rows["without_label"] == 11
    assert result.rows["training"] + result.rows["holdout"] == 333
    assert result.as_dict()["rows"] == result.rows
