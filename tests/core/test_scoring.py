"""Scoring: the input contract, single rows, batch files and the prediction ledger (real homes, real models)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from core import registry, scoring
from core.config import Settings, get_settings
from core.db.models import Batch, BatchChunk, Prediction
from core.errors import InputContractError, InputFileError
from core.scoring import (
    batch_csv,
    batch_status,
    build_contract,
    check_inputs,
    list_batches,
    load_champion,
    neutralise_formulas,
    rejected_path,
    score_file,
    score_row,
)
from tests.conftest import RICE, _use_home
from tests.homes import copy_home, home_settings

FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def _ledger_count(sessions, batch_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(Prediction)
    if batch_id is not None:
        stmt = stmt.where(Prediction.batch_id == batch_id)
    with sessions() as session:
        return session.scalar(stmt)


def _score(settings, sessions, source: Path, output: Path, dataset: str = "rice", **kwargs) -> dict:
    return score_file(
        sessions=sessions, settings=settings, dataset=dataset, input_path=source, output_path=output, **kwargs
    )


def _rice(rows: int) -> pd.DataFrame:
    return pd.read_csv(RICE, nrows=rows).drop(columns="Class")


# --- a model trained on dates, categories and numbers (once per session) ----------------------


def _events(rows: int = 240, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(0, 100, rows).round(2)
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    return pd.DataFrame(
        {
            "size": size,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "when": when.strftime("%d/%m/%Y"),
            "label": np.where(size > 50, "big", "small"),
        }
    )


@pytest.fixture(scope="session")
def events_template(tmp_path_factory: pytest.TempPathFactory, empty_template: Path) -> Path:
    from core.datasets.versions import ingest
    from core.db import open_database
    from core.training.train import train

    home = copy_home(empty_template, tmp_path_factory.mktemp("templates") / "events")
    settings = home_settings(home)
    source = home / "events.csv"
    _events().to_csv(source, index=False)
    with open_database(settings).begin() as session:
        version, _ = ingest(session=session, path=source, name="events", target="label")
        assert version.roles == {"size": "numeric", "colour": "categorical", "when": "datetime", "label": "target"}
    with open_database(settings).begin() as session:
        train(session=session, settings=settings, dataset="events", trials=1)
    return home


@pytest.fixture
def events_settings(tmp_path: Path, events_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    yield _use_home(monkeypatch, copy_home(events_template, tmp_path / "home"))
    get_settings.cache_clear()


@pytest.fixture
def events_sessions(events_settings: Settings):
    from core.db import open_database

    return open_database(events_settings)


# --- the contract -------------------------------------------------------------------------------


def test_contract_has_ranges_typical_values_and_classes(trained_settings) -> None:
    contract = load_champion(trained_settings, "rice").contract
    assert [f["name"] for f in contract["features"]] == FEATURES
    area = contract["features"][0]
    assert area["integer"] and area["min"] < area["typical"] < area["max"]
    assert sorted(contract["classes"]) == ["Cammeo", "Osmancik"]


def test_contract_treats_dates_as_dates_with_their_format() -> None:
    frame = pd.DataFrame(
        {
            "when": ["2024-01-05", "2024-03-01", "2024-02-10", None],
            "colour": ["red", "red", "blue", "red"],
            "size": [1.5, 2.0, 3.0, None],
        }
    )
    features = [
        {"name": "when", "role": "datetime", "format": "%d/%m/%Y"},
        {"name": "colour", "role": "categorical"},
        {"name": "size", "role": "numeric"},
    ]
    contract = build_contract(frame, features, ["a", "b"])
    when, colour, size = contract["features"]
    assert when == {
        "name": "when",
        "role": "datetime",
        "format": "%d/%m/%Y",
        "has_time": False,
        "min": "2024-01-05",
        "max": "2024-03-01",
        "typical": "2024-02-10",
    }
    assert colour["categories"] == ["red", "blue"] and colour["typical"] == "red" and colour["complete"]
    assert size["min"] == 1.5 and size["max"] == 3.0 and not size["integer"]


def test_check_inputs_rejects_unreadable_values_and_flags_unseen_ones() -> None:
    contract = {
        "features": [
            {"name": "n", "role": "numeric", "min": 0.0, "max": 10.0, "typical": 5.0, "format": "1.234.567,5"},
            {"name": "c", "role": "categorical", "categories": ["x", "y"], "complete": True, "typical": "x"},
            {"name": "d", "role": "datetime", "format": "%d/%m/%Y", "min": "2024-01-01", "max": "2024-12-31"},
        ],
        "classes": ["a", "b"],
    }
    frame = pd.DataFrame(
        {
            "n": ["1,5", "lots", "20", None, "inf", "3"],
            "c": ["x", "z", "y", "x", "x", None],
            "d": ["31/12/2024", "01/01/2024", "2024-06-01", "32/13/2024", "01/01/2030", None],
        }
    )
    typed, reasons, flags = check_inputs(frame, contract)
    assert reasons.tolist() == [
        "",
        "n: 'lots' is not a number",
        "",
        "d: '32/13/2024' is not a date",
        "n: not a finite number",
        "",
    ]
    assert flags.tolist() == [
        "",
        "c: unseen category",
        "n: outside training range",
        "",
        "d: outside training dates",
        "mostly missing: 2 of 3 inputs empty",  # scored on imputed values more than its own
    ]
    assert typed["n"].iloc[0] == 1.5  # the training file's number style
    assert typed["d"].iloc[2] == pd.Timestamp("2024-06-01")  # ISO dates are read too
    assert typed["n"].isna().iloc[3] and typed["c"].isna().iloc[5] and typed["d"].isna().iloc[5]  # missing: scored


def test_a_missing_column_is_refused_naming_it() -> None:
    contract = {"features": [{"name": "n", "role": "numeric"}, {"name": "m", "role": "numeric"}], "classes": [0, 1]}
    with pytest.raises(InputContractError, match="Missing columns the model needs: 'n', 'm'"):
        check_inputs(pd.DataFrame({"other": [1]}), contract)


# --- one row ------------------------------------------------------------------------------------


def test_score_row_goes_to_the_ledger_with_the_model_version(trained_settings, trained_sessions) -> None:
    row = _rice(1).iloc[0].to_dict()
    with trained_sessions.begin() as session:
        scored = score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert scored.prediction in {"Cammeo", "Osmancik"}
    assert scored.flags == []
    assert sum(scored.probabilities.values()) == pytest.approx(1.0)
    assert {r.column for r in scored.explanation.reasons} == set(FEATURES)
    with trained_sessions() as session:
        stored = session.get(Prediction, scored.prediction_id)
    assert stored.model_version == 1 and stored.source == "form" and stored.batch_id is None
    assert stored.predicted_class == scored.prediction
    assert json.loads(stored.inputs)["Area"] == row["Area"]
    assert set(json.loads(stored.probabilities)) == {"Cammeo", "Osmancik"}


def test_out_of_range_values_are_scored_and_flagged(trained_settings, trained_sessions) -> None:
    row = _rice(1).iloc[0].to_dict() | {"Area": 10**9}
    with trained_sessions.begin() as session:
        scored = score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert scored.flags == ["Area: outside training range"]


def test_an_unreadable_value_is_refused_and_nothing_is_stored(trained_settings, trained_sessions) -> None:
    row = _rice(1).iloc[0].to_dict() | {"Area": "lots"}
    with pytest.raises(InputContractError, match="Area: 'lots' is not a number"), trained_sessions.begin() as session:
        score_row(session=session, settings=trained_settings, dataset="rice", values=row)
    assert _ledger_count(trained_sessions) == 0


def test_a_form_row_with_a_date_object_and_a_new_category(events_settings, events_sessions) -> None:
    from datetime import date

    row = {"size": 80.0, "colour": "purple", "when": date(2023, 6, 1)}
    with events_sessions.begin() as session:
        scored = score_row(session=session, settings=events_settings, dataset="events", values=row)
    assert scored.prediction == "big"
    assert scored.flags == ["colour: unseen category"]
    with events_sessions() as session:
        assert json.loads(session.get(Prediction, scored.prediction_id).inputs)["when"].startswith("2023-06-01")


# --- batches ------------------------------------------------------------------------------------


def test_score_file_accounts_for_every_row(trained_settings, trained_sessions, tmp_path: Path) -> None:
    frame = _rice(50)
    frame.insert(0, "id", [f"r{i}" for i in range(50)])
    frame["note"] = "=HYPERLINK(1)"  # an extra column: kept, ignored by the model, neutralised
    frame.loc[3, "Area"] = "lots"
    frame.loc[9, "Extent"] = "inf"
    frame.loc[7, "Extent"] = "?"  # a missing marker: scored, not rejected
    frame.loc[11, "Area"] = -5  # out of range: scored, flagged, and it stays a number
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)
    calls = []
    result = _score(
        trained_settings, trained_sessions, source, output, chunk_size=20, progress=lambda *a: calls.append(a)
    )
    assert (result["rows"], result["scored"], result["rejected"], result["model_version"]) == (50, 48, 2, 1)
    assert result["status"] == "complete" and result["extra_columns"] == ["id", "note"]
    assert result["notes"][0] == "Extra columns kept in the output and ignored by the model: 'id', 'note'."
    assert [c[0] for c in calls] == [20, 40, 50] and calls[-1][1] == 50
    scored, rejected = pd.read_csv(output), pd.read_csv(rejected_path(output))
    added = ["prediction_id", "prediction", "confidence", "proba_Cammeo", "proba_Osmancik", "flags"]
    assert list(scored.columns) == ["id", *FEATURES, "note", *added]
    assert rejected[["id", "row", "reason"]].values.tolist() == [
        ["r3", 4, "Area: 'lots' is not a number"],
        ["r9", 10, "Extent: not a finite number"],
    ]
    assert set(scored["id"]) | set(rejected["id"]) == set(frame["id"]) and not set(scored["id"]) & set(rejected["id"])
    assert scored["note"].eq("'=HYPERLINK(1)").all()
    assert scored.set_index("id").loc["r11", "flags"] == "Area: outside training range"
    assert scored.set_index("id").loc["r11", "Area"] == -5
    assert scored["prediction_id"].is_unique and scored["proba_Cammeo"].between(0, 1).all()
    assert _ledger_count(trained_sessions) == 48
    with trained_sessions() as session:
        batch = session.get(Batch, result["batch_id"])
        assert (batch.status, batch.rows, batch.scored, batch.rejected, batch.chunks_done) == ("complete", 50, 48, 2, 3)
        assert sum(batch.class_mix.values()) == 48 and sum(batch.confidence_bins) == 48
        ids = set(session.scalars(select(Prediction.id).where(Prediction.batch_id == batch.id)))
        versions = set(session.scalars(select(Prediction.model_version).where(Prediction.batch_id == batch.id)))
    assert ids == set(scored["prediction_id"]) and versions == {1}


def test_empty_lines_of_a_spreadsheet_export_are_rejected_not_scored(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    _rice(5).to_csv(source, index=False)
    with source.open("a") as fh:
        fh.write(",,,,,,\n,,,,,,\n")  # what a spreadsheet leaves below the last row
    result = _score(trained_settings, trained_sessions, source, output)
    assert (result["rows"], result["scored"], result["rejected"]) == (7, 5, 2)
    rejected = pd.read_csv(rejected_path(output))
    assert rejected[["row", "reason"]].values.tolist() == [[6, scoring.EMPTY_ROW], [7, scoring.EMPTY_ROW]]
    assert _ledger_count(trained_sessions) == 5
    model = scoring.load_champion(trained_settings, "rice")
    with trained_sessions() as session, pytest.raises(InputContractError, match="every input is empty"):
        scoring.score_values(session=session, model=model, values=dict.fromkeys(FEATURES), source="api")


def test_blank_lines_are_counted_so_every_line_of_the_file_is_accounted_for(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    lines = _rice(8).to_csv(index=False, lineterminator="\n").splitlines()
    header, rows = lines[0], lines[1:]
    rows[5] = ",,,,,,"  # no value at all, but fields: a rejected row, as before
    # blank lines in the middle, at the chunk boundaries (3 rows a chunk), spaces only, and at the end
    body = [rows[0], "", rows[1], rows[2], "", "   ", rows[3], rows[4], rows[5], "", rows[6], rows[7], "", "\t", ""]
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("\n".join([header, *body]) + "\n")
    result = _score(trained_settings, trained_sessions, source, output, chunk_size=3)
    assert (result["scored"], result["rejected"], result["blank_lines"]) == (7, 1, 7)
    assert result["scored"] + result["rejected"] + result["blank_lines"] == len(body)
    assert any(note.startswith("7 blank lines") for note in result["notes"])
    assert len(pd.read_csv(output)) == 7 and len(pd.read_csv(rejected_path(output))) == 1

    # CRLF line breaks, no line break after the last row, and a value spanning lines are not blank lines
    frame = _rice(4)
    frame["note"] = ["one", "two\r\n\r\nlines", "three", "four"]
    text = frame.to_csv(index=False, lineterminator="\r\n").rstrip("\r\n")
    first, rest = text.split("\r\n", 1)
    source.write_bytes(f"{first}\r\n\r\n{rest}".encode())
    result = _score(trained_settings, trained_sessions, source, tmp_path / "out2.csv", chunk_size=2)
    assert (result["scored"], result["rejected"], result["blank_lines"]) == (4, 0, 1)

    # a lone carriage return inside a value of a line-feed file (written unquoted) is not a line break
    frame["note"] = ["one", "two\rparts", "three", "fo\rur"]
    source.write_text(frame.to_csv(index=False, lineterminator="\n"))
    result = _score(trained_settings, trained_sessions, source, tmp_path / "out3.csv", chunk_size=2)
    assert (result["scored"], result["rejected"], result["blank_lines"]) == (4, 0, 0)
    assert pd.read_csv(tmp_path / "out3.csv", lineterminator="\n")["note"].tolist() == frame["note"].tolist()


def test_the_output_files_carry_the_cells_exactly_as_written(trained_settings, trained_sessions, tmp_path) -> None:
    header = ",".join(["id", *FEATURES, "note"])
    first = _rice(3).astype(str).to_numpy().tolist()
    first[0][0] = "15231.0"  # Area: a whole number written with a decimal
    first[1][1] = " 525.5 "  # Perimeter: spaces around a number
    first[2][0] = "lots"  # Area: unreadable, so the row is rejected
    ids, notes = ["007", "A-1 ", "  x"], ["NA", "35.0", '"with, comma"']
    text = header + "\n" + "\n".join(",".join([i, *row, n]) for i, row, n in zip(ids, first, notes, strict=True))
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(text + "\n")
    result = _score(trained_settings, trained_sessions, source, output)
    assert (result["scored"], result["rejected"]) == (2, 1)
    scored = pd.read_csv(output, dtype=str, keep_default_na=False)
    rejected = pd.read_csv(rejected_path(output), dtype=str, keep_default_na=False)
    assert scored["id"].tolist() == ["007", "A-1 "] and rejected["id"].tolist() == ["  x"]
    assert scored["note"].tolist() == ["NA", "35.0"] and rejected["note"].tolist() == ["with, comma"]
    assert scored["Area"].tolist()[0] == "15231.0" and scored["Perimeter"].tolist()[1] == " 525.5 "
    assert rejected["Area"].tolist() == ["lots"]
    with trained_sessions() as session:  # the ledger keeps the values as the model read them
        inputs = [json.loads(p.inputs) for p in session.scalars(select(Prediction).order_by(Prediction.id))]
    assert inputs[0]["Area"] == 15231 and inputs[1]["Perimeter"] == 525.5

    # a quoted value after a space (past the rows the format is sniffed on) is read as quoted, as
    # the model's reading does, so every row keeps its own cells
    plain = [",".join([f"p{i}", *first[0], "n"]) for i in range(250)]
    source.write_text("\n".join([header, *plain, ",".join(["a", *first[0], ' "q, r"'])]) + "\n")
    result = _score(trained_settings, trained_sessions, source, tmp_path / "out2.csv", chunk_size=100)
    assert result["scored"] == 251
    assert pd.read_csv(tmp_path / "out2.csv", dtype=str)["note"].tolist()[-2:] == ["n", "q, r"]


def test_a_row_with_most_inputs_empty_is_scored_and_flagged(trained_settings, trained_sessions, tmp_path) -> None:
    frame = _rice(3).astype(object)
    frame.loc[0, FEATURES[:4]] = None  # 4 of 7 empty: more than half
    frame.loc[1, FEATURES[:3]] = None  # 3 of 7: not flagged
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)
    result = _score(trained_settings, trained_sessions, source, output)
    assert (result["scored"], result["rejected"]) == (3, 0)
    flags = pd.read_csv(output, keep_default_na=False)["flags"].tolist()
    assert flags == [f"{scoring.MOSTLY_MISSING}: 4 of 7 inputs empty", "", ""]
    values = dict.fromkeys(FEATURES) | {"Area": 15231, "Extent": 0.57}
    with trained_sessions.begin() as session:
        row = score_row(session=session, settings=trained_settings, dataset="rice", values=values)
    assert row.flags == ["mostly missing: 5 of 7 inputs empty"]


def test_dates_categories_and_ranges_in_a_file(events_settings, events_sessions, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "when": ["15/03/2023", "2023-04-01", "32/13/2023", "01/01/2031", "10/10/2023"],
            "size": [70, 20, 30, 40, 1000],
            "colour": ["red", "blue", "green", "red", "purple"],
        }
    )
    source, output = tmp_path / "events.csv", tmp_path / "scored.csv"
    frame.to_csv(source, index=False)
    result = _score(events_settings, events_sessions, source, output, dataset="events")
    assert (result["rows"], result["scored"], result["rejected"]) == (5, 4, 1)
    scored, rejected = pd.read_csv(output, keep_default_na=False), pd.read_csv(rejected_path(output))
    assert rejected[["row", "reason"]].values.tolist() == [[3, "when: '32/13/2023' is not a date"]]
    assert scored["flags"].tolist() == [
        "",
        "",
        "when: outside training dates",
        "size: outside training range; colour: unseen category",
    ]
    assert scored["prediction"].tolist()[0] == "big" and scored["prediction"].tolist()[1] == "small"


def test_missing_column_is_refused_before_anything_is_stored(trained_settings, trained_sessions, tmp_path) -> None:
    source = tmp_path / "in.csv"
    _rice(5).drop(columns=["Extent"]).to_csv(source, index=False)
    with pytest.raises(InputContractError, match="Missing column the model needs: 'Extent'"):
        _score(trained_settings, trained_sessions, source, tmp_path / "out.csv")
    assert _ledger_count(trained_sessions) == 0
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 0


def test_header_only_file_is_refused(trained_settings, trained_sessions, tmp_path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(",".join(FEATURES) + "\n")
    with pytest.raises(InputFileError, match="no rows"):
        _score(trained_settings, trained_sessions, source, tmp_path / "out.csv")
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 0


def test_an_output_that_cannot_be_written_is_refused_first(trained_settings, trained_sessions, tmp_path) -> None:
    source = tmp_path / "in.csv"
    _rice(5).to_csv(source, index=False)
    with pytest.raises(InputFileError, match="does not exist"):
        _score(trained_settings, trained_sessions, source, tmp_path / "nowhere" / "out.csv")
    with pytest.raises(InputFileError, match="would overwrite the input"):
        _score(trained_settings, trained_sessions, source, source)
    assert _ledger_count(trained_sessions) == 0 and source.read_text().startswith("Area,")


def test_neutralise_formulas_keeps_negative_numbers() -> None:
    frame = pd.DataFrame(
        {"text": ["=1+2", "+cmd", "-2.5", "@SUM", "\tx", "\rx", "plain", None, "-"], "n": range(-4, 5)}
    )
    out = neutralise_formulas(frame)
    assert out["text"].tolist()[:7] == ["'=1+2", "'+cmd", "-2.5", "'@SUM", "'\tx", "'\rx", "plain"]
    assert out["text"].iloc[7] is None and out["text"].iloc[8] == "'-"
    assert out["n"].tolist() == list(range(-4, 5))
    assert frame["text"].iloc[0] == "=1+2"  # the input is left as it was


def test_every_export_is_safe_in_a_spreadsheet(events_settings, events_sessions, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "size": [60, "=cmd()", -3, 20],
            "colour": ["@SUM(A1)", "red", "-2.5", "+red"],
            "when": ["01/02/2023"] * 4,
            "=bad header": ["-1", "=x", "ok", "\tx"],
        }
    )
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)
    result = _score(events_settings, events_sessions, source, output, dataset="events")
    assert (result["scored"], result["rejected"]) == (3, 1)
    text = output.read_text()
    header = text.splitlines()[0]
    assert header.startswith('"size","colour","when","\'=bad header"')
    scored = pd.read_csv(output, keep_default_na=False)
    assert scored["colour"].tolist() == ["'@SUM(A1)", "-2.5", "'+red"]
    # the cells as written: a leading tab is kept, and neutralised like any formula prefix
    assert scored["'=bad header"].astype(str).tolist() == ["-1", "ok", "'\tx"]
    assert scored["size"].tolist() == [60, -3, 20]  # numbers, negative ones included, stay numbers
    assert "\n-3," in text.replace('"', "")
    rejected = pd.read_csv(rejected_path(output), keep_default_na=False)
    assert rejected["size"].tolist() == ["'=cmd()"] and rejected["'=bad header"].tolist() == ["'=x"]
    assert rejected["reason"].tolist() == ["size: '=cmd()' is not a number"]  # the reason quotes it: safe
    with events_sessions() as session:
        again = pd.read_csv(io.BytesIO(batch_csv(session=session, batch_id=result["batch_id"])))
    assert again["colour"].fillna("").tolist() == ["'@SUM(A1)", "-2.5", "'+red"]
    assert again["size"].tolist() == [60, -3, 20]
    assert again["prediction_id"].tolist() == scored["prediction_id"].tolist()
    assert again["prediction"].tolist() == scored["prediction"].tolist()
    assert again["proba_big"].round(5).tolist() == scored["proba_big"].round(5).tolist()


def test_an_interrupted_batch_is_incomplete_and_a_rerun_resumes_it(trained_settings, trained_sessions, tmp_path):
    frame = _rice(50)
    frame.loc[25, "Area"] = "oops"
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)

    def stop_after_first_chunk(done: int, expected: int) -> None:
        raise KeyboardInterrupt("stopped by the analyst")

    with pytest.raises(KeyboardInterrupt):
        _score(trained_settings, trained_sessions, source, output, chunk_size=20, progress=stop_after_first_chunk)
    with trained_sessions() as session:
        (batch,) = list_batches(session=session, dataset="rice")
        assert (batch_status(batch), batch.chunks_done, batch.rows, batch.scored) == ("incomplete", 1, 20, 20)
        assert "KeyboardInterrupt" in batch.error
    assert _ledger_count(trained_sessions) == 20

    result = _score(trained_settings, trained_sessions, source, output, chunk_size=7)  # the batch's own size wins
    assert result["batch_id"] == batch.id and result["resumed"] is True
    assert (result["rows"], result["scored"], result["rejected"], result["status"]) == (50, 49, 1, "complete")
    assert "20 rows were already in the ledger" in result["notes"][-1]
    assert _ledger_count(trained_sessions) == 49 == _ledger_count(trained_sessions, batch.id)
    scored = pd.read_csv(output)
    assert len(scored) == 49 and len(pd.read_csv(rejected_path(output))) == 1
    with trained_sessions() as session:
        ids = list(
            session.scalars(select(Prediction.id).where(Prediction.batch_id == batch.id).order_by(Prediction.id))
        )
        chunks = session.scalar(select(func.count()).select_from(BatchChunk).where(BatchChunk.batch_id == batch.id))
    assert scored["prediction_id"].tolist() == ids and chunks == 3
    # the batch is complete now: the same file again is a new batch
    again = _score(trained_settings, trained_sessions, source, tmp_path / "again.csv")
    assert again["batch_id"] != batch.id and again["resumed"] is False
    assert _ledger_count(trained_sessions) == 98


def test_a_running_batch_whose_process_is_gone_reads_as_incomplete() -> None:
    from core.processes import HOST

    gone = Batch(id="x", dataset="d", model_version=1, status="running", pid=2**22 + 12345, host=HOST)
    gone.created_at = gone.heartbeat_at = scoring.utcnow()
    assert batch_status(gone) == "incomplete"
    alive = Batch(id="y", dataset="d", model_version=1, status="running", pid=os.getpid(), host=HOST)
    alive.created_at = alive.heartbeat_at = scoring.utcnow()
    assert batch_status(alive) == "running"


# --- the champion changes -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def two_versions_template(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Path:
    from core.db import open_database
    from core.training.train import train

    home = copy_home(trained_template, tmp_path_factory.mktemp("templates") / "two_versions")
    settings = home_settings(home)
    with open_database(settings).begin() as session:
        train(session=session, settings=settings, dataset="rice", trials=1, seed=7)
    return home


def test_the_ledger_records_the_version_that_scored_across_promotions(
    tmp_path: Path, two_versions_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.db import open_database
    from core.promotion import promote

    settings = _use_home(monkeypatch, copy_home(two_versions_template, tmp_path / "home"))
    sessions = open_database(settings)
    source = tmp_path / "in.csv"
    _rice(30).to_csv(source, index=False)
    row = _rice(1).iloc[0].to_dict()

    def single() -> int:
        with sessions.begin() as session:
            return score_row(session=session, settings=settings, dataset="rice", values=row).prediction_id

    first_row, first_batch = single(), _score(settings, sessions, source, tmp_path / "a.csv")
    with sessions.begin() as session:
        promote(session=session, settings=settings, dataset="rice", version=2, reason="test")
    second_row, second_batch = single(), _score(settings, sessions, source, tmp_path / "b.csv")
    registry.set_alias(settings, "rice", registry.CHAMPION, 1)  # behind Sift's back: seen within CHAMPION_TTL
    monkeypatch.setattr(scoring, "CHAMPION_TTL", 0.0)
    third_row = single()
    with sessions() as session:
        version = {p.id: p.model_version for p in session.scalars(select(Prediction))}
        batches = {b.id: b.model_version for b in session.scalars(select(Batch))}
    assert (version[first_row], version[second_row], version[third_row]) == (1, 2, 1)
    assert (first_batch["model_version"], second_batch["model_version"]) == (1, 2)
    assert batches == {first_batch["batch_id"]: 1, second_batch["batch_id"]: 2}
    for batch, expected in ((first_batch, 1), (second_batch, 2)):
        with sessions() as session:
            stored = set(
                session.scalars(select(Prediction.model_version).where(Prediction.batch_id == batch["batch_id"]))
            )
        assert stored == {expected}
