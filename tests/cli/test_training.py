"""``train``, ``jobs`` and ``cancel`` through real subprocesses, and the budget flags (core/cli/training.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli import build_parser
from tests.cli.conftest import ok, run, user_error
from tests.core.jobs.conftest import submit_job


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
    warning, *others = trained["warnings"]
    assert warning.startswith("The model is not clearly better than chance")
    # noise: the default metric (ROC AUC, two classes) may also cost accuracy against the majority class
    assert all(w.startswith("Accuracy ") and "always answering" in w for w in others)
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


def test_cli_train_records_a_job_and_jobs_and_cancel_commands(trained_settings, trained_sessions) -> None:
    home = trained_settings.home
    trained = ok(home, "train", "--dataset", "rice", "--trials", "1")
    assert set(trained) == {"model", "version", "aliases", "metrics", "rows", "selection"}
    # two classes and no --metric: ROC AUC, the target's default, with its reason
    assert trained["selection"]["metric"] == "roc_auc" and not trained["selection"]["chosen"]
    assert trained["selection"]["reason"].startswith("ROC AUC: two classes")
    assert trained["version"] == 2 and trained["aliases"] == ["challenger"]

    listed = ok(home, "jobs", "--dataset", "rice")
    assert [j["status"] for j in listed["jobs"]] == ["done"]
    assert listed["jobs"][0]["result"] == json.loads(json.dumps(trained))
    assert listed["jobs"][0]["study_name"] == "rice-v1-job1"

    assert "already done: nothing to cancel" in user_error(home, "cancel", "--job", "1")
    assert "No job 7" in user_error(home, "cancel", "--job", "7")
    queued = submit_job(trained_sessions, trials=1)
    assert "Only one training job per dataset" in user_error(home, "train", "--dataset", "rice", "--trials", "1")
    assert ok(home, "cancel", "--job", str(queued))["status"] == "cancelled"


def test_cli_train_takes_the_metric_that_picks_the_model(trained_settings) -> None:
    home = trained_settings.home
    trained = ok(home, "train", "--dataset", "rice", "--trials", "1", "--metric", "accuracy")
    assert trained["selection"]["metric"] == "accuracy" and trained["selection"]["chosen"]
    assert {"cv_accuracy", "cv_accuracy_std", "cv_log_loss", "log_loss"} <= set(trained["metrics"])
    job = ok(home, "jobs", "--dataset", "rice")["jobs"][0]
    assert job["parameters"]["metric"] == "accuracy"
    refused = run(home, "train", "--dataset", "rice", "--metric", "precision")  # argparse's refusal, exit 2
    assert refused.returncode == 2 and "invalid choice: 'precision'" in refused.stderr and "log_loss" in refused.stderr
    assert len(ok(home, "jobs", "--dataset", "rice")["jobs"]) == 1  # the refusal queued nothing
    assert "--metric" in run(home, "retrain", "--help").stdout


def test_cli_train_takes_a_budget() -> None:
    parser = build_parser()
    args = parser.parse_args(["train", "--dataset", "rice", "--budget", "thorough", "--trials", "3"])
    assert (args.budget, args.trials, args.timeout) == ("thorough", 3, None)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--dataset", "rice", "--budget", "forever"])
