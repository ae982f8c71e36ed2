"""Helpers for monitoring tests: score rows into the ledger of a trained home (rice, or penguins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from palmerpenguins import load_penguins

from core.config import Settings, get_settings
from core.scoring.batch import score_file
from tests.conftest import RICE, _use_home, add_penguins
from tests.homes import copy_home

# palmerpenguins' features as a model's contract reads them
PENGUINS_FEATURES = [
    {"name": "island", "role": "categorical"},
    {"name": "bill_length_mm", "role": "numeric"},
    {"name": "bill_depth_mm", "role": "numeric"},
    {"name": "flipper_length_mm", "role": "numeric"},
    {"name": "body_mass_g", "role": "numeric"},
    {"name": "sex", "role": "categorical"},
    {"name": "year", "role": "numeric"},  # 2007, 2008, 2009: read as three categories
]
FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def rice_rows(n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of the rice data (features and class), drawn at random."""
    return pd.read_csv(RICE).sample(n, random_state=seed).reset_index(drop=True)


def penguins_rows(n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of palmerpenguins' table (its ``year`` takes three values), drawn at random."""
    return load_penguins().sample(n, random_state=seed).reset_index(drop=True)


def score_rows(
    sessions, settings, frame: pd.DataFrame, folder: Path, name: str = "batch", *, dataset: str = "rice"
) -> dict:
    """Score the feature columns of ``frame`` (all but the target) as one batch; returns score_file's summary."""
    target = {"rice": "Class", "penguins": "species"}[dataset]
    source = folder / f"{name}.csv"
    frame[[c for c in frame.columns if c != target]].to_csv(source, index=False)
    return score_file(
        sessions=sessions,
        settings=settings,
        dataset=dataset,
        input_path=source,
        output_path=folder / f"{name}.scored.csv",
    )


@pytest.fixture(scope="session")
def penguins_template(tmp_path_factory: pytest.TempPathFactory, empty_template: Path) -> Path:
    """A home with palmerpenguins' table ingested (target species) and a champion (once per session)."""
    folder = tmp_path_factory.mktemp("templates")
    return add_penguins(copy_home(empty_template, folder / "penguins"), folder)


@pytest.fixture
def penguins_settings(tmp_path: Path, penguins_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for a home of this test's own holding the penguins table and a champion."""
    yield _use_home(monkeypatch, copy_home(penguins_template, tmp_path / "home"))
    get_settings.cache_clear()


@pytest.fixture
def penguins_sessions(penguins_settings: Settings):
    from core.db import open_database

    return open_database(penguins_settings)
