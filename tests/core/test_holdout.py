"""A version's frozen holdout: the rows training recorded, their prediction, and the metrics of a slice."""

from __future__ import annotations

import pytest

from core import registry
from core.champion import load_version
from core.errors import DatasetNotFound
from core.holdout import SPLIT_FILE, Holdout, load_holdout, predict_holdout, score_holdout, score_slice


def test_the_holdout_is_the_recorded_rows_and_rescoring_it_gives_the_logged_metrics(
    trained_settings, trained_sessions
) -> None:
    info = registry.get_version(trained_settings, "rice", 1)
    model = load_version(trained_settings, "rice", 1)
    with trained_sessions() as session:
        holdout = load_holdout(session=session, settings=trained_settings, info=info)
    assert holdout.row_ids == registry.load_document(trained_settings, info.run_id, SPLIT_FILE)["holdout_row_ids"]
    assert len(holdout) == 762 and holdout.dataset.version == 1 and len(holdout.y) == 762
    assert predict_holdout(model, holdout).shape == (762, 2)
    scores = score_holdout(model, holdout)
    for key in ("accuracy", "f1_macro", "balanced_accuracy", "roc_auc"):
        assert scores[key] == pytest.approx(info.metrics[key])  # the figures training logged
    assert score_slice(model.pipeline, model.features, holdout.frame, holdout.y) == scores


def test_a_holdout_without_a_column_the_version_needs_is_refused(trained_settings, trained_sessions) -> None:
    info = registry.get_version(trained_settings, "rice", 1)
    model = load_version(trained_settings, "rice", 1)
    with trained_sessions() as session:
        holdout = load_holdout(session=session, settings=trained_settings, info=info)
    lacking = Holdout(holdout.dataset, holdout.row_ids, holdout.frame.drop(columns="Area"), holdout.y)
    for step in (predict_holdout, score_holdout):
        with pytest.raises(DatasetNotFound, match=r"needs columns that .* does not have: 'Area'"):
            step(model, lacking)
