"""The command line contract across command groups (core/cli/__init__.py), through real subprocesses:
one JSON object on stdout and exit 0, or one ``error:`` line on stderr and exit 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.cli import build_parser
from tests.cli.conftest import ok, user_error
from tests.conftest import RICE


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


def test_commands_on_unknown_dataset_or_missing_model_exit_2(settings, tmp_path: Path) -> None:
    home = settings.home
    assert "No dataset 'nope'" in user_error(home, "train", "--dataset", "nope")
    ok(home, "ingest", str(RICE), "--name", "rice", "--target", "Class")
    message = user_error(
        home, "predict", "--dataset", "rice", "--input", str(RICE), "--output", str(tmp_path / "o.csv")
    )
    assert "no champion model yet" in message


def test_help_lists_the_commands_in_their_published_order() -> None:
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    assert [c.dest for c in commands._choices_actions] == [
        *("ingest", "datasets", "compare", "delete"),
        *("train", "run-job", "tune-worker", "jobs", "cancel", "resume"),
        *("predict", "batches", "models", "promote", "rollback", "history"),
        *(
            "feedback",
            "retrain",
            "card",
            "export",
            "drift",
            "alerts",
            "monitor",
            "alert-destinations",
            "alert-test",
            "alert-log",
            "demo",
            "hash-password",
        ),
        *("serve", "api-key"),
    ]
