"""Single predictions from several processes at once on one SQLite home.

Rice is ingested into a temporary home and a model trained (2 trials). Then 1, then 8 processes
each make 200 single predictions (the Predict page's ``score_row``) and label every second one
(``label_prediction``), all released at the same moment; printed: predictions per second across
the processes, without and with the explanation the Predict page shows. Every run also checks
that no prediction or label was lost (the concurrency test asserts the same on every CI run).
SIFT_BENCH_PROCESSES (e.g. "1,4,8") changes the process counts.
"""

from __future__ import annotations

import os

from sqlalchemy import func, select

from bench.common import report, temporary_home
from core import registry
from core.config import DEMO_DIR
from core.datasets.versions import ingest
from core.db import open_database
from core.db.models import Feedback, Prediction
from core.training.budgets import Budget
from core.training.train import train
from tests.faults.client import run_clients

PREDICTIONS, LABELS = 200, 100


def main() -> None:
    counts = [int(n) for n in os.environ.get("SIFT_BENCH_PROCESSES", "1,8").split(",") if n.strip()]
    with temporary_home() as (home, settings):
        sessions = open_database(settings)
        registry.ensure_store(settings)
        with sessions.begin() as session:
            ingest(session=session, path=DEMO_DIR / "rice_cammeo_osmancik.csv", name="rice", target="Class")
        with sessions.begin() as session:
            train(session=session, settings=settings, dataset="rice", budget=Budget(trials=2))
        rows = []
        for explain in (False, True):
            for processes in counts:
                results, seconds = run_clients(home, "rice", processes, PREDICTIONS, LABELS, explain=explain)
                made = sum(len(r["ids"]) for r in results)
                labelled = sum(len(r["labelled"]) for r in results)
                with sessions() as session:
                    stored = session.scalar(
                        select(func.count()).select_from(Prediction).where(Prediction.id.in_(_ids(results)))
                    )
                    labels = session.scalar(select(func.count()).select_from(Feedback))
                lost = made - stored
                what = "with explanations" if explain else "no explanation"
                rows.append(
                    (
                        f"{processes} process{'es' if processes > 1 else ''}, {what}",
                        f"{made / seconds:7.1f} predictions/s  ({made} predictions, {labelled} labels, "
                        f"{seconds:.1f} s; lost {lost}, labels stored so far {labels})",
                    )
                )
    report(f"Concurrency: {PREDICTIONS} single predictions and {LABELS} labels per process, one SQLite home", rows)


def _ids(results: list[dict]) -> list[int]:
    return [i for r in results for i in r["ids"]]


if __name__ == "__main__":
    main()
