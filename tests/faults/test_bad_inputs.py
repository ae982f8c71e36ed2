"""The bad-input set through the command line and the Data and Batch pages, with the database
fingerprinted before and after every refusal (row counts and a hash of every table's rows).

The command line runs in this process through ``core.cli.main`` (the same code as
``python -m core``: exit code 2 and one ``error:`` line for a refusal; anything else propagates
and fails the test, as it would print a traceback); one hostile-names journey and the 50 MB file
go through real ``python -m core`` processes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import MetaData, Table, inspect, select
from streamlit.testing.v1 import AppTest

from app.ui.state import Scope
from core import cli
from core.config import REPO_ROOT
from core.datasets.versions import get_version, list_versions
from core.scoring.files import rejected_path
from tests.cli.conftest import ok
from tests.core.scoring import conftest as scoring_fixtures
from tests.faults.bad_inputs import CASES, HOSTILE_NAMES, BadInput, wide_file
from tests.faults.state import fingerprint

ENTRY = str(REPO_ROOT / "streamlit_app.py")
# the scoring tests' home with a model on a number, a category and a date (built once per session)
events_template, events_settings, events_sessions = (
    scoring_fixtures.events_template,
    scoring_fixtures.events_settings,
    scoring_fixtures.events_sessions,
)
ACCEPTED = [c for c in CASES if c.refused is None]
REFUSED = [c for c in CASES if c.refused is not None]


def _cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, dict | None, str]:
    """(exit code, the JSON printed, the error line) of ``python -m core ARGS`` run in this process."""
    capsys.readouterr()
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    if code == 0:
        return code, json.loads(out), err
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    return code, None, err.strip()


def _stored(sessions, name: str, column: str, limit: int) -> list:
    with sessions() as session:
        version = get_version(session=session, name=name)
        position = next(c["position"] for c in version.columns if c["name"] == column)
        table = Table(version.rows_table, MetaData(), autoload_with=session.connection())
        cells = session.scalars(select(table.c[f"c{position}"]).order_by(table.c.row_id).limit(limit))
        return list(cells)


# --- ingest: the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_cli_refuses_with_one_line_and_changes_nothing(case: BadInput, settings, sessions, tmp_path, capsys) -> None:
    before = fingerprint(sessions)
    code, _, error = _cli(capsys, "ingest", str(case.write(tmp_path)), "--name", case.name, "--target", case.target)
    assert code == 2 and case.refused in error
    assert fingerprint(sessions) == before


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.name for c in ACCEPTED])
def test_cli_accepts_with_the_documented_roles(case: BadInput, settings, sessions, tmp_path, capsys) -> None:
    code, result, _ = _cli(capsys, "ingest", str(case.write(tmp_path)), "--name", case.name, "--target", case.target)
    assert code == 0 and result["created"] is True
    assert {k: result["columns"][k] for k in case.roles} == case.roles
    for column, values in case.stored.items():
        assert _stored(sessions, case.name, column, len(values)) == values


def test_latin1_accents_and_the_bom_are_read_cleanly(settings, sessions, tmp_path, capsys) -> None:
    for name in ("latin1", "bom"):
        case = next(c for c in CASES if c.name == name)
        assert _cli(capsys, "ingest", str(case.write(tmp_path)), "--name", name, "--target", "Class")[0] == 0
    assert set(_stored(sessions, "latin1", "colour", 60)) == {"rôt", "grün", "blå"}
    with sessions() as session:
        assert [c["name"] for c in get_version(session=session, name="bom").columns] == ["Class", "size", "colour"]


def test_text_cells_in_a_number_column_count_as_missing_and_are_named(settings, sessions, tmp_path, capsys) -> None:
    case = next(c for c in CASES if c.name == "text_in_numbers")
    assert _cli(capsys, "ingest", str(case.write(tmp_path)), "--name", case.name, "--target", case.target)[0] == 0
    cells = _stored(sessions, case.name, "size", 41)
    assert [i for i, v in enumerate(cells) if v is None] == [3, 17, 40]
    assert all(isinstance(v, float) for i, v in enumerate(cells) if i not in (3, 17, 40))
    with sessions() as session:
        size = next(c for c in get_version(session=session, name=case.name).columns if c["name"] == "size")
    assert "3 values are not numbers" in size["reason"] and "'unknown'" in size["reason"]


@pytest.mark.slow
def test_a_50_mb_file_of_a_thousand_columns_ingests(settings, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    rows = wide_file(path)
    assert path.stat().st_size > 45_000_000
    result = ok(settings.home, "ingest", str(path), "--name", "wide", "--target", "Class")
    assert result["rows"] == rows and len(result["columns"]) == 1001
    assert result["columns"]["f999"] == "numeric"


@pytest.mark.slow
def test_hostile_column_names_ingest_train_and_score_through_the_cli(settings, sessions, tmp_path: Path) -> None:
    home = settings.home
    case = next(c for c in CASES if c.name == "hostile_names")
    source = case.write(tmp_path)
    ingested = ok(home, "ingest", str(source), "--name", "hostile", "--target", "Class")
    assert set(HOSTILE_NAMES) <= set(ingested["columns"])
    ok(home, "train", "--dataset", "hostile", "--trials", "1")
    output = tmp_path / "scored.csv"
    predicted = ok(home, "predict", "--dataset", "hostile", "--input", str(source), "--output", str(output))
    assert predicted["scored"] == 60 and predicted["rejected"] == 0
    scored = pd.read_csv(output)
    assert set(HOSTILE_NAMES) <= {c.lstrip("'") for c in scored.columns}
    with sessions() as session:  # the tables the names aimed at are still there, with their rows
        assert {"dataset_versions", "predictions", "batches"} <= set(inspect(session.connection()).get_table_names())
        assert [v.name for v in list_versions(session=session)] == ["hostile"]


# --- ingest: the Data page ----------------------------------------------------------------------------


def _data_page(path: Path) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.session_state["data_upload_path"] = str(path)
    at.session_state["data_upload_name"] = path.name
    at.run()
    at.switch_page("app/pages/data.py").run()
    assert not at.exception
    return at


# the page offers the file's own columns as the target, so a missing target cannot be chosen there
PAGE_REFUSED = [c for c in REFUSED if c.name not in ("missing_target", "colons")]


@pytest.mark.parametrize("case", PAGE_REFUSED, ids=[c.name for c in PAGE_REFUSED])
def test_data_page_shows_the_refusal_and_changes_nothing(case: BadInput, settings, sessions, tmp_path) -> None:
    before = fingerprint(sessions)
    at = _data_page(case.write(tmp_path))
    if not at.error:  # readable: the refusal comes when saving
        at.selectbox(key="data_target_0").set_value(case.target).run()
        at.button(key="data_save").click().run()
        assert not at.exception
    assert any(case.refused in e.value for e in at.error), [e.value for e in at.error]
    assert fingerprint(sessions) == before


@pytest.mark.parametrize("case", ACCEPTED, ids=[c.name for c in ACCEPTED])
def test_data_page_saves_with_the_documented_roles(case: BadInput, settings, sessions, tmp_path) -> None:
    at = _data_page(case.write(tmp_path))
    assert not at.error, [e.value for e in at.error]
    at.selectbox(key="data_target_0").set_value(case.target).run()
    at.button(key="data_save").click().run()
    assert not at.exception and not at.error
    with sessions() as session:
        version = get_version(session=session, name=at.session_state["sift_dataset"])
    assert {k: version.roles[k] for k in case.roles} == case.roles
    for column, values in case.stored.items():
        assert _stored(sessions, version.name, column, len(values)) == values


# --- batch scoring: a model with a number, a category and a date ---------------------------------------


def _events_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size": [10.5, 70.0, 30.0, 90.0],
            "colour": ["red", "green", "purple", "=1+2"],
            "when": ["01/02/2023", "15/03/2023", "20/04/2023", "01/05/2023"],
        }
    )


BATCH_CASES = {
    "missing_column": (lambda f: f.drop(columns="colour"), "Missing column the model needs: 'colour'"),
    "extra_columns": (lambda f: f.assign(customer=["a", "b", "c", "d"], **{"=evil": ["-1", "@x", "ok", "+y"]}), None),
    "text_in_numbers": (lambda f: f.astype({"size": object}).assign(size=[10.5, "big", 30.0, "=9*9"]), None),
    "unseen_category": (lambda f: f, None),
}


@pytest.mark.parametrize("name", list(BATCH_CASES))
def test_batch_inputs_through_the_cli(name: str, events_sessions, tmp_path, capsys) -> None:
    sessions = events_sessions
    change, refused = BATCH_CASES[name]
    source, output = tmp_path / f"{name}.csv", tmp_path / "out.csv"
    change(_events_rows()).to_csv(source, index=False)
    before = fingerprint(sessions)
    code, result, error = _cli(
        capsys, "predict", "--dataset", "events", "--input", str(source), "--output", str(output)
    )
    if refused:
        assert code == 2 and refused in error
        assert fingerprint(sessions) == before and not output.exists()
        return
    assert code == 0 and result["rows"] == 4
    scored = pd.read_csv(output, keep_default_na=False, dtype=str)
    rejected = pd.read_csv(rejected_path(output), keep_default_na=False, dtype=str)
    assert len(scored) + len(rejected) == 4
    assert "'=1+2" in [*scored["colour"], *rejected["colour"]]  # neutralised for spreadsheets
    flags = dict(zip(scored["colour"], scored["flags"], strict=True))
    assert "colour: unseen category" in flags["purple"]
    if name == "extra_columns":
        assert scored["customer"].tolist() == ["a", "b", "c", "d"]
        assert scored["'=evil"].tolist() == ["-1", "'@x", "ok", "'+y"]  # a negative number stays a number
        assert any("'customer'" in n for n in result["notes"])
    if name == "text_in_numbers":
        assert result["rejected"] == 2
        assert rejected["size"].tolist() == ["big", "'=9*9"]
        assert rejected["reason"].tolist() == ["size: 'big' is not a number", "size: '=9*9' is not a number"]


BATCH = Scope("batch", {"dataset": "events", "version": 1})  # the Batch page's state for the events champion


def test_batch_page_refuses_a_missing_column_and_scores_the_rest(events_sessions, tmp_path) -> None:
    sessions = events_sessions
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.run()
    at.switch_page("app/pages/batch.py").run()
    before = fingerprint(sessions)
    for name, (change, refused) in BATCH_CASES.items():
        source = tmp_path / name / "in.csv"
        source.parent.mkdir()
        change(_events_rows()).to_csv(source, index=False)
        at.session_state[BATCH.key("input_path")] = str(source)
        at.session_state[BATCH.key("input_name")] = f"{name}.csv"
        at.session_state[BATCH.key("result")] = None
        at.run()
        assert not at.exception
        if refused:
            assert any("'colour'" in e.value for e in at.error)
            assert not [b for b in at.button if b.key == BATCH.key("score")]
            assert fingerprint(sessions) == before
            continue
        at.button(key=BATCH.key("score")).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        scored = pd.read_csv(tmp_path / name / f"{name}.scored.csv", keep_default_na=False, dtype=str)
        assert any("unseen category" in f for f in scored["flags"])
        if name == "text_in_numbers":
            assert [m.value for m in at.metric][:3] == ["4", "2", "2"]
        if name == "extra_columns":
            assert any("'customer'" in i.value for i in at.info)
