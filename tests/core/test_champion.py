"""Which version serves: the champion lookup follows promotions and alias moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core import champion, registry
from core.db import open_database
from core.db.models import Batch, Prediction
from core.promotion import promote
from core.scoring.single import score_row
from core.training.budgets import Budget
from core.training.train import train
from tests.conftest import _use_home
from tests.core.scoring.conftest import _rice, _score
from tests.homes import copy_home, home_settings

# --- the champion changes -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def two_versions_template(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Path:
    home = copy_home(trained_template, tmp_path_factory.mktemp("templates") / "two_versions")
    settings = home_settings(home)
    with open_database(settings).begin() as session:
        train(session=session, settings=settings, dataset="rice", budget=Budget(trials=1, seed=7))
    return home


def test_the_ledger_records_the_version_that_scored_across_promotions(
    tmp_path: Path, two_versions_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _use_home(monkeypatch, copy_home(two_versions_template, tmp_path / "home"))
    sessions = open_database(settings)
    source = tmp_path / "in.csv"
    _rice(30).to_csv(source, index=False)
    row = _rice(1).iloc[0].to_dict()

    def single() -> int:
        with sessions.begin() as session:
            return score_row(session=session, settings=settings, dataset="rice", values=row).prediction_id

    first_row, first_batch = single(), _score(settings, sessions, source, tmp_path / "a.csv")
    with sessions.begin() as session:
        promote(session=session, settings=settings, dataset="rice", version=2, reason="test")
    second_row, second_batch = single(), _score(settings, sessions, source, tmp_path / "b.csv")
    registry.set_alias(settings, "rice", registry.CHAMPION, 1)  # behind Sift's back: seen within CHAMPION_TTL
    monkeypatch.setattr(champion, "CHAMPION_TTL", 0.0)
    third_row = single()
    with sessions() as session:
        version = {p.id: p.model_version for p in session.scalars(select(Prediction))}
        batches = {b.id: b.model_version for b in session.scalars(select(Batch))}
    assert (version[first_row], version[second_row], version[third_row]) == (1, 2, 1)
    assert (first_batch["model_version"], second_batch["model_version"]) == (1, 2)
    assert batches == {first_batch["batch_id"]: 1, second_batch["batch_id"]: 2}
    for batch, expected in ((first_batch, 1), (second_batch, 2)):
        with sessions() as session:
            stored = set(
                session.scalars(select(Prediction.model_version).where(Prediction.batch_id == batch["batch_id"]))
            )
        assert stored == {expected}
