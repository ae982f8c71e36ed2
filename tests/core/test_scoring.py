from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.db.models import Batch, Prediction
from core.errors import InputContractError, InputFileError
from core.scoring import load_champion, neutralise_formulas, rejected_path, score_file, score_row
from tests.conftest import RICE

FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def _ledger_count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Prediction))


def test_contract_has_ranges_typical_values_and_classes(trained_settings) -> None:
    contract = load_champion(trained_settings, "rice").contract
    assert [f["name"] for f in contract["features"]] == FEATURES
    area = contract["features"][0]
    assert area["integer"] and area["min"] < area["typical"] < area["max"]
    assert sorted(contract["classes"]) == ["Cammeo", "Osmancik"]


def test_score_row_goes_to_the_ledger_with_the_model_version(trained_settings, trained_sessions) -> None:
    row = pd.read_csv(RICE, nrows=1)[FEATURES].iloc[0].to_dict()
    with trained_sessions.begin() as session:
        scored = score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert scored.prediction in {"Cammeo", "Osmancik"}
    assert scored.flags == []
    with trained_sessions() as session:
        stored = session.get(Prediction, scored.prediction_id)
    assert stored.model_version == 1 and stored.source == "form"
    assert stored.predicted_class == scored.prediction


def test_out_of_range_values_are_scored_and_flagged(trained_settings, trained_sessions) -> None:
    row = pd.read_csv(RICE, nrows=1)[FEATURES].iloc[0].to_dict() | {"Area": 10**9}
    with trained_sessions.begin() as session:
        scored = score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert scored.flags == ["Area: outside training range"]


def test_score_file_accounts_for_every_row(trained_settings, trained_sessions, tmp_path: Path) -> None:
    frame = pd.read_csv(RICE, nrows=50).drop(columns="Class")
    frame["note"] = "=HYPERLINK(1)"  # an extra column: kept, ignored by the model, neutralised
    frame.loc[3, "Area"] = "lots"
    frame.loc[7, "Extent"] = "?"  # a missing marker: scored, not rejected
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)
    result = score_file(
        sessions=trained_sessions,
        settings=trained_settings,
        dataset="rice",
        input_path=source,
        output_path=output,
        chunk_size=20,
    )
    assert (result["rows"], result["scored"], result["rejected"], result["model_version"]) == (50, 49, 1, 1)
    scored = pd.read_csv(output)
    rejected = pd.read_csv(rejected_path(output))
    assert len(scored) == 49 and len(rejected) == 1
    assert rejected["reason"].iloc[0] == "Area: not a number"
    assert {"prediction_id", "prediction", "confidence", "proba_Cammeo", "proba_Osmancik"} <= set(scored.columns)
    assert scored["note"].eq("'=HYPERLINK(1)").all()
    assert scored["prediction_id"].is_unique
    assert _ledger_count(trained_sessions) == 49
    with trained_sessions() as session:
        batch = session.get(Batch, result["batch_id"])
        assert batch.status == "complete" and batch.scored == 49
        ids = set(session.scalars(select(Prediction.id).where(Prediction.batch_id == batch.id)))
    assert ids == set(scored["prediction_id"])


def test_missing_column_is_refused_before_anything_is_stored(trained_settings, trained_sessions, tmp_path) -> None:
    source = tmp_path / "in.csv"
    pd.read_csv(RICE, nrows=5).drop(columns=["Class", "Extent"]).to_csv(source, index=False)
    with pytest.raises(InputContractError, match="'Extent'"):
        score_file(
            sessions=trained_sessions,
            settings=trained_settings,
            dataset="rice",
            input_path=source,
            output_path=tmp_path / "out.csv",
        )
    assert _ledger_count(trained_sessions) == 0
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 0


def test_header_only_file_is_refused(trained_settings, trained_sessions, tmp_path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(",".join(FEATURES) + "\n")
    with pytest.raises(InputFileError, match="no rows"):
        score_file(
            sessions=trained_sessions,
            settings=trained_settings,
            dataset="rice",
            input_path=source,
            output_path=tmp_path / "out.csv",
        )


def test_neutralise_formulas_keeps_negative_numbers() -> None:
    frame = pd.DataFrame({"text": ["=1+2", "+cmd", "-2.5", "@SUM", "\tx", "plain", None], "n": range(7)})
    out = neutralise_formulas(frame)
    assert out["text"].tolist()[:6] == ["'=1+2", "'+cmd", "-2.5", "'@SUM", "'\tx", "plain"]
    assert out["n"].tolist() == list(range(7))
