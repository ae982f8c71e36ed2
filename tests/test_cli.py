"""The command line contract, through real subprocesses on a home of the test's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.config import REPO_ROOT
from tests.conftest import RICE


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "--home", str(home), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(home: Path, *args: str) -> dict:
    done = run(home, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def user_error(home: Path, *args: str) -> str:
    done = run(home, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ")
    return message


def test_ingest_train_predict_models_on_rice(settings, tmp_path: Path) -> None:
    home = settings.home
    ingested = ok(home, "ingest", str(RICE), "--name", "rice", "--target", "Class")
    assert ingested["dataset"] == "rice" and ingested["version"] == 1 and ingested["rows"] == 3810
    assert ingested["columns"]["Area"] == "numeric" and ingested["columns"]["Class"] == "target"

    trained = ok(home, "train", "--dataset", "rice", "--trials", "2", "--seed", "7")
    assert trained["model"] == "rice" and trained["version"] == 1 and trained["aliases"] == ["champion"]
    assert set(trained["metrics"]) >= {"accuracy", "f1_macro", "roc_auc"}
    assert "warnings" not in trained  # rice's columns tell the varieties apart

    source, output = tmp_path / "in.csv", tmp_path / "scored.csv"
    pd.read_csv(RICE, nrows=30).drop(columns="Class").to_csv(source, index=False)
    predicted = ok(home, "predict", "--dataset", "rice", "--input", str(source), "--output", str(output))
    assert predicted["rows"] == 30 and predicted["scored"] == 30 and predicted["rejected"] == 0
    assert predicted["model_version"] == 1 and predicted["batch_id"]
    scored = pd.read_csv(output)
    assert list(scored.columns[-6:]) == [
        "prediction_id",
        "prediction",
        "confidence",
        "proba_Cammeo",
        "proba_Osmancik",
        "flags",
    ]

    models = ok(home, "models", "--dataset", "rice")
    assert models == {
        "model": "rice",
        "versions": [{"version": 1, "aliases": ["champion"], "metrics": models["versions"][0]["metrics"]}],
    }


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


def test_commands_on_unknown_dataset_or_missing_model_exit_2(settings, tmp_path: Path) -> None:
    home = settings.home
    assert "No dataset 'nope'" in user_error(home, "train", "--dataset", "nope")
    ok(home, "ingest", str(RICE), "--name", "rice", "--target", "Class")
    message = user_error(
        home, "predict", "--dataset", "rice", "--input", str(RICE), "--output", str(tmp_path / "o.csv")
    )
    assert "no champion model yet" in message


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


def test_a_model_no_better_than_chance_is_registered_with_a_warning(settings, tmp_path: Path) -> None:
    """Columns that say nothing about the target: the model is kept, and every output says so."""
    import numpy as np

    rng = np.random.default_rng(11)
    noise = pd.DataFrame({f"x{i}": rng.normal(size=300) for i in range(4)})
    noise["outcome"] = rng.choice(["stay", "leave"], size=300)
    source = tmp_path / "noise.csv"
    noise.to_csv(source, index=False)
    home = settings.home
    ok(home, "ingest", str(source), "--name", "noise", "--target", "outcome")

    done = run(home, "train", "--dataset", "noise", "--trials", "2")
    assert done.returncode == 0, done.stderr
    trained = json.loads(done.stdout)
    assert trained["aliases"] == ["champion"]
    [warning] = trained["warnings"]
    assert warning.startswith("The model is not clearly better than chance")
    assert f"warning: {warning}" in done.stderr.splitlines()

    ok(home, "card", "--dataset", "noise", "--output", str(tmp_path / "card"))
    card = (tmp_path / "card" / "model_card_noise_v1.md").read_text()
    assert "**Against guessing:** Always answering" in card and "> **Warning:** The model is not clearly" in card


def test_train_writes_library_warnings_to_the_job_log_and_counts_what_it_left_out(settings, tmp_path: Path) -> None:
    home = settings.home
    rng = np.random.default_rng(0)
    labels = ["a", "b"] * 20
    labels[3] = labels[10] = labels[17] = ""  # three rows without a label
    # a column with no value at all, set to numeric: every fit warns that it skips it (a library warning)
    frame = pd.DataFrame({"x": rng.normal(size=40).round(3), "empty": [None] * 40, "y": labels})
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    ingested = ok(home, "ingest", str(path), "--name", "t", "--target", "y", "--role", "empty=numeric")
    assert ingested["rows"] == 40 and ingested["unlabelled_rows"] == 3

    done = run(home, "train", "--dataset", "t", "--trials", "2")
    assert done.returncode == 0, done.stderr
    for text in ("Warning", "warnings.warn", "Skipping features"):
        assert text not in done.stderr  # nothing of scikit-learn's on the terminal ...
    trained = json.loads(done.stdout)
    caught = trained["library_warnings"]
    log = Path(caught["log"])
    assert caught["count"] >= 1 and log.parent == home / "artifacts" / "jobs"
    assert f"{caught['count']:,} library warnings written to {log}" in done.stderr  # ... one line instead
    assert "UserWarning: Skipping features without any observed values" in log.read_text()  # ... and found here
    assert trained["rows"]["without_label"] == 3 and trained["rows"]["training"] + trained["rows"]["holdout"] == 37
    assert "3 rows without a label were left out of training" in done.stderr

    source, output = tmp_path / "in.csv", tmp_path / "scored.csv"
    source.write_text("x,empty\n0.5,\n\n1.5,\n\n")
    predicted = ok(home, "predict", "--dataset", "t", "--input", str(source), "--output", str(output))
    assert (predicted["scored"], predicted["rejected"], predicted["blank_lines"]) == (2, 0, 2)
