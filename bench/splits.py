"""How much one holdout moves: the same candidates on many random holdouts of the rice data.

The quality target is read on one frozen holdout (the default seed), a few hundred rows, so it
moves by about a point from one draw to the next. This bench ingests the rice data through Sift,
then for the default seed and SIFT_BENCH_SPLITS other seeds (default 60) draws the holdout the
way training does and fits each candidate with its fixed settings (XGBoost with its library
defaults, untuned): printed are the default seed's accuracy, the mean, the 5th percentile and the
share of holdouts at or above the target. It answers "is the pipeline short of the target, or is
the default seed's holdout a hard one?".
"""

from __future__ import annotations

import os
import statistics

from sklearn.metrics import accuracy_score
from threadpoolctl import threadpool_limits

from bench.common import report, temporary_home
from core.config import DEMO_DIR
from core.datasets.versions import get_version, ingest, load_frame
from core.db import open_database
from core.training.factories import BASELINES, class_weighting, make_xgboost
from core.training.train import _split

TARGET = 0.925


def main() -> None:
    count = int(os.environ.get("SIFT_BENCH_SPLITS", "60"))
    with temporary_home() as (_, settings), threadpool_limits(limits=1):
        with open_database(settings).begin() as session:
            ingest(session=session, path=DEMO_DIR / "rice_cammeo_osmancik.csv", name="rice", target="Class")
        with open_database(settings).begin() as session:
            version = get_version(session=session, name="rice")
            frame = load_frame(session=session, version=version)
        makers = {b.label: b.make for b in BASELINES.values()} | {
            "XGBoost (defaults)": lambda features, seed, class_weight: make_xgboost(
                features, seed=seed, class_weight=class_weight
            )
        }
        seeds = [settings.seed, *[s for s in range(count + 1) if s != settings.seed][:count]]
        scores: dict[str, list[float]] = {name: [] for name in makers}
        for seed in seeds:
            data = _split(frame, version, settings.holdout_fraction, seed)
            weight = class_weighting(data.y_train)
            for name, make in makers.items():
                pipeline = make(data.features, seed, class_weight=weight).fit(data.X_train, data.y_train)
                scores[name].append(accuracy_score(data.y_hold, pipeline.predict(data.X_hold)))
    rows = []
    for name, values in scores.items():
        rest = sorted(values)
        p5 = rest[max(int(0.05 * len(rest)) - 1, 0)]
        share = sum(v >= TARGET for v in values) / len(values)
        rows.append(
            (
                name,
                f"default seed {values[0]:.4f}  mean {statistics.mean(values):.4f}  5th pct {p5:.4f}  "
                f"max {max(values):.4f}  share >= {TARGET} {share:.0%}",
            )
        )
    report(f"rice: holdout accuracy over {len(seeds)} holdouts (default seed first, {len(frame)} rows)", rows)


if __name__ == "__main__":
    main()
