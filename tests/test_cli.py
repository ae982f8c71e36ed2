"""The command line contract, through real subprocesses on a home of the test's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
