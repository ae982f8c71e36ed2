"""`serve` measures what the API scores without anyone asking (core/api/monitor.py): soon after a scored
request, and on its schedule (SIFT_MONITOR_EVERY), each time in a `monitor` process of its own."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from core.db.models import DriftWindow, MonitorState
from core.monitoring import schedule
from tests.core.monitoring.conftest import FEATURES, rice_rows


def _wait_for(check, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.5)
    raise AssertionError("not done in time")


def test_the_service_measures_what_it_scored_and_runs_its_schedule(start_service, api_home: Path) -> None:
    service = start_service(api_home, SIFT_MONITOR_AFTER_SCORING="1", SIFT_MONITOR_EVERY="25s")
    sessions = service.sessions()
    rows = rice_rows(120, seed=9)[FEATURES].to_dict(orient="records")
    with service.client() as client:
        for start in (0, 60):  # two requests in a row: measured together
            assert client.post("/v1/models/rice/predict", json={"rows": rows[start : start + 60]}).status_code == 200

    def measured_after_scoring():
        with sessions() as session:
            state = session.get(MonitorState, "rice")
            done = state is not None and state.last_finished_at is not None and state.holder is None
            return done and session.execute(select(DriftWindow.kind, DriftWindow.rows)).all()

    assert sorted(_wait_for(measured_after_scoring)) == [("count", 120), ("day", 120)]  # API rows have no batch
    with sessions() as session:
        state = session.get(MonitorState, "rice")
        assert state.last_trigger == "scoring" and state.last_measured == 2 and state.last_error is None

    def scheduled():
        with sessions() as session:
            shown = schedule.status(session=session, dataset="rice")
            finished = shown.last_finished_at is not None and shown.last_finished_at > shown.last_started_at
            return shown.last_trigger == "schedule" and finished and shown.measuring is None and shown

    shown = _wait_for(scheduled, 120)
    assert shown.schedule_every == 25 and shown.next_due is not None and shown.last_measured == 0
