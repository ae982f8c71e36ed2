"""The accuracy estimate before labels arrive, judged on rice holdout rows it was not fitted on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.champion import load_version
from core.monitoring import estimate, windows
from core.monitoring.reference import training_data
from tests.core.monitoring.conftest import score_rows

WITHIN = 0.03  # three points of accuracy


def _holdout(settings, sessions):
    with sessions() as session:
        data = training_data(session=session, settings=settings, dataset="rice", version=1)
    model = load_version(settings, "rice", 1)
    proba = model.pipeline.predict_proba(data.holdout)
    predicted = np.asarray([str(c) for c in model.pipeline.classes_], dtype=object)[proba.argmax(axis=1)]
    return data, proba.max(axis=1), (predicted == data.holdout_target.to_numpy(dtype=object)).astype(float)


def test_fitted_on_one_half_of_the_holdout_the_estimate_lands_within_3_points_on_the_other(
    trained_settings, trained_sessions
) -> None:
    _, confidence, correct = _holdout(trained_settings, trained_sessions)
    assert len(confidence) == 762  # 20 % of 3,810 rows
    order = np.random.default_rng(trained_settings.seed).permutation(len(confidence))
    halves = order[: len(order) // 2], order[len(order) // 2 :]
    for fit_on, judge_on in (halves, halves[::-1]):
        calibration = estimate.fit_calibration(confidence[fit_on], correct[fit_on])
        estimated = estimate.expected_accuracy(calibration, confidence[judge_on])
        realised = correct[judge_on].mean()
        assert abs(estimated - realised) <= WITHIN, (estimated, realised)


def test_the_stored_baseline_records_its_own_honest_check(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        base = estimate.baseline(session=session, settings=trained_settings, dataset="rice", version=1)
        assert estimate.baseline(session=session, settings=trained_settings, dataset="rice", version=1) is base
    assert base.holdout_rows == 762 and 0.85 < base.holdout_accuracy <= 1
    for half in base.check["halves"]:
        assert abs(half["estimate"] - half["realised"]) <= WITHIN
    cross = base.check["cross_fit"]
    assert cross["folds"] == 5 and abs(cross["estimate"] - cross["realised"]) <= WITHIN
    assert set(base.class_mix) == {"Cammeo", "Osmancik"} and sum(base.class_mix.values()) == pytest.approx(1)
    assert sum(base.confidence_bins) == 762
    assert sorted(base.key_features) == sorted(
        ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]
    )


def test_a_scored_half_of_the_holdout_gets_an_estimate_close_to_its_accuracy(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    """End to end: calibrated on one half, the other half scored through the ledger like new data."""
    data, confidence, correct = _holdout(trained_settings, trained_sessions)
    order = np.random.default_rng(trained_settings.seed).permutation(len(confidence))
    fit_on, new = order[: len(order) // 2], order[len(order) // 2 :]
    calibration = estimate.fit_calibration(confidence[fit_on], correct[fit_on])
    rows = data.holdout.iloc[new].reset_index(drop=True)
    truth = data.holdout_target.iloc[new].to_numpy()
    score_rows(trained_sessions, trained_settings, rows.assign(Class=truth), tmp_path)
    done = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    window = done.windows[0]
    scored = pd.read_csv(tmp_path / "batch.scored.csv")
    realised = (scored["prediction"].astype(str).to_numpy() == data.holdout_target.iloc[new].to_numpy()).mean()
    ledger_confidence = scored["confidence"].to_numpy()
    assert abs(estimate.expected_accuracy(calibration, ledger_confidence) - realised) <= WITHIN
    assert abs(window.estimated_accuracy - realised) <= WITHIN  # the stored baseline (whole holdout) agrees
