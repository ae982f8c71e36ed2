"""``ingest``, ``datasets``, ``compare`` and ``delete`` through real subprocesses (core/cli/datasets.py)."""

from __future__ import annotations

import json
from pathlib import Path

import palmerpenguins
import pytest

from tests.cli.conftest import ok, run, user_error
from tests.conftest import RICE


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "not found"), ("", "is empty"), ("a,b\n1,2\n", "'Class' is not in the file")],
    ids=["missing file", "empty file", "wrong target"],
)
def test_user_errors_exit_2_with_one_line_and_store_nothing(settings, tmp_path: Path, content, words) -> None:
    home = settings.home
    ok(home, "ingest", str(RICE), "--name", "rice", "--target", "Class")
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_text(content)
    assert words in user_error(home, "ingest", str(path), "--name", "rice", "--target", "Class")
    listed = ok(home, "ingest", str(RICE), "--name", "rice", "--target", "Class")
    assert listed["version"] == 1 and listed["created"] is False


def test_ingest_with_missing_markers_then_list_compare_and_delete(settings, tmp_path: Path) -> None:
    home = settings.home
    path = tmp_path / "m.csv"
    path.write_text("n;c;Class\n" + "".join(f"{'-' if i % 5 == 0 else i};x{i % 3};{'ab'[i % 2]}\n" for i in range(40)))
    first = ok(home, "ingest", str(path), "--name", "m", "--target", "Class")
    assert first["columns"]["n"] == "categorical" and first["missing_markers"] == ["", "NA", "N/A", "null", "?"]
    second = ok(home, "ingest", str(path), "--name", "m", "--target", "Class", "--missing-markers=-,NA")
    assert second["version"] == 2 and second["created"] is True
    assert second["columns"]["n"] == "numeric" and second["missing_markers"] == ["", "-", "NA"]

    listed = ok(home, "datasets")
    assert [(v["dataset"], v["version"]) for v in listed["versions"]] == [("m", 2), ("m", 1)]
    assert listed["versions"][0]["rows"] == 40 and listed["versions"][0]["source_file"] == "m.csv"
    assert ok(home, "datasets", "--name", "m")["versions"][1]["missing_markers"][1] == "NA"
    assert "No dataset 'nope'" in user_error(home, "datasets", "--name", "nope")

    diff = ok(home, "compare", "--dataset", "m", "--a", "1", "--b", "2")
    assert diff["role_changed"] == [{"name": "n", "a": "categorical", "b": "numeric"}]
    assert diff["rows"] == {"a": 40, "b": 40, "change": 0} and diff["same_content"] is True
    assert "version 3" in user_error(home, "compare", "--dataset", "m", "--a", "1", "--b", "3")

    assert ok(home, "delete", "--dataset", "m", "--version", "1") == {"dataset": "m", "version": 1, "deleted": True}
    assert [v["version"] for v in ok(home, "datasets")["versions"]] == [2]


def test_ingest_refusals_exit_2_with_one_line(settings, tmp_path: Path) -> None:
    home = settings.home
    workbook = tmp_path / "book.csv"
    workbook.write_bytes(b"PK\x03\x04[Content_Types].xml xl/workbook.xml")
    assert "Excel workbook" in user_error(home, "ingest", str(workbook), "--name", "b", "--target", "Class")
    assert "COLUMN=ROLE" in user_error(home, "ingest", str(RICE), "--name", "r", "--target", "Class", "--role", "Area")
    assert ok(home, "datasets") == {"versions": []}


def test_delete_of_a_version_a_model_uses_exits_2(trained_settings) -> None:
    message = user_error(trained_settings.home, "delete", "--dataset", "rice", "--version", "1")
    assert "cannot be deleted" in message and "1 (champion)" in message
    assert [v["version"] for v in ok(trained_settings.home, "datasets")["versions"]] == [1]


def test_ingest_warns_of_a_column_that_gives_the_target_away(settings, tmp_path: Path) -> None:
    penguins = palmerpenguins.load_penguins()
    clean, leaking = tmp_path / "penguins.csv", tmp_path / "penguins_coded.csv"
    penguins.to_csv(clean, index=False)
    penguins.assign(genus=penguins["species"].str[:3]).to_csv(leaking, index=False)

    assert "warnings" not in ok(settings.home, "ingest", str(clean), "--name", "penguins", "--target", "species")
    done = run(settings.home, "ingest", str(leaking), "--name", "coded", "--target", "species")
    assert done.returncode == 0, done.stderr
    [warning] = json.loads(done.stdout)["warnings"]
    assert warning.startswith("`genus` alone predicts `species` perfectly") and "identifier" in warning
    assert f"warning: {warning}" in done.stderr.splitlines()
    # left out as the warning advises: no warning on the new version
    again = ok(
        settings.home, "ingest", str(leaking), "--name", "coded", "--target", "species", "--role", "genus=identifier"
    )
    assert again["version"] == 2 and "warnings" not in again
