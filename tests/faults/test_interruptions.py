"""Processes killed with SIGKILL half-way: a batch scoring and a training job (real CLI processes).

Nothing may be left half-done where it matters: the ledger holds whole chunks only, the champion
never moves, the killed work reads as incomplete or interrupted, and it can be finished afterwards.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from sqlalchemy import func, select, text

from core import registry
from core.config import REPO_ROOT
from core.db.models import Batch, BatchChunk, Prediction
from core.jobs import queue
from core.scoring.batch import CHUNK_ROWS, score_file
from core.scoring.files import rejected_path
from tests.cli.conftest import ok
from tests.conftest import RICE

DEADLINE = 300  # seconds to wait for a killed process's progress, on two shared cores


def _start(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "--home", str(home), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(process: subprocess.Popen, ready: Callable[[], Any]) -> Any:
    """SIGKILL ``process`` as soon as ``ready()`` returns something; return that."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        found = ready()
        if found:
            process.kill()  # SIGKILL: no handler, no clean-up
            process.wait()
            return found
        if process.poll() is not None:
            raise AssertionError(f"the process ended before it was killed: {process.stderr.read()[-2000:]}")
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError("the process never reached the point where it was to be killed")


def _integrity(sessions) -> None:
    """SQLite's own check of the file after a kill (a server database has no file of ours to break)."""
    with sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


# --- batch scoring --------------------------------------------------------------------------------


def _big_file(path: Path, chunks: int) -> int:
    """A rice-like file of ``chunks`` full scoring chunks plus some, with a few unreadable rows."""
    base = pd.read_csv(RICE).drop(columns="Class")
    rows = chunks * CHUNK_ROWS + 1234
    frame = base.iloc[np.arange(rows) % len(base)].reset_index(drop=True)
    frame["Area"] = frame["Area"].astype(object)
    frame.loc[::50_000, "Area"] = "unreadable"
    frame.to_csv(path, index=False)
    return rows


def _ledger(sessions, batch_id: str) -> tuple[int, int]:
    """(ledger rows, distinct prediction ids) of a batch."""
    stmt = select(func.count(), func.count(func.distinct(Prediction.id))).where(Prediction.batch_id == batch_id)
    with sessions() as session:
        return tuple(session.execute(stmt).one())


@pytest.mark.slow
def test_a_batch_killed_half_way_is_incomplete_and_a_rerun_completes_it_once(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    home = trained_settings.home
    earlier_input = tmp_path / "earlier.csv"
    pd.read_csv(RICE, nrows=40).drop(columns="Class").to_csv(earlier_input, index=False)
    earlier = score_file(
        sessions=trained_sessions,
        settings=trained_settings,
        dataset="rice",
        input_path=earlier_input,
        output_path=tmp_path / "earlier.scored.csv",
    )
    earlier_ledger = _ledger(trained_sessions, earlier["batch_id"])
    champion = registry.alias_version(trained_settings, "rice")

    source, output = tmp_path / "big.csv", tmp_path / "big.scored.csv"
    rows = _big_file(source, chunks=4)
    unreadable = len(range(0, rows, 50_000))
    process = _start(home, "predict", "--dataset", "rice", "--input", str(source), "--output", str(output))

    def some_chunks_stored() -> Batch | None:
        with trained_sessions() as session:
            batch = session.scalar(select(Batch).where(Batch.source_file == "big.csv"))
        return batch if batch is not None and batch.chunks_done >= 1 else None

    killed = _kill_when(process, some_chunks_stored)
    _integrity(trained_sessions)

    listed = {b["batch_id"]: b for b in ok(home, "batches", "--dataset", "rice")["batches"]}
    stopped = listed[killed.id]
    assert stopped["status"] == "incomplete"
    assert 1 <= stopped["chunks_done"] < 5 and stopped["rows"] == stopped["chunks_done"] * CHUNK_ROWS
    assert _ledger(trained_sessions, killed.id)[0] == stopped["scored"]  # whole chunks only
    assert listed[earlier["batch_id"]]["status"] == "complete" and listed[earlier["batch_id"]]["rows"] == 40
    assert _ledger(trained_sessions, earlier["batch_id"]) == earlier_ledger
    assert registry.alias_version(trained_settings, "rice") == champion

    resumed = ok(home, "predict", "--dataset", "rice", "--input", str(source), "--output", str(output))
    assert resumed["batch_id"] == killed.id and resumed["resumed"] is True and resumed["status"] == "complete"
    assert (resumed["rows"], resumed["rejected"]) == (rows, unreadable)
    assert resumed["scored"] == rows - unreadable
    count, distinct_ids = _ledger(trained_sessions, killed.id)
    assert count == distinct_ids == resumed["scored"]  # no chunk recorded twice
    with trained_sessions() as session:
        chunks = session.execute(
            select(BatchChunk.number, BatchChunk.first_id, BatchChunk.scored)
            .where(BatchChunk.batch_id == killed.id)
            .order_by(BatchChunk.number)
        ).all()
        ids = session.scalars(select(Prediction.id).where(Prediction.batch_id == killed.id).order_by(Prediction.id))
        ledger_ids = list(ids)
    assert [c.number for c in chunks] == list(range(5))
    assert sorted(i for c in chunks for i in range(c.first_id, c.first_id + c.scored)) == ledger_ids
    scored = pd.read_csv(output, usecols=["prediction_id"])["prediction_id"]
    assert len(scored) == resumed["scored"] and scored.is_unique and sorted(scored) == ledger_ids
    assert len(pd.read_csv(rejected_path(output))) == unreadable
    assert registry.alias_version(trained_settings, "rice") == champion
    assert _ledger(trained_sessions, earlier["batch_id"]) == earlier_ledger


# --- a training job -------------------------------------------------------------------------------

TRIALS, KILL_AFTER = 12, 3


def _study_trials(settings, study_name: str) -> list[tuple[int, dict]]:
    from core.training.tuning import FINISHED, study_storage

    with study_storage(settings) as storage:
        study = optuna.load_study(study_name=study_name, storage=storage)
        return [(t.number, dict(t.params)) for t in study.get_trials(deepcopy=False, states=FINISHED)]


@pytest.mark.slow
def test_a_training_job_killed_half_way_is_interrupted_and_resumes_its_study(
    trained_settings, trained_sessions
) -> None:
    home = trained_settings.home
    champion = registry.alias_version(trained_settings, "rice")
    versions = [v.version for v in registry.list_versions(trained_settings, "rice")]
    process = _start(home, "train", "--dataset", "rice", "--trials", str(TRIALS))

    def some_trials_done() -> Any:
        with trained_sessions() as session:
            job = queue.latest_job(session=session, dataset="rice")
        done = job is not None and (job.progress or {}).get("trial", 0) >= KILL_AFTER
        return job if done else None

    job = _kill_when(process, some_trials_done)
    _integrity(trained_sessions)
    (listed,) = ok(home, "jobs", "--dataset", "rice")["jobs"]
    assert listed["id"] == job.id and listed["status"] == "interrupted"
    assert [v.version for v in registry.list_versions(trained_settings, "rice")] == versions
    assert registry.alias_version(trained_settings, "rice") == champion
    before = _study_trials(trained_settings, job.study_name)
    assert len(before) >= KILL_AFTER

    resumed = ok(home, "resume", "--job", str(job.id))
    assert resumed["aliases"] == ["challenger"] and resumed["version"] == max(versions) + 1
    assert registry.alias_version(trained_settings, "rice") == champion  # a new version never takes over by itself
    after = _study_trials(trained_settings, job.study_name)
    assert after[: len(before)] == before and len(after) == TRIALS  # the earlier trials are kept, not redone
    (done,) = ok(home, "jobs", "--dataset", "rice")["jobs"]
    assert done["status"] == "done" and done["progress"]["trial"] == TRIALS
