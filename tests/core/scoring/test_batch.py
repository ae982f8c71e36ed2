"""Batch files: every row accounted for, cells as written, refusals before anything is stored, resume."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from core.champion import load_champion
from core.contract import EMPTY_ROW, MOSTLY_MISSING
from core.db.models import Batch, BatchChunk, Prediction, utcnow
from core.errors import InputContractError, InputFileError
from core.processes import HOST
from core.scoring.batch import batch_status, list_batches
from core.scoring.files import rejected_path
from core.scoring.single import score_row, score_values
from tests.core.scoring.conftest import FEATURES, _ledger_count, _rice, _score


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
    assert rejected[["row", "reason"]].values.tolist() == [[6, EMPTY_ROW], [7, EMPTY_ROW]]
    assert _ledger_count(trained_sessions) == 5
    model = load_champion(trained_settings, "rice")
    with trained_sessions() as session, pytest.raises(InputContractError, match="every input is empty"):
        score_values(session=session, model=model, values=dict.fromkeys(FEATURES), source="api")


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
    assert flags == [f"{MOSTLY_MISSING}: 4 of 7 inputs empty", "", ""]
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
    gone = Batch(id="x", dataset="d", model_version=1, status="running", pid=2**22 + 12345, host=HOST)
    gone.created_at = gone.heartbeat_at = utcnow()
    assert batch_status(gone) == "incomplete"
    alive = Batch(id="y", dataset="d", model_version=1, status="running", pid=os.getpid(), host=HOST)
    alive.created_at = alive.heartbeat_at = utcnow()
    assert batch_status(alive) == "running"
