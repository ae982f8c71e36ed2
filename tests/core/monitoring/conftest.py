"""Helpers for monitoring tests: score rice rows into the ledger of a trained home."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.scoring import score_file
from tests.conftest import RICE

FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def rice_rows(n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of the rice data (features and class), drawn at random."""
    return pd.read_csv(RICE).sample(n, random_state=seed).reset_index(drop=True)


def score_rows(sessions, settings, frame: pd.DataFrame, folder: Path, name: str = "batch") -> dict:
    """Score the feature columns of ``frame`` as one batch; returns score_file's summary."""
    source = folder / f"{name}.csv"
    frame[[c for c in frame.columns if c != "Class"]].to_csv(source, index=False)
    return score_file(
        sessions=sessions,
        settings=settings,
        dataset="rice",
        input_path=source,
        output_path=folder / f"{name}.scored.csv",
    )
