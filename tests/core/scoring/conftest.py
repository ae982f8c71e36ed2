"""Fixtures of the scoring tests: rice rows and files, and a home with a model on a number, a category and a date."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from core.config import Settings, get_settings
from core.datasets.versions import ingest
from core.db import open_database
from core.db.models import Prediction
from core.scoring.batch import score_file
from core.training.budgets import Budget
from core.training.train import train
from tests.conftest import RICE, _use_home
from tests.homes import copy_home, home_settings

FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def _ledger_count(sessions, batch_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(Prediction)
    if batch_id is not None:
        stmt = stmt.where(Prediction.batch_id == batch_id)
    with sessions() as session:
        return session.scalar(stmt)


def _score(settings, sessions, source: Path, output: Path, dataset: str = "rice", **kwargs) -> dict:
    return score_file(
        sessions=sessions, settings=settings, dataset=dataset, input_path=source, output_path=output, **kwargs
    )


def _rice(rows: int) -> pd.DataFrame:
    return pd.read_csv(RICE, nrows=rows).drop(columns="Class")


# --- a model trained on dates, categories and numbers (once per session) ----------------------


def _events(rows: int = 240, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.uniform(0, 100, rows).round(2)
    when = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")
    return pd.DataFrame(
        {
            "size": size,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "when": when.strftime("%d/%m/%Y"),
            "label": np.where(size > 50, "big", "small"),
        }
    )


@pytest.fixture(scope="session")
def events_template(tmp_path_factory: pytest.TempPathFactory, empty_template: Path) -> Path:
    home = copy_home(empty_template, tmp_path_factory.mktemp("templates") / "events")
    settings = home_settings(home)
    source = home / "events.csv"
    _events().to_csv(source, index=False)
    with open_database(settings).begin() as session:
        version, _ = ingest(session=session, path=source, name="events", target="label")
        assert version.roles == {"size": "numeric", "colour": "categorical", "when": "datetime", "label": "target"}
    with open_database(settings).begin() as session:
        train(session=session, settings=settings, dataset="events", budget=Budget(trials=1))
    return home


@pytest.fixture
def events_settings(tmp_path: Path, events_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    yield _use_home(monkeypatch, copy_home(events_template, tmp_path / "home"))
    get_settings.cache_clear()


@pytest.fixture
def events_sessions(events_settings: Settings):
    return open_database(events_settings)
