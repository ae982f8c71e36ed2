"""Batch scoring: `core.scoring.score_file` against the plain way, in the same run.

The plain way: pandas chunked read, the same Pipeline's predict_proba, DataFrame.to_csv, and the
sqlite3 module's executemany of each row's inputs, class and probabilities, one transaction per
chunk. Rows: SIFT_BENCH_ROWS (default 500,000).
"""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pandas as pd

from bench.common import report, temporary_home, timed
from core.config import DEMO_DIR
from core.datasets.versions import ingest
from core.db import open_database
from core.scoring import load_champion, score_file
from core.training.train import train

CHUNK = 200_000


def rice_like(rows: int, seed: int = 0) -> pd.DataFrame:
    rice = pd.read_csv(DEMO_DIR / "rice_cammeo_osmancik.csv").drop(columns="Class")
    rng = np.random.default_rng(seed)
    frame = rice.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    noise = rng.normal(1.0, 0.01, size=frame.shape)
    frame = frame * noise
    frame[["Area", "Convex_Area"]] = frame[["Area", "Convex_Area"]].round().astype(int)
    return frame


def plain(model, source, output, database) -> None:
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, inputs TEXT, predicted TEXT, probabilities TEXT)")
    classes = np.asarray(model.classes, dtype=object)
    first, next_id = True, 1
    for chunk in pd.read_csv(source, chunksize=CHUNK):
        proba = model.pipeline.predict_proba(chunk)
        predicted = classes[proba.argmax(axis=1)]
        out = chunk.copy()
        out["prediction"] = predicted
        for i, label in enumerate(classes):
            out[f"proba_{label}"] = proba[:, i]
        out.to_csv(output, mode="w" if first else "a", header=first, index=False)
        first = False
        inputs = chunk.to_json(orient="records", lines=True).splitlines()
        probabilities = [json.dumps(dict(zip(map(str, classes), p.tolist(), strict=True))) for p in proba]
        ids = range(next_id, next_id + len(chunk))
        next_id += len(chunk)
        with conn:
            conn.executemany(
                "INSERT INTO p VALUES (?, ?, ?, ?)", zip(ids, inputs, map(str, predicted), probabilities, strict=True)
            )
    conn.close()


def main() -> None:
    rows = int(os.environ.get("SIFT_BENCH_ROWS", 500_000))
    with temporary_home() as (home, settings):
        sessions = open_database(settings)
        with sessions.begin() as session:
            ingest(session=session, path=DEMO_DIR / "rice_cammeo_osmancik.csv", name="rice", target="Class")
        with sessions.begin() as session:
            train(session=session, settings=settings, dataset="rice", trials=1)
        model = load_champion(settings, "rice")
        source = home / "batch.csv"
        rice_like(rows).to_csv(source, index=False)
        plain_s, _ = timed(lambda: plain(model, source, home / "plain.csv", home / "plain.db"))
        core_s, result = timed(
            lambda: score_file(
                sessions=sessions,
                settings=settings,
                dataset="rice",
                input_path=source,
                output_path=home / "core.csv",
                chunk_size=CHUNK,
            )
        )
        assert result["scored"] == rows
    report(
        f"batch scoring, {rows:,} rows x 7 features",
        [
            ("plain way", f"{plain_s:.2f} s ({rows / plain_s:,.0f} rows/s)"),
            ("core.scoring.score_file", f"{core_s:.2f} s ({rows / core_s:,.0f} rows/s)"),
            ("ratio core / plain", f"{core_s / plain_s:.2f}x"),
        ],
    )


if __name__ == "__main__":
    main()
