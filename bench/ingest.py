"""Ingest: `core.datasets.versions.ingest` against the plain way, in the same run.

The plain way: ``pandas.read_csv`` then ``DataFrame.to_sql`` into a fresh SQLite file. Core: sniff,
parse, tidy, infer roles, hash and store into a fresh home. Each approach runs in a subprocess
of its own, so the peak memory reported is its own. Rows: SIFT_BENCH_ROWS (default 1,000,000),
10 mixed columns. The two alternate SIFT_BENCH_REPEATS times (default 3) and the best time of each
is compared, which keeps the ratio steady on a shared machine.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import peak_rss_mb, report, timed

CHUNK = 200_000
WORDS = np.array([f"word{i}" for i in range(20)])


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Floats, integers, three categoricals (one with gaps), a yes/no flag, a short text, a target."""
    rng = np.random.default_rng(seed)
    first = True
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        price = rng.lognormal(3, 1, n).round(2)
        weight = rng.normal(50, 10, n)
        weight[rng.random(n) < 0.01] = np.nan
        frame = pd.DataFrame(
            {
                "price": price,
                "weight": weight,
                "count": rng.integers(0, 1000, n),
                "visits": rng.poisson(3, n),
                "colour": rng.choice(["red", "green", "blue", "black", "white"], n),
                "city": rng.choice([f"city_{i}" for i in range(40)], n),
                "grade": np.where(rng.random(n) < 0.05, "", rng.choice(["A", "B", "C"], n)),
                "member": rng.choice(["yes", "no"], n),
                "note": [" ".join(w) for w in rng.choice(WORDS, (n, 3))],
                "segment": rng.choice(["retail", "wholesale", "online"], n, p=[0.5, 0.3, 0.2]),
            }
        )
        frame.to_csv(path, mode="w" if first else "a", header=first, index=False)
        first = False


def plain(source: Path, folder: Path) -> int:
    import sqlite3

    frame = pd.read_csv(source)
    conn = sqlite3.connect(folder / "plain.db")
    frame.to_sql("rows", conn, index=False)
    conn.commit()
    conn.close()
    return len(frame)


def core(source: Path, folder: Path) -> int:
    os.environ["SIFT_HOME"] = str(folder)
    from core.config import get_settings
    from core.datasets.versions import ingest
    from core.db import open_database

    get_settings.cache_clear()
    sessions = open_database(get_settings())
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=source, name="bench", target="segment")
        return version.row_count


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(approach: str, source: Path, folder: Path) -> None:
    work = {"plain": plain, "core": core}[approach]
    cpu = _cpu_seconds()
    seconds, rows = timed(lambda: work(source, folder))
    cpu = _cpu_seconds() - cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": rows, "peak_mb": peak_rss_mb()}))


def _run(approach: str, source: Path, folder: Path) -> dict[str, float]:
    folder.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "bench.ingest", approach, str(source), str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    rows = int(os.environ.get("SIFT_BENCH_ROWS", 1_000_000))
    repeats = int(os.environ.get("SIFT_BENCH_REPEATS", 3))
    runs: dict[str, list[dict[str, float]]] = {"plain": [], "core": []}
    with tempfile.TemporaryDirectory(prefix="sift-bench-") as folder:
        source = Path(folder) / "ingest.csv"
        write_csv(source, rows)
        size_mb = source.stat().st_size / 2**20
        for i in range(repeats):
            for approach in runs:
                runs[approach].append(_run(approach, source, Path(folder) / f"{approach}{i}"))
    assert all(r["rows"] == rows for done in runs.values() for r in done)
    best = {a: min(r["seconds"] for r in done) for a, done in runs.items()}
    peak = {a: max(r["peak_mb"] for r in done) for a, done in runs.items()}
    times = {a: ", ".join(f"{r['seconds']:.2f}" for r in done) for a, done in runs.items()}
    cpu = {a: min(r["cpu_seconds"] for r in done) for a, done in runs.items()}
    report(
        f"ingest, {rows:,} rows x 10 columns ({size_mb:.0f} MB CSV), best of {repeats}",
        [
            (
                "plain way (read_csv + to_sql)",
                f"{best['plain']:.2f} s, peak {peak['plain']:,.0f} MB ({times['plain']})",
            ),
            ("core ingest", f"{best['core']:.2f} s, peak {peak['core']:,.0f} MB ({times['core']})"),
            ("ratio core / plain", f"{best['core'] / best['plain']:.2f}x (target at most 1.25x, peak under 1,536 MB)"),
            ("CPU time, best", f"plain {cpu['plain']:.2f} s, core {cpu['core']:.2f} s"),
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) == 4:
        child(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
