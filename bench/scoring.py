"""Scoring speed and memory: batch files and single rows, against the plain way, in the same run.

Batch: ``python -m core predict`` on a generated rice-like CSV (7 features) against the plain way
of doing the same work: pandas chunked read, the same Pipeline's ``predict_proba``,
``DataFrame.to_csv`` of the scored rows, and the sqlite3 module's ``executemany`` of each row's
inputs, class and probabilities (JSON from ``DataFrame.to_json``), one transaction per chunk, in
WAL mode with ``synchronous=NORMAL`` like Sift's own database. Each run is its own subprocess
(its wall time includes start-up and loading the model, the same for both; its peak memory is
the child's ``ru_maxrss``); the two alternate and the best of the repeats is kept. Each run
writes into a fresh database.

Single row: ``core.scoring.single.score_row`` (input check, prediction, reasons, ledger write and
commit) over many calls with a warm model, beside the raw ``Pipeline.predict_proba`` of a
one-row DataFrame.

The model: XGBoost with Sift's default settings (300 trees, depth 6), fitted on the rice data
and registered as champion, so the figures do not depend on which candidate a short tuning
picks; a logistic regression is registered beside it to time the model-agnostic reasons.

Environment: SIFT_BENCH_ROWS (default 5,000,000), SIFT_BENCH_REPEATS (default 2),
SIFT_BENCH_CALLS (default 1,000).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import report, temporary_home
from core.config import DEMO_DIR, REPO_ROOT

CHUNK = 200_000
RICE = DEMO_DIR / "rice_cammeo_osmancik.csv"


def rice_like(rows: int, seed: int = 0) -> pd.DataFrame:
    rice = pd.read_csv(RICE).drop(columns="Class")
    rng = np.random.default_rng(seed)
    frame = rice.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    noise = rng.normal(1.0, 0.01, size=frame.shape)
    frame = frame * noise
    frame[["Area", "Convex_Area"]] = frame[["Area", "Convex_Area"]].round().astype(int)
    return frame


def write_rice_like(path: Path, rows: int, block: int = 500_000) -> None:
    for start in range(0, rows, block):
        part = rice_like(min(block, rows - start), seed=start)
        part.to_csv(path, mode="w" if start == 0 else "a", header=start == 0, index=False)


# --- the plain way (run in its own process) ---------------------------------------------------


def plain(home: Path, source: Path, output: Path, database: Path) -> dict[str, float]:
    from core import registry
    from core.config import Settings

    settings = Settings(home=home)
    pipeline = registry.load_model(settings, "rice", registry.alias_version(settings, "rice"))
    started = time.perf_counter()
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE predictions (id INTEGER PRIMARY KEY, inputs TEXT, predicted TEXT, probabilities TEXT)")
    classes = np.asarray(pipeline.classes_, dtype=object)
    first, next_id = True, 1
    with output.open("w", newline="") as fh:
        for chunk in pd.read_csv(source, chunksize=CHUNK):
            proba = pipeline.predict_proba(chunk)
            predicted = classes[proba.argmax(axis=1)]
            out = chunk.copy()
            out["prediction"] = predicted
            for i, label in enumerate(classes):
                out[f"proba_{label}"] = proba[:, i]
            out.to_csv(fh, header=first, index=False)
            first = False
            inputs = chunk.to_json(orient="records", lines=True).splitlines()
            probabilities = pd.DataFrame(proba, columns=[str(c) for c in classes])
            probabilities = probabilities.to_json(orient="records", lines=True).splitlines()
            ids = range(next_id, next_id + len(chunk))
            next_id += len(chunk)
            with conn:
                conn.executemany(
                    "INSERT INTO predictions VALUES (?, ?, ?, ?)",
                    zip(ids, inputs, predicted.tolist(), probabilities, strict=True),
                )
    conn.close()
    return {"seconds": time.perf_counter() - started, "rows": next_id - 1}


# --- measuring a child process ------------------------------------------------------------------


def measure(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall time and peak resident memory of one child process (its own ru_maxrss)."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "load": load, "stdout": out}


def _fresh(*paths: Path) -> None:
    for path in paths:
        for extra in ("", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)


def _register(settings, frame: pd.DataFrame, features, target: str, dataset_version: int, pipeline, name: str) -> int:
    """Fit ``pipeline`` on the whole rice data and register it as a version of the rice model."""
    from core import registry
    from core.contract import CONTRACT_FILE, build_contract
    from core.features import coerce_inputs

    names = [f["name"] for f in features]
    X = coerce_inputs(frame[names], features)  # noqa: N806
    pipeline.fit(X, frame[target].to_numpy())
    info = registry.register_model(
        settings,
        name="rice",
        model=pipeline,
        input_example=X.head(5),
        params={"estimator": name},
        metrics={},
        tags={"sift.dataset": "rice", "sift.dataset_version": str(dataset_version)},
        documents={CONTRACT_FILE: build_contract(frame[names], features, list(pipeline.classes_))},
        run_name=name,
    )
    return info.version


def setup(settings) -> dict[str, int]:
    """Ingest rice; register an XGBoost champion and a logistic-regression challenger."""
    from core import registry
    from core.datasets.versions import get_version, ingest, load_frame
    from core.db import open_database
    from core.features import feature_columns
    from core.training.factories import XGBOOST_DEFAULTS, make_logistic_regression, make_xgboost

    sessions = open_database(settings)
    registry.ensure_store(settings)
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
    with sessions() as session:
        version = get_version(session=session, name="rice")
        frame = load_frame(session=session, version=version)
        features, target = feature_columns(version.columns), version.target
    xgb = _register(
        settings, frame, features, target, version.version, make_xgboost(features, XGBOOST_DEFAULTS), "xgboost"
    )
    logistic = _register(
        settings, frame, features, target, version.version, make_logistic_regression(features), "logistic_regression"
    )
    registry.set_alias(settings, "rice", registry.CHAMPION, xgb)
    return {"xgboost": xgb, "logistic_regression": logistic}


# --- single rows ---------------------------------------------------------------------------------


def _percentiles(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):6.2f} ms   p99 {np.percentile(ms, 99):6.2f} ms"


def single_rows(settings, versions: dict[str, int], calls: int) -> list[tuple[str, str]]:
    from core.champion import load_version
    from core.db import open_database
    from core.scoring.single import score_row, score_values

    sessions = open_database(settings)
    rows = pd.read_csv(RICE).drop(columns="Class").sample(calls, replace=True, random_state=1)
    values = rows.to_dict(orient="records")
    champion = load_version(settings, "rice", versions["xgboost"])
    with sessions.begin() as session:  # warm: model loaded, caches filled
        for row in values[:20]:
            score_row(session=session, settings=settings, dataset="rice", values=row)

    def timed_calls(call) -> list[float]:
        out = []
        for row in values:
            started = time.perf_counter()
            call(row)
            out.append(time.perf_counter() - started)
        return out

    def core_row(row: dict) -> None:
        with sessions.begin() as session:
            score_row(session=session, settings=settings, dataset="rice", values=row)

    raw = timed_calls(lambda row: champion.pipeline.predict_proba(pd.DataFrame([row])))
    core = timed_calls(core_row)
    logistic = load_version(settings, "rice", versions["logistic_regression"])

    def logistic_row(row: dict) -> None:
        with sessions.begin() as session:
            score_values(session=session, model=logistic, values=row)

    logistic_row(values[0])
    substitution = timed_calls(logistic_row)
    raw_logistic = timed_calls(lambda row: logistic.pipeline.predict_proba(pd.DataFrame([row])))
    return [
        ("raw Pipeline.predict_proba, XGBoost", _percentiles(raw)),
        ("core score_row, XGBoost (pred_contribs)", _percentiles(core)),
        ("raw Pipeline.predict_proba, logistic regr.", _percentiles(raw_logistic)),
        ("core score_values, logistic (substitution)", _percentiles(substitution)),
    ]


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    rows = int(os.environ.get("SIFT_BENCH_ROWS", 5_000_000))
    repeats = int(os.environ.get("SIFT_BENCH_REPEATS", 2))
    calls = int(os.environ.get("SIFT_BENCH_CALLS", 1_000))
    with temporary_home() as (home, settings):
        versions = setup(settings)
        if rows:
            batch_files(home, rows, repeats)
        report(f"single rows, {calls:,} calls with a warm model", single_rows(settings, versions, calls))


def batch_files(home: Path, rows: int, repeats: int) -> None:
    """Alternate plain and core runs, each in its own process; report the best of each and peak memory."""
    source = home / "batch.csv"
    started = time.perf_counter()
    write_rice_like(source, rows)
    size = source.stat().st_size / 2**20
    print(f"generated {rows:,} rows ({size:,.0f} MiB) in {time.perf_counter() - started:.0f} s", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SIFT_DB_URL", "MLFLOW_TRACKING_URI")}
    env["SIFT_HOME"] = str(home)
    results: dict[str, list[dict[str, float]]] = {"plain": [], "core": []}
    for repeat in range(repeats):
        for side in ("plain", "core") if repeat % 2 == 0 else ("core", "plain"):
            output, database = home / f"{side}.csv", home / f"{side}.db"
            _fresh(output, Path(f"{home / side}.rejected.csv"), database)
            if side == "plain":
                command = [sys.executable, "-m", "bench.scoring", "plain", str(home), str(source), str(output)]
                command.append(str(database))
                run = measure(command, env)
            else:
                run_env = env | {"SIFT_DB_URL": f"sqlite:///{database}"}
                command = [sys.executable, "-m", "core", "predict", "--dataset", "rice"]
                command += ["--input", str(source), "--output", str(output)]
                run = measure(command, run_env)
                outcome = json.loads(run["stdout"])
                assert outcome["scored"] == rows, outcome
            results[side].append(run)
            print(
                f"  {side:<5} run {repeat + 1}: {run['seconds']:6.1f} s, peak {run['peak_mb']:5.0f} MiB, "
                f"load before {run['load']:.1f}",
                flush=True,
            )
            _fresh(output, Path(f"{home / side}.rejected.csv"), database)
    best = {side: min(runs, key=lambda r: r["seconds"]) for side, runs in results.items()}
    figures = [
        (
            "plain way (best)",
            f"{best['plain']['seconds']:.1f} s ({rows / best['plain']['seconds']:,.0f} rows/s), "
            f"peak {max(r['peak_mb'] for r in results['plain']):,.0f} MiB",
        ),
        (
            "python -m core predict (best)",
            f"{best['core']['seconds']:.1f} s ({rows / best['core']['seconds']:,.0f} rows/s), "
            f"peak {max(r['peak_mb'] for r in results['core']):,.0f} MiB",
        ),
        ("ratio core / plain", f"{best['core']['seconds'] / best['plain']['seconds']:.2f}x"),
        (
            "load average (1 min) at start of runs",
            ", ".join(f"{r['load']:.1f}" for r in results["plain"] + results["core"]),
        ),
    ]
    report(f"batch scoring, {rows:,} rows x 7 features, {repeats} runs each, alternating", figures)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "plain":
        home, source, output, database = map(Path, sys.argv[2:6])
        print(json.dumps(plain(home, source, output, database)))
    else:
        main()
