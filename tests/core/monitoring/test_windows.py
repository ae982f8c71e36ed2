"""Drift over time: windows of the ledger are measured once, stored, and not measured again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.db.models import Batch, DriftWindow, Prediction, Rejection
from core.errors import NoPredictions, WindowTooSmall
from core.monitoring import checks, options, windows
from core.monitoring.ledger import Selection, count_spans, day_spans
from tests.core.monitoring.conftest import rice_rows, score_rows


def _stored(sessions) -> dict[str, tuple[int, datetime]]:
    with sessions() as session:
        return {w.key: (w.id, w.computed_at) for w in session.scalars(select(DriftWindow))}


def test_batch_windows_are_stored_and_not_measured_again(trained_settings, trained_sessions, tmp_path: Path) -> None:
    first = score_rows(trained_sessions, trained_settings, rice_rows(300, seed=1), tmp_path, "first")
    shifted = rice_rows(300, seed=2)
    shifted[["Area", "Convex_Area"]] *= 1.25
    second = score_rows(trained_sessions, trained_settings, shifted, tmp_path, "second")

    done = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    assert (done.measured, done.kept) == (2, 0)
    by_key = {w.key: w for w in done.windows}
    calm, moved = by_key[first["batch_id"]], by_key[second["batch_id"]]
    assert calm.closed and calm.status == "measured" and calm.rows == 300 and calm.model_version == 1
    assert not calm.dataset_drift and not calm.columns["Area"]["drifted"]
    assert moved.columns["Area"]["drifted"] and moved.columns["Convex_Area"]["drifted"]
    assert moved.columns["Area"]["method"] == "ks" and moved.columns["Area"]["threshold"] == 0.05  # 300 rows: a test
    assert moved.drift_share >= 2 / 7 and moved.flagged > 0  # out-of-range areas are flagged
    assert 0.8 < calm.estimated_accuracy <= 1 and sum(calm.class_mix.values()) == 300
    assert sum(calm.confidence_bins) == 300
    before = _stored(trained_sessions)

    again = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    assert (again.measured, again.kept) == (0, 2)
    assert _stored(trained_sessions) == before  # same rows, same computed_at: nothing measured again

    third = score_rows(trained_sessions, trained_settings, rice_rows(150, seed=3), tmp_path, "third")
    later = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    assert (later.measured, later.kept) == (1, 2)
    assert {k: v for k, v in _stored(trained_sessions).items() if k != third["batch_id"]} == before

    frame = windows.windows_frame(later.windows)
    assert frame["rows"].tolist() == [300, 300, 150] and "score:Area" in frame.columns


def test_changed_drift_options_measure_the_windows_again(trained_settings, trained_sessions, tmp_path: Path) -> None:
    score_rows(trained_sessions, trained_settings, rice_rows(200, seed=4), tmp_path)
    windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    with trained_sessions.begin() as session:
        features = [{"name": n, "role": "numeric"} for n in ("Area", "Perimeter")]
        options.save_options(session=session, dataset="rice", columns={"Area": {"method": "ks"}}, features=features)
    done = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    assert done.measured == 1 and done.windows[0].columns["Area"]["method"] == "ks"


def test_day_windows_close_when_the_day_is_over_and_small_ones_are_not_measured(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    score_rows(trained_sessions, trained_settings, rice_rows(250, seed=5), tmp_path, "a")
    small = score_rows(trained_sessions, trained_settings, rice_rows(40, seed=6), tmp_path, "b")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with trained_sessions.begin() as session:  # the first batch was scored yesterday
        session.execute(update(Prediction).where(Prediction.batch_id != small["batch_id"]).values(created_at=yesterday))
    done = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="day")
    old, today = done.windows
    assert old.key == yesterday.date().isoformat() and old.closed and old.status == "measured" and old.rows == 250
    assert not today.closed and today.status == "too_small" and today.rows == 40 and today.drift_share is None
    assert today.estimated_accuracy is not None  # the estimate needs no minimum

    tomorrow = datetime.now(UTC) + timedelta(days=1)
    later = windows.refresh(
        sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="day", now=tomorrow
    )
    assert later.measured == 0 and all(w.closed for w in later.windows)  # closed with the rows it had


def test_count_windows_and_the_report_of_a_window(trained_settings, trained_sessions, tmp_path: Path) -> None:
    score_rows(trained_sessions, trained_settings, rice_rows(350, seed=7), tmp_path)
    done = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="count", size=150)
    assert [(w.key, w.rows, w.closed, w.status) for w in done.windows] == [
        ("150:0", 150, True, "measured"),
        ("150:1", 150, True, "measured"),
        ("150:2", 50, False, "too_small"),
    ]
    with trained_sessions() as session:
        assert windows.stored_report(trained_settings, done.windows[0]) is None
        path = windows.window_report(session=session, settings=trained_settings, window_id=done.windows[0].id)
    assert path.parent == trained_settings.artifacts_dir / "reports" / "rice"
    page = path.read_text(encoding="utf-8")
    assert page.lstrip().startswith("<!DOCTYPE html>") and "K-S p_value" in page
    assert windows.stored_report(trained_settings, done.windows[0]) == path


def test_a_chosen_selection_against_the_champion(trained_settings, trained_sessions, tmp_path: Path) -> None:
    scored = score_rows(trained_sessions, trained_settings, rice_rows(200, seed=8), tmp_path)
    with trained_sessions() as session:
        with pytest.raises(NoPredictions):
            checks.measure_selection(
                session=session,
                settings=trained_settings,
                dataset="rice",
                selection=Selection(start=datetime(2001, 1, 1).date(), end=datetime(2001, 1, 2).date()),
            )
        with pytest.raises(WindowTooSmall, match="Only 50 predictions"):
            checks.measure_selection(
                session=session, settings=trained_settings, dataset="rice", selection=Selection(last=50)
            )
        result = checks.measure_selection(
            session=session, settings=trained_settings, dataset="rice", selection=Selection(batch=scored["batch_id"])
        )
    assert result.current_rows == 200 and result.model_version == 1 and not result.dataset_drift
    assert result.reference_rows == 3810 - 762  # the training part: the holdout is left out
    path = checks.save_check_report(result, trained_settings, "rice")
    assert path.exists() and path.stat().st_size > 10_000


def test_rows_the_api_refused_count_in_the_day_and_count_windows(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    frame = rice_rows(252, seed=9)
    frame["Area"] = frame["Area"].astype(object)
    frame.loc[[10, 20], "Area"] = "big"  # two rows the batch file's contract rejects
    batch = score_rows(trained_sessions, trained_settings, frame, tmp_path)
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    with trained_sessions.begin() as session:
        assert session.get(Batch, batch["batch_id"]).rejected == 2
        ids = session.scalars(select(Prediction.id).order_by(Prediction.id)).all()
        assert len(ids) == 250
        # ids[100:150] scored by a version 2, ids[:50] yesterday: version 1 runs of 100 are ids[:100] and ids[150:]
        session.execute(update(Prediction).where(Prediction.id.in_(ids[100:150])).values(model_version=2))
        session.execute(update(Prediction).where(Prediction.id.in_(ids[:50])).values(created_at=yesterday))
        refused = [  # (version, after_id, rows, when)
            (1, 0, 1, yesterday),  # before any prediction: the first run of version 1
            (1, ids[49], 2, now),  # inside the first run
            (1, ids[99], 4, now),  # after its last id: still the first run
            (1, ids[120], 8, now),  # between version 1's runs (version 2 was scoring): the second run
            (1, ids[249] + 5, 16, now),  # after every prediction: the last run
            (2, ids[120], 32, now),
        ]
        session.add_all(
            Rejection(dataset="rice", model_version=v, source="api", rows=n, after_id=a, created_at=t)
            for v, a, n, t in refused
        )
    with trained_sessions() as session:
        counted = {(s.model_version, s.first_id, s.last_id): s.rejected for s in count_spans(session, "rice", 100)}
        daily = {(s.model_version, s.key): (s.rows, s.rejected) for s in day_spans(session, "rice")}
    assert counted == {(1, ids[0], ids[99]): 1 + 2 + 4, (1, ids[150], ids[249]): 8 + 16, (2, ids[100], ids[149]): 32}
    assert daily == {
        (1, yesterday.date().isoformat()): (50, 1),
        (1, now.date().isoformat()): (150, 2 + 4 + 8 + 16 + 2),  # the API's and the batch file's
        (2, now.date().isoformat()): (50, 32),
    }
