"""``predict`` and ``batches`` through real subprocesses (core/cli/scoring.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.config import REPO_ROOT
from tests.core.scoring.conftest import _rice


def test_batches_command_lists_batches_with_their_outcome(trained_settings, tmp_path: Path) -> None:
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    frame = _rice(30)
    frame.loc[0, "Area"] = "x"
    frame.to_csv(source, index=False)

    def run(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "core", "--home", str(trained_settings.home), *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    predicted = run("predict", "--dataset", "rice", "--input", str(source), "--output", str(output))
    assert {k: predicted[k] for k in ("rows", "scored", "rejected", "model_version")} == {
        "rows": 30,
        "scored": 29,
        "rejected": 1,
        "model_version": 1,
    }
    assert Path(predicted["rejected_output"]) == tmp_path / "out.rejected.csv"
    listed = run("batches", "--dataset", "rice")
    assert listed["dataset"] == "rice"
    (batch,) = listed["batches"]
    assert batch["batch_id"] == predicted["batch_id"] and batch["status"] == "complete"
    assert (batch["rows"], batch["scored"], batch["rejected"], batch["model_version"]) == (30, 29, 1, 1)
    assert sum(batch["class_mix"].values()) == 29 and batch["source_file"] == "in.csv"
    assert run("batches", "--dataset", "nope") == {"dataset": "nope", "batches": []}
