"""An ensemble champion goes everywhere a single model goes: registry, batch and single scoring with
reasons, feedback, retraining, the model card and the MLflow export; ONNX refuses it with the reason.
On a real table (scikit-learn's wine), trained for log loss, where mixing the candidates pays."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from core import registry
from core.champion import load_version
from core.errors import ExportError
from core.explain import contributions, substitution
from core.export import export_model
from core.features import coerce_inputs
from core.feedback import import_labels
from core.model_card import build_card
from core.retrain import retrain
from core.scoring.batch import score_file
from core.scoring.single import score_values
from core.training import evaluate
from core.training.budgets import Budget
from core.training.estimators import Calibrated, WeightedEnsemble
from core.training.factories import ENSEMBLE
from core.training.report import load_report
from core.training.train import train
from tests.conftest import TEST_TRIALS
from tests.core.training.conftest import ingest_frame, wine_frame


@pytest.fixture
def ensemble_champion(settings, sessions, tmp_path: Path) -> tuple:
    ingest_frame(sessions, tmp_path, wine_frame(), "wine", "cultivar")
    with sessions.begin() as session:
        result = train(
            session=session, settings=settings, dataset="wine", metric="log_loss", budget=Budget(trials=TEST_TRIALS)
        )
    assert result.estimator == ENSEMBLE, result.leaderboard  # four different candidates: their mix predicts better
    return result, load_version(settings, "wine", result.version)


def test_the_ensemble_beats_each_member_out_of_fold_and_is_one_registered_model(settings, ensemble_champion) -> None:
    result, model = ensemble_champion
    board = {row["name"]: row for row in result.leaderboard}
    members = result.selection["members"]
    assert len(members) >= 2 and sum(members.values()) == pytest.approx(1.0)
    assert set(members) <= set(board) - {ENSEMBLE}
    # log loss: lower is better, and the ensemble is below every candidate out of fold
    assert all(board[ENSEMBLE]["cv_score"] < board[name]["cv_score"] for name in board if name != ENSEMBLE)
    assert result.leaderboard[0]["name"] == ENSEMBLE and result.leaderboard[0]["winner"]
    assert isinstance(model.pipeline, WeightedEnsemble) and model.pipeline.names == list(members)
    assert model.pipeline.weights == pytest.approx([members[n] for n in model.pipeline.names])
    info = registry.get_version(settings, "wine", result.version)
    assert info.tags["sift.estimator"] == ENSEMBLE and info.params["selection_metric"] == "log_loss"
    assert info.params["members"].startswith(model.pipeline.names[0])
    report = load_report(settings, "wine", result.version)
    assert report["selection"]["members"] == members and report["leaderboard"][0]["holdout_low"] is not None


def _score_wine(settings, sessions, folder: Path) -> dict:
    """Every wine row, without its class, scored as a batch by the champion."""
    source = folder / "to_score.csv"
    wine_frame().drop(columns="cultivar").to_csv(source, index=False)
    return score_file(
        sessions=sessions, settings=settings, dataset="wine", input_path=source, output_path=folder / "out.csv"
    )


def test_an_ensemble_scores_files_and_rows_and_its_reasons_are_its_members_weighted(
    settings, sessions, ensemble_champion, tmp_path: Path
) -> None:
    _, model = ensemble_champion
    frame = wine_frame()
    scored = _score_wine(settings, sessions, tmp_path)
    assert scored["scored"] == len(frame) and scored["rejected"] == 0
    written = pd.read_csv(scored["output"])
    assert set(written["prediction"]) <= {"barolo", "grignolino", "barbera"}

    row = frame.drop(columns="cultivar").iloc[7].to_dict()
    with sessions.begin() as session:
        one = score_values(session=session, model=model, values=row, source="form")
    assert one.model_version == model.version and one.explanation is not None
    assert one.explanation.method == "typical_value_substitution"
    # the ensemble's drop in probability is the weighted sum of its members' drops (XGBoost's included:
    # its own contributions are in log-odds, which do not add up with probabilities)
    names = [f["name"] for f in model.features]
    typed = coerce_inputs(pd.DataFrame([row])[names], model.features)
    best = np.asarray([list(model.pipeline.classes_).index(one.prediction)])
    whole, _, _ = contributions(model.pipeline, typed, best, typical=model.typical)
    parts = [
        weight * substitution(member, typed, best, model.typical[names])
        for member, weight in zip(model.pipeline.members, model.pipeline.weights, strict=True)
    ]
    assert np.allclose(whole.to_numpy(), sum(parts), atol=1e-9)
    reasons = {r.column: r.contribution for r in one.explanation.reasons}
    assert reasons == pytest.approx({c: round(float(v), 6) for c, v in whole.iloc[0].items()}, abs=1e-6)


def test_an_ensemble_takes_feedback_and_retrains(settings, sessions, ensemble_champion, tmp_path: Path) -> None:
    result, _ = ensemble_champion
    frame = wine_frame()
    scored = _score_wine(settings, sessions, tmp_path)
    ids = pd.read_csv(scored["output"])["prediction_id"]
    labels = pd.DataFrame({"prediction_id": ids, "label": frame["cultivar"]})
    with sessions.begin() as session:
        outcome = import_labels(session=session, dataset="wine", source=labels, who="tester")
    assert outcome.rejected == 0, outcome.reasons
    with sessions.begin() as session:
        again = retrain(session=session, settings=settings, dataset="wine", budget=Budget(trials=TEST_TRIALS))
    assert again.challenger_version == result.version + 1
    assert again.decision is not None and again.decision.metric == "log_loss"  # the champion's metric
    assert again.as_dict()["judged_metrics"] == ["log_loss", "roc_auc"]
    challenger = load_version(settings, "wine", again.challenger_version)
    assert isinstance(challenger.pipeline, (WeightedEnsemble, Calibrated)) or hasattr(challenger.pipeline, "steps")


def test_an_ensemble_exports_through_mlflow_not_onnx_and_its_card_names_the_members(
    settings, sessions, ensemble_champion, tmp_path: Path
) -> None:
    result, model = ensemble_champion
    with sessions() as session, pytest.raises(ExportError, match=r"weighted ensemble of \d+ models"):
        export_model(session=session, settings=settings, dataset="wine", output=tmp_path / "onnx", fmt="onnx")
    assert not any((tmp_path / "onnx").glob("*"))  # nothing written
    with sessions() as session:
        exported = export_model(session=session, settings=settings, dataset="wine", output=tmp_path / "mlflow")
    loaded = mlflow.pyfunc.load_model(exported["output"])
    inputs = wine_frame().drop(columns="cultivar").head(5)
    assert list(loaded.predict(inputs)) == list(model.pipeline.predict(inputs))

    with sessions() as session:
        card = build_card(session=session, settings=settings, dataset="wine", version=result.version)
    text = card.markdown()
    assert "**Ensemble members and weights:**" in text and "Log loss: chosen for this training." in text
    assert "holdout log loss (95 % interval)" in text
    assert {m.key for m in card.metrics} == set(evaluate.METRICS)
