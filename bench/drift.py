"""Drift: `core.monitoring.drift.compute_drift` against Evidently's Report called directly, in the same run.

The same two frames (SIFT_BENCH_DRIFT_ROWS rows each, default 100,000; 7 numeric and 3
categorical columns, two numbers and one category shifted) go through
``Report([DataDriftPreset()]).run(current, reference)`` and through ``compute_drift`` (which
adds the DataDefinition from the roles, the tests that say which column drifted, and reading
the result back); the best of SIFT_BENCH_REPEATS runs (default 3) of each is printed, Evidently's
import excluded (done once before timing). Target: compute_drift within 1.5x of the direct call.

Then the whole path of drift over time on a rice home: SIFT_BENCH_DRIFT_ROWS rice-like rows
scored as one batch, and ``core.monitoring.windows.refresh`` measuring that one window (ledger
read, training data, calibration, Evidently, storing).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from bench.common import report, temporary_home, timed
from core.training.budgets import Budget

NUMERIC = 7
CATEGORIES = {"colour": ["red", "green", "blue", "grey"], "size": ["s", "m", "l"], "shop": list("abcdefgh")}


def frames(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    rng = np.random.default_rng(seed)

    def frame(shifted: bool) -> pd.DataFrame:
        data = {
            f"x{i}": rng.normal(i, 1 + i / 3, rows) + (1 + i / 3 if shifted and i < 2 else 0) for i in range(NUMERIC)
        }
        for name, values in CATEGORIES.items():
            weights = np.linspace(1, 2, len(values))
            if shifted and name == "colour":
                weights = weights[::-1]
            data[name] = rng.choice(values, rows, p=weights / weights.sum())
        return pd.DataFrame(data)

    features = [{"name": f"x{i}", "role": "numeric"} for i in range(NUMERIC)]
    features += [{"name": name, "role": "categorical"} for name in CATEGORIES]
    return frame(False), frame(True), features


def best(work, repeats: int) -> tuple[float, object]:
    runs = [timed(work) for _ in range(repeats)]
    return min(s for s, _ in runs), runs[-1][1]


def ledger_path(rows: int) -> tuple[float, int]:
    """Score ``rows`` rice-like rows as one batch, then time the refresh that measures its window."""
    from bench.scoring import rice_like
    from core.config import DEMO_DIR
    from core.datasets.versions import ingest
    from core.db import open_database
    from core.monitoring import windows
    from core.scoring.batch import score_file
    from core.training.train import train

    with temporary_home() as (home, settings):
        sessions = open_database(settings)
        with sessions.begin() as session:
            ingest(session=session, path=DEMO_DIR / "rice_cammeo_osmancik.csv", name="rice", target="Class")
        with sessions.begin() as session:
            train(session=session, settings=settings, dataset="rice", budget=Budget(trials=1))
        source = home / "batch.csv"
        rice_like(rows).to_csv(source, index=False)
        score_file(sessions=sessions, settings=settings, dataset="rice", input_path=source, output_path=home / "o.csv")
        seconds, done = timed(
            lambda: windows.refresh(sessions=sessions, settings=settings, dataset="rice", kind="batch")
        )
        return seconds, done.measured


def main() -> None:
    rows = int(os.environ.get("SIFT_BENCH_DRIFT_ROWS", 100_000))
    repeats = int(os.environ.get("SIFT_BENCH_REPEATS", 3))
    reference, current, features = frames(rows)

    import evidently  # noqa: F401  (seconds to import: kept out of both timings)
    from evidently import Report
    from evidently.presets import DataDriftPreset

    from core.monitoring.drift import compute_drift

    direct_s, snapshot = best(lambda: Report([DataDriftPreset()]).run(current, reference), repeats)
    ours_s, result = best(lambda: compute_drift(reference, current, features), repeats)
    direct_share = snapshot.dict()["metrics"][0]["value"]["share"]
    assert abs(direct_share - result.drift_share) < 1e-9, (direct_share, result.drift_share)
    ledger_s, measured = ledger_path(rows)
    report(
        f"drift, {rows:,} vs {rows:,} rows x {len(features)} columns (best of {repeats})",
        [
            ("Evidently Report, called directly", f"{direct_s:.2f} s"),
            ("core.monitoring.drift.compute_drift", f"{ours_s:.2f} s"),
            ("ratio compute_drift / direct", f"{ours_s / direct_s:.2f}x (target <= 1.5x)"),
            ("drifted columns", ", ".join(result.drifted)),
            (f"refresh of one {rows:,}-row ledger window", f"{ledger_s:.2f} s ({measured} window, rice, 7 features)"),
        ],
    )


if __name__ == "__main__":
    main()
