"""Alerts: raised once per window and kind when a threshold is crossed, then acknowledged."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from sqlalchemy import select

from core.db.models import AlertEvent, Prediction
from core.errors import AlertNotFound
from core.feedback import record_label
from core.monitoring import alerts, windows
from tests.core.monitoring.conftest import penguins_rows, rice_rows, score_rows


def _refresh(settings, sessions):
    return windows.refresh(sessions=sessions, settings=settings, dataset="rice", kind="batch")


def test_an_alert_is_raised_once_and_acknowledged(trained_settings, trained_sessions, tmp_path: Path) -> None:
    moved = rice_rows(200, seed=11)
    moved[["Area", "Convex_Area"]] *= 2  # larger grains than any seen in training
    batch = score_rows(trained_sessions, trained_settings, moved, tmp_path)["batch_id"]

    first = _refresh(trained_settings, trained_sessions)
    raised = {a.kind: a for a in first.alerts}
    assert {"flagged_share", "feature_drift"} <= set(raised)
    flagged = raised["flagged_share"]
    assert flagged.window == f"batch:{batch}:v1" and flagged.status == "open" and flagged.window_id
    assert flagged.value > 0.9 and flagged.threshold == trained_settings.alert_flagged_share
    assert "Convex_Area" in raised["feature_drift"].message  # a key feature by permutation importance

    again = _refresh(trained_settings, trained_sessions)
    assert again.alerts == [] and again.measured == 0
    with trained_sessions.begin() as session:
        window = windows.get_window(session=session, window_id=flagged.window_id)
        assert alerts.check_alerts(session=session, settings=trained_settings, dataset="rice", windows=[window]) == []
        assert len(session.scalars(select(AlertEvent)).all()) == len(first.alerts)  # not duplicated

    with trained_sessions.begin() as session:
        done = alerts.acknowledge(session=session, alert_id=flagged.id, who="ana")
        assert (done.status, done.acknowledged_by) == ("acknowledged", "ana") and done.acknowledged_at
        seen_at = done.acknowledged_at
        assert alerts.acknowledge(session=session, alert_id=flagged.id, who="bob").acknowledged_by == "ana"
        with pytest.raises(AlertNotFound):
            alerts.acknowledge(session=session, alert_id=9999)
    with trained_sessions() as session:
        still_open = alerts.list_alerts(session=session, dataset="rice", status="open")
        assert flagged.id not in {a.id for a in still_open} and len(still_open) == len(first.alerts) - 1
        assert session.get(AlertEvent, flagged.id).acknowledged_at == seen_at
    assert _refresh(trained_settings, trained_sessions).alerts == []  # acknowledged: not raised again


def test_realised_accuracy_below_the_holdout_raises_an_alert(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    calm = rice_rows(120, seed=12)
    batch = score_rows(trained_sessions, trained_settings, calm, tmp_path)["batch_id"]
    assert not {a.kind for a in _refresh(trained_settings, trained_sessions).alerts} & {"realised_accuracy"}
    with trained_sessions.begin() as session:
        predictions = session.scalars(select(Prediction).where(Prediction.batch_id == batch).limit(40)).all()
        for p in predictions:  # the analyst says every one of these was wrong
            wrong = "Cammeo" if p.predicted_class == "Osmancik" else "Osmancik"
            record_label(session=session, prediction_id=p.id, label=wrong, who="ana")
    raised = _refresh(trained_settings, trained_sessions).alerts
    assert [a.kind for a in raised] == ["realised_accuracy"]
    assert raised[0].value == 0.0 and "on 40 labels" in raised[0].message


def test_one_unseen_category_is_a_data_quality_finding_and_raises_no_drift_alert(
    penguins_settings, penguins_sessions, tmp_path: Path
) -> None:
    """Issue 12: one unseen island in a 200-row window drawn from training was called drift and alerted on."""
    every_feature = penguins_settings.model_copy(update={"alert_key_features": 0})  # any drifting feature alerts
    rows = penguins_rows(200, seed=5)
    rows.loc[0, "island"] = "Atlantis"  # one bad cell
    score_rows(penguins_sessions, every_feature, rows, tmp_path, dataset="penguins")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        done = windows.refresh(sessions=penguins_sessions, settings=every_feature, dataset="penguins", kind="batch")

    assert not [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]  # no divide-by-zero
    (window,) = done.windows
    assert window.status == "measured" and window.flagged >= 1  # the row is flagged, as before
    assert not window.columns["island"]["drifted"] and window.drift_share == 0.0
    assert window.columns["island"]["quality"] == {"unseen": 1, "unseen_share": 0.005, "examples": ["Atlantis"]}
    assert windows.window_as_dict(window)["data_quality"] == {"island": window.columns["island"]["quality"]}
    assert done.alerts == []  # neither drift nor 0.5 % of rows flagged (the flagged-rows alert is at 10 %)


def test_many_unseen_values_raise_the_data_quality_alert_naming_them(
    penguins_settings, penguins_sessions, tmp_path: Path
) -> None:
    rows = penguins_rows(200, seed=6)
    rows.loc[:59, "island"] = "Atlantis"  # 30 % of rows
    score_rows(penguins_sessions, penguins_settings, rows, tmp_path, dataset="penguins")
    raised = {a.kind: a for a in _refresh_dataset(penguins_settings, penguins_sessions, "penguins").alerts}
    assert "flagged_share" in raised and "feature_drift" not in raised and "drift_share" not in raised
    assert "island 60 unseen (e.g. 'Atlantis')" in raised["flagged_share"].message


def _refresh_dataset(settings, sessions, dataset: str):
    return windows.refresh(sessions=sessions, settings=settings, dataset=dataset, kind="batch")
