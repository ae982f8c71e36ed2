"""A window over the cap (settings.drift_max_rows) is measured on a seeded sample, says so, and
measured again gives the same result; the ledger reads the sampled rows only, the rows a frame's
sample would hold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, select

from core.db.models import DriftWindow, Prediction, ReferenceProfile
from core.monitoring import checks, ledger, windows
from core.monitoring.ledger import Selection
from core.monitoring.sampling import positions, sample_rows
from tests.core.monitoring.conftest import FEATURES, rice_rows, score_rows

SPECS = [{"name": n, "role": "numeric"} for n in FEATURES]


def test_a_window_over_the_cap_is_measured_on_a_seeded_sample_and_says_so(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    capped = trained_settings.model_copy(update={"drift_max_rows": 1000})
    scored = score_rows(trained_sessions, trained_settings, rice_rows(1500, seed=11), tmp_path)

    done = windows.refresh(sessions=trained_sessions, settings=capped, dataset="rice", kind="batch")
    (window,) = done.windows
    assert (window.rows, window.sampled_rows, window.status) == (1500, 1000, "measured")
    assert windows.window_as_dict(window)["sampled_rows"] == 1000
    assert windows.windows_frame(done.windows)["sampled_rows"].tolist() == [1000]
    with trained_sessions.begin() as session:  # the version's profile was stored with its first window
        assert session.scalar(select(func.count()).select_from(ReferenceProfile)) == 1
        session.execute(delete(DriftWindow))
    again = windows.refresh(sessions=trained_sessions, settings=capped, dataset="rice", kind="batch")
    assert again.windows[0].columns == window.columns  # the same sample: the same scores

    with trained_sessions.begin() as session:
        session.execute(delete(DriftWindow))
    whole = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    assert whole.windows[0].sampled_rows is None
    assert whole.windows[0].columns["Area"]["score"] != window.columns["Area"]["score"]  # it was a sample

    with trained_sessions() as session:
        selection = Selection(batch=scored["batch_id"])
        check = checks.measure_selection(session=session, settings=capped, dataset="rice", selection=selection)
        same = checks.measure_selection(session=session, settings=capped, dataset="rice", selection=selection)
    assert (check.current_rows, check.sampled_rows) == (1500, 1000)
    assert "Measured on a seeded sample of 1,000 of 1,500 rows." in check.notes
    assert check.as_dict() == same.as_dict() and check.as_dict()["sampled_rows"] == 1000


def test_the_ledger_reads_the_rows_a_frames_sample_holds(trained_settings, trained_sessions, tmp_path: Path) -> None:
    capped = trained_settings.model_copy(update={"drift_max_rows": 1000})
    score_rows(trained_sessions, trained_settings, rice_rows(1200, seed=12), tmp_path)
    where = [Prediction.dataset == "rice"]
    with trained_sessions() as session:
        every_row, ids = ledger.read_inputs(session, where, SPECS)
        sampled, listed = ledger.read_inputs(session, where, SPECS, sample=1000, seed=7)
        small, _ = ledger.read_inputs(session, where, SPECS, sample=1500, seed=7)  # under the cap: all
    assert list(listed) == list(ids) and len(sampled) == 1000
    pd.testing.assert_frame_equal(sampled, every_row.iloc[positions(1200, 1000, 7)])
    pd.testing.assert_frame_equal(sampled, sample_rows(every_row, 1000, 7))
    pd.testing.assert_frame_equal(small, every_row)

    rice_rows(1200, seed=13).drop(columns="Class").to_csv(tmp_path / "many.csv", index=False)
    with trained_sessions() as session:
        result = checks.measure_file(session=session, settings=capped, dataset="rice", path=tmp_path / "many.csv")
    assert (result.current_rows, result.sampled_rows) == (1200, 1000)
    assert "Measured on a seeded sample of 1,000 of 1,200 rows." in result.notes
