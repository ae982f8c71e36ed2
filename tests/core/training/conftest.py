"""Small datasets for training tests: each trains in a few seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

from core.datasets.versions import ingest

POSITIVE = ["great", "lovely", "excellent", "good", "fine", "happy", "superb", "nice"]
NEGATIVE = ["awful", "bad", "poor", "terrible", "broken", "sad", "dreadful", "ugly"]


def wine_frame() -> pd.DataFrame:
    """178 rows, 13 numeric columns, three string classes."""
    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return frame


def reviews_frame(rows: int = 200, seed: int = 3) -> pd.DataFrame:
    """A free-text column only, numeric labels (1 good, 0 bad), a little noise."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, size=rows)
    words = [rng.choice(POSITIVE if (y == 1) != (rng.random() < 0.1) else NEGATIVE, size=2) for y in label]
    text = [f"the product was {a} and really {b}" for a, b in words]
    return pd.DataFrame({"review": text, "label": label})


def ingest_frame(sessions, tmp_path: Path, frame: pd.DataFrame, name: str, target: str) -> None:
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        ingest(session=session, path=path, name=name, target=target)


@pytest.fixture
def wine(sessions, tmp_path: Path) -> str:
    ingest_frame(sessions, tmp_path, wine_frame(), "wine", "cultivar")
    return "wine"
