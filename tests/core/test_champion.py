"""Which version serves: the champion lookup follows promotions and alias moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core import champion, registry
from core.db.models import Batch, Prediction
from core.promotion import promote
from core.scoring.single import score_row
from tests.core.scoring.conftest import _rice, _score

# --- the champion changes -------------------------------------------------------------------------


def test_the_ledger_records_the_version_that_scored_across_promotions(
    tmp_path: Path, two_settings, two_sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, sessions = two_settings, two_sessions
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
