"""The "too good to be true" check (core.datasets.leakage): its cost, and each table's best column.

Cost: `find_leaks` on a table of 20,000 labelled rows x 30 columns (20 numbers with gaps, 8
categories, a yes/no flag, a date), best of SIFT_BENCH_REPEATS (default 5): once as an honest
table (the numbers stop at the screen), once with every number telling the classes apart well
enough (about 0.96 alone) to pass the screen and get its tree, the worst case. Then the best
single column of the bundled demos and of the real-data gauntlet's tables (tests/real/tables.py),
read as the Data page reads a file, against the threshold LEAK_SCORE.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import report, timed
from core.config import DEMO_DIR
from core.datasets.leakage import LEAK_SCORE, find_leaks
from core.datasets.reading import read_csv
from core.datasets.roles import apply_conversions, infer_roles
from tests.real.tables import TABLES

DEMOS = [("rice_cammeo_osmancik", "Class"), ("mushrooms", "class"), ("sentiment_sentences", "label")]


def table(rows: int, near_perfect: bool, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 3, rows)
    y = np.array(["a", "b", "c"])[codes]
    shift = codes * 5.0 if near_perfect else (codes == 0) * 0.5  # classes 5 standard deviations apart: about 0.96 alone
    columns: dict[str, object] = {}
    roles: dict[str, str] = {}
    for i in range(20):
        values = rng.normal(size=rows) + shift
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"number{i}"], roles[f"number{i}"] = values, "numeric"
    for i in range(8):
        columns[f"category{i}"] = rng.choice([f"v{j}" for j in range(5 + 10 * i)], rows)
        roles[f"category{i}"] = "categorical"
    columns["flag"], roles["flag"] = rng.random(rows) < 0.3, "boolean"
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 2000, rows), unit="D")
    columns["day"], roles["day"] = days.strftime("%Y-%m-%d"), "datetime"
    columns["y"], roles["y"] = y, "target"
    return pd.DataFrame(columns), roles


def _as_read(path: Path, target: str) -> tuple[pd.DataFrame, dict[str, str]]:
    frame = read_csv(path).frame
    inferred = infer_roles(frame)
    return apply_conversions(frame, [c.as_dict() for c in inferred]), {c.name: c.role for c in inferred}


def _best(frame: pd.DataFrame, roles: dict[str, str], target: str) -> str:
    scores = find_leaks(frame, roles, target, threshold=0)
    if not scores:
        return "no column checked"
    best = scores[0]
    flagged = "FLAGGED" if best.score >= LEAK_SCORE else "not flagged"
    return f"{best.score:.3f}  `{best.column}` ({best.kind}), {flagged}"


def main() -> None:
    repeats = int(os.environ.get("SIFT_BENCH_REPEATS", 5))
    rows = []
    for label, near in (("honest table", False), ("every number past the screen", True)):
        frame, roles = table(20_000, near)
        find_leaks(frame, roles, "y")  # the first call imports scikit-learn's trees where needed
        runs = [timed(lambda frame=frame, roles=roles: find_leaks(frame, roles, "y")) for _ in range(repeats)]
        best, leaks = min(runs, key=lambda run: run[0])
        rows.append((label, f"{best * 1000:.0f} ms, {len(leaks)} column(s) flagged"))
    report(f"leakage check, 20,000 rows x 30 columns, best of {repeats}", rows)

    rows = []
    with tempfile.TemporaryDirectory(prefix="sift-bench-") as folder:
        for name, target in DEMOS:
            rows.append((f"demo {name}", _best(*_as_read(DEMO_DIR / f"{name}.csv", target), target)))
        for real in TABLES:
            path = Path(folder) / f"{real.name}.csv"
            real.load().to_csv(path, index=False)
            rows.append((real.name, _best(*_as_read(path, real.target), real.target)))
    report(f"best single column per table (balanced accuracy out of fold; flagged at {LEAK_SCORE})", rows)


if __name__ == "__main__":
    main()
