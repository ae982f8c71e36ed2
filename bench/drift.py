"""Drift that scales: Sift's drift against Evidently's Report called directly, a million-row window
on a seeded sample, and the ledger path. Figures printed; the only asserts are sanity checks.

(a) The same two frames (SIFT_BENCH_DRIFT_ROWS rows each, default 100,000; 7 numeric and 3
categorical columns, two numbers and one category shifted) go through
``Report([DataDriftPreset()]).run(current, reference)`` and through Sift measuring ``current``
against the reference's stored profile (built once beforehand, its build time and size printed
apart; read back from its stored bytes), with one thread and with ``drift_workers`` threads. Best
of SIFT_BENCH_REPEATS runs (default 3); Evidently's import is done once before timing. Target:
Sift at most 1.0x the direct call.

(b) A window of SIFT_BENCH_DRIFT_BIG_ROWS rows (default 1,000,000) x 100 columns against a
200,000-row reference: 80 numbers (continuous of four shapes and few-valued counts) and 20
categories; 20 of the 100 are shifted clearly (a number by half a standard deviation or more, a
mix reversed), the other 80 are drawn from the reference's own distributions. Measured in a child
process of its own (its peak RSS is reported) the way a window over the cap is: a seeded sample of
``drift_max_rows`` (100,000) rows through ``checks.against_profile``, the function windows use.
Then, in another child, the uncapped computation on every row: the drifted columns of both are
printed and compared. These run on frames, not through the ledger: scoring a million 100-feature
rows into a ledger would take far longer than ``make bench`` allows; the ledger's own sampled read
is timed in (c).

(c) The whole path of drift over time on a rice home: SIFT_BENCH_DRIFT_ROWS rice-like rows scored
as one batch, and ``core.monitoring.windows.refresh`` measuring that one window (ledger read,
reference profile, calibration, drift, storing); then the same window measured again with a cap
of 10,000 rows (a seeded sample read from the ledger by id).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time

import numpy as np
import pandas as pd

from bench.common import report, temporary_home, timed
from core.training.budgets import Budget

NUMERIC = 7
CATEGORIES = {"colour": ["red", "green", "blue", "grey"], "size": ["s", "m", "l"], "shop": list("abcdefgh")}
BIG_REFERENCE = 200_000
SMALL_CAP = 10_000


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


# --- (b) a million rows x 100 columns ---------------------------------------------------------


def big_columns() -> list[tuple[str, str, str, bool]]:
    """(name, role, shape, shifted) of the 100 columns: 20 shifted, 80 not."""
    shapes = ["normal", "lognormal", "uniform", "gamma"]
    out = [(f"n{i:02d}", "numeric", shapes[i % 4], i % 5 == 0) for i in range(70)]  # 14 shifted
    out += [(f"k{i}", "numeric", "counts", i < 2) for i in range(10)]  # few-valued: 2 shifted
    out += [(f"c{i:02d}", "categorical", "mix", i < 4) for i in range(20)]  # 4 shifted
    return out


def big_frame(rows: int, moved: bool, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for index, (name, _, shape, shifted) in enumerate(big_columns()):
        move = moved and shifted
        if shape == "normal":
            data[name] = rng.normal(10 + index, 2, rows) + (1.2 if move else 0)  # 0.6 sd
        elif shape == "lognormal":
            data[name] = rng.lognormal(1, 0.5, rows) * (1.5 if move else 1)
        elif shape == "uniform":
            data[name] = rng.uniform(0, 100, rows) + (30 if move else 0)
        elif shape == "gamma":
            data[name] = rng.gamma(2, 3, rows) + (3 if move else 0)  # 0.7 sd
        elif shape == "counts":
            weights = np.array([4.0, 3, 2, 1])[:: -1 if move else 1]
            data[name] = rng.choice(4, rows, p=weights / weights.sum()).astype("float64")
        else:
            levels = np.array([f"level {chr(97 + j)}" for j in range(3 + index % 10)], dtype=object)
            weights = np.linspace(1, 3, len(levels))[:: -1 if move else 1]
            data[name] = levels[rng.choice(len(levels), rows, p=weights / weights.sum())]  # shared str objects
    return pd.DataFrame(data, copy=False)  # no consolidating copy: the window's columns are held once


def big_child(rows: int, capped: bool, out: multiprocessing.Queue) -> None:
    """In a fresh process: build the reference's profile, make the window, measure it; report
    seconds, drifted columns, the column nearest its threshold and this process's peak RSS."""
    from core.monitoring import checks
    from core.monitoring.profile import Profile, build_profile
    from core.monitoring.sampling import sample_rows, seed_of

    features = [{"name": name, "role": role} for name, role, _, _ in big_columns()]
    with temporary_home() as (_, settings):
        reference = big_frame(BIG_REFERENCE, moved=False, seed=1)
        profile = Profile.from_bytes(build_profile(reference, features).to_bytes())
        del reference
        window = big_frame(rows, moved=True, seed=2)
        started = time.perf_counter()
        if capped:
            sample = sample_rows(window, settings.drift_max_rows, seed_of("bench", "big window"))
            result = checks.against_profile(profile, None, sample, settings, {}, rows=len(window))
        else:
            result = checks.against_profile(profile, None, window, settings, {})
        seconds = time.perf_counter() - started

    def closest(columns: list) -> str:  # the column nearest its threshold (all distances here: score / threshold)
        found = min(columns, key=lambda c: abs(np.log(max(c.score, 1e-300) / c.threshold)), default=None)
        return f"{found.name} ({found.method} {found.score:.3g} vs {found.threshold:g})" if found else "none"

    out.put(
        {
            "seconds": seconds,
            "drifted": sorted(result.drifted),
            "columns": len(result.columns),
            "weakest drift": closest([c for c in result.columns.values() if c.drifted]),
            "strongest calm": closest([c for c in result.columns.values() if not c.drifted]),
            "notes": result.notes,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def in_child(rows: int, capped: bool) -> dict:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its peak RSS is the window's alone
    queue = context.Queue()
    child = context.Process(target=big_child, args=(rows, capped, queue))
    child.start()
    found = queue.get()
    child.join()
    return found


# --- (c) the ledger path ----------------------------------------------------------------------


def ledger_path(rows: int) -> tuple[float, int, float, int | None]:
    """Score ``rows`` rice-like rows as one batch, time the refresh that measures its window, then
    the same window measured again with a cap of SMALL_CAP rows."""
    from sqlalchemy import delete

    from bench.scoring import rice_like
    from core.config import DEMO_DIR
    from core.datasets.versions import ingest
    from core.db import open_database
    from core.db.models import DriftWindow
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
        with sessions.begin() as session:
            session.execute(delete(DriftWindow))
        capped = settings.model_copy(update={"drift_max_rows": SMALL_CAP})
        capped_s, again = timed(
            lambda: windows.refresh(sessions=sessions, settings=capped, dataset="rice", kind="batch")
        )
        return seconds, done.measured, capped_s, again.windows[0].sampled_rows


def main() -> None:
    rows = int(os.environ.get("SIFT_BENCH_DRIFT_ROWS", 100_000))
    big_rows = int(os.environ.get("SIFT_BENCH_DRIFT_BIG_ROWS", 1_000_000))
    repeats = int(os.environ.get("SIFT_BENCH_REPEATS", 3))
    reference, current, features = frames(rows)

    import evidently  # noqa: F401  (seconds to import: kept out of both timings)
    from evidently import Report
    from evidently.presets import DataDriftPreset

    from core.monitoring.checks import drift_workers
    from core.monitoring.drift import compute_drift
    from core.monitoring.profile import Profile, build_profile

    with temporary_home() as (_, settings):
        workers = drift_workers(settings)
    build_s, blob = timed(lambda: build_profile(reference, features).to_bytes())
    profile = Profile.from_bytes(blob)
    direct_s, snapshot = best(lambda: Report([DataDriftPreset()]).run(current, reference), repeats)
    one_s, result = best(lambda: compute_drift(None, current, features, profile=profile), repeats)
    many_s, threaded = best(lambda: compute_drift(None, current, features, profile=profile, workers=workers), repeats)
    direct_share = snapshot.dict()["metrics"][0]["value"]["share"]
    assert abs(direct_share - result.drift_share) < 1e-9, (direct_share, result.drift_share)  # sanity
    assert threaded.as_dict() == result.as_dict()  # sanity: threads change nothing but time
    report(
        f"(a) drift, {rows:,} vs {rows:,} rows x {len(features)} columns (best of {repeats})",
        [
            ("Evidently Report, called directly", f"{direct_s:.2f} s"),
            ("reference profile, built once", f"{build_s:.2f} s ({len(blob) / 1e6:.1f} MB stored)"),
            ("Sift against the stored profile, 1 thread", f"{one_s:.2f} s"),
            (f"Sift against the stored profile, {workers} threads", f"{many_s:.2f} s"),
            ("ratio Sift / direct, 1 thread", f"{one_s / direct_s:.2f}x (target <= 1.0x)"),
            (f"ratio Sift / direct, {workers} threads (the default)", f"{many_s / direct_s:.2f}x"),
            ("drifted columns", ", ".join(result.drifted)),
        ],
    )

    capped = in_child(big_rows, capped=True)
    whole = in_child(big_rows, capped=False)
    report(
        f"(b) a {big_rows:,}-row window x {capped['columns']} columns against a {BIG_REFERENCE:,}-row reference",
        [
            ("capped (seeded sample), time", f"{capped['seconds']:.1f} s (target < 60 s)"),
            ("capped, peak RSS of its process", f"{capped['peak_mb']:,.0f} MB (target < 2,048 MB; window in memory)"),
            ("capped, notes", " ".join(capped["notes"])),
            ("capped, drifted columns", f"{len(capped['drifted'])}: {', '.join(capped['drifted'])}"),
            ("capped, drifted column nearest its threshold", capped["weakest drift"]),
            ("capped, calm column nearest its threshold", capped["strongest calm"]),
            ("uncapped (every row), time", f"{whole['seconds']:.1f} s, peak RSS {whole['peak_mb']:,.0f} MB"),
            ("uncapped, drifted columns", f"{len(whole['drifted'])}: {', '.join(whole['drifted'])}"),
            ("uncapped, drifted column nearest its threshold", whole["weakest drift"]),
            ("uncapped, calm column nearest its threshold", whole["strongest calm"]),
            ("same drifted columns", str(capped["drifted"] == whole["drifted"])),
        ],
    )

    ledger_s, measured, capped_s, sampled = ledger_path(rows)
    report(
        f"(c) the ledger path, one {rows:,}-row window (rice, 7 features)",
        [
            ("refresh measuring it", f"{ledger_s:.2f} s ({measured} window)"),
            (f"measured again with a cap of {SMALL_CAP:,} rows", f"{capped_s:.2f} s ({sampled:,} rows sampled)"),
        ],
    )


if __name__ == "__main__":
    main()
