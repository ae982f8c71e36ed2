"""Model quality on the bundled datasets: `core.training.train.train` with the default budget.

Each dataset is ingested into a temporary home and trained with the default ("quick") budget and
the default seed; printed: the winner, holdout accuracy and macro F1, CV macro F1, trials, and
the wall time of training (home creation and ingest excluded). Targets (holdout accuracy): rice
>= 0.925 (published best about 0.93), mushrooms 1.000, sentiment (text only) >= 0.80.

SIFT_BENCH_SEEDS (e.g. "42,0,1,2,3") trains each dataset once per seed and also prints the mean
and range over seeds: one holdout of a few hundred rows moves by about a point from seed to seed.
SIFT_BENCH_DATASETS (e.g. "rice") restricts the datasets.
"""

from __future__ import annotations

import os
import statistics

from bench.common import report, temporary_home, timed
from core import registry
from core.config import DEMO_DIR
from core.datasets.versions import ingest
from core.db import open_database
from core.training import DEFAULT_BUDGET
from core.training.budgets import Budget
from core.training.train import train

DATASETS = {
    "rice": ("rice_cammeo_osmancik.csv", "Class", 0.925),
    "mushrooms": ("mushrooms.csv", "class", 1.0),
    "sentiment": ("sentiment_sentences.csv", "label", 0.80),
}


def run(name: str, seed: int | None) -> tuple[float, object]:
    filename, target, _ = DATASETS[name]
    with temporary_home() as (_, settings):
        sessions = open_database(settings)
        registry.ensure_store(settings)  # MLflow's first migration is home creation, not training
        with sessions.begin() as session:
            ingest(session=session, path=DEMO_DIR / filename, name=name, target=target)
        with sessions.begin() as session:
            return timed(lambda: train(session=session, settings=settings, dataset=name, budget=Budget(seed=seed)))


def main() -> None:
    seeds = [int(s) for s in os.environ.get("SIFT_BENCH_SEEDS", "").split(",") if s.strip()] or [None]
    names = [n.strip() for n in os.environ.get("SIFT_BENCH_DATASETS", ",".join(DATASETS)).split(",") if n.strip()]
    for name in names:
        target = DATASETS[name][2]
        rows, accuracies = [], []
        for seed in seeds:
            seconds, result = run(name, seed)
            m = result.metrics
            accuracies.append(m["accuracy"])
            label = "default seed" if seed is None else f"seed {seed}"
            rows.append(
                (
                    label,
                    f"accuracy {m['accuracy']:.4f}  macro F1 {m['f1_macro']:.4f}  CV macro F1 {m['cv_f1_macro']:.4f}"
                    f"  winner {result.estimator}  trials {result.trials}  {seconds:.1f} s",
                )
            )
        if len(seeds) > 1:
            rows.append(
                (
                    "over seeds",
                    f"accuracy mean {statistics.mean(accuracies):.4f}  min {min(accuracies):.4f}  "
                    f"max {max(accuracies):.4f}",
                )
            )
        report(f"quality: {name}, budget {DEFAULT_BUDGET}, holdout accuracy target {target:.3f}", rows)


if __name__ == "__main__":
    main()
