"""Monitoring that runs by itself (core/monitoring/schedule.py) through real `python -m core` processes on a
trained rice home: a scored batch gets its windows without another command, `monitor` measures only what
is new, and two `monitor` processes at once store every window and alert once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from core.config import REPO_ROOT
from core.db.models import AlertEvent, DriftWindow, MonitorState
from core.monitoring import schedule
from tests.cli.conftest import ok, user_error
from tests.core.monitoring.conftest import rice_rows, score_rows
from tests.webhooks import receiver


def _windows(sessions) -> list[tuple]:
    with sessions() as session:
        return sorted(
            session.execute(
                select(DriftWindow.kind, DriftWindow.key, DriftWindow.rows, DriftWindow.computed_at, DriftWindow.status)
            ).all()
        )


def _monitor(home: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "--home", str(home), "monitor", *args],
        cwd=REPO_ROOT,
        env=os.environ | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_batch_scored_by_the_command_line_gets_its_windows_without_another_command(
    trained_settings, trained_sessions, tmp_path: Path, monkeypatch
) -> None:
    home = trained_settings.home
    source = tmp_path / "in.csv"
    rice_rows(150, seed=5).drop(columns="Class").to_csv(source, index=False)
    monkeypatch.setenv("SIFT_MONITOR_AFTER_SCORING", "1")
    out = ok(home, "predict", "--dataset", "rice", "--input", str(source), "--output", str(tmp_path / "o.csv"))
    assert isinstance(out["monitor_pid"], int)

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with trained_sessions() as session:
            state = session.get(MonitorState, "rice")
            if state is not None and state.last_finished_at is not None and state.holder is None:
                break
        time.sleep(0.5)
    windows = _windows(trained_sessions)
    assert {(kind, rows) for kind, _, rows, _, _ in windows} == {("day", 150), ("batch", 150), ("count", 150)}
    assert {key for kind, key, *_ in windows if kind == "batch"} == {out["batch_id"]}
    with trained_sessions() as session:
        state = session.get(MonitorState, "rice")
        assert state.last_trigger == "scoring" and state.last_measured == 3 and state.last_error is None

    monkeypatch.setenv("SIFT_MONITOR_AFTER_SCORING", "0")  # turned off: the command says so and starts nothing
    out = ok(home, "predict", "--dataset", "rice", "--input", str(source), "--output", str(tmp_path / "o2.csv"))
    assert out["monitor_pid"] is None


def test_monitor_measures_only_what_is_new(trained_settings, trained_sessions, tmp_path: Path) -> None:
    home = trained_settings.home
    first = score_rows(trained_sessions, trained_settings, rice_rows(120, seed=1), tmp_path, "first")
    done = ok(home, "monitor")
    assert done["measured"] == 3 and done["trigger"] == "command"
    assert done["datasets"][0]["dataset"] == "rice"
    before = {(kind, key): at for kind, key, _, at, _ in _windows(trained_sessions)}

    assert ok(home, "monitor", "--dataset", "rice")["measured"] == 0  # nothing new: nothing measured

    second = score_rows(trained_sessions, trained_settings, rice_rows(130, seed=2), tmp_path, "second")
    done = ok(home, "monitor")
    # the new batch, and today's and the count window that gained its rows; the first batch is left as stored
    assert done["measured"] == 3
    after = {(kind, key): (rows, at) for kind, key, rows, at, _ in _windows(trained_sessions)}
    assert after[("batch", first["batch_id"])][1] == before[("batch", first["batch_id"])]
    assert after[("batch", second["batch_id"])][0] == 130
    assert [rows for (kind, _), (rows, _) in after.items() if kind != "batch"] == [250, 250]

    assert "No dataset" in user_error(home, "monitor", "--dataset", "nope")
    assert "not a duration" in user_error(home, "monitor", "--every", "soon")


def test_two_monitors_at_once_store_each_window_and_alert_once(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    home = trained_settings.home
    for seed in range(3):  # three batches that drift, so each window also raises alerts
        moved = rice_rows(150, seed=40 + seed)
        moved[["Area", "Convex_Area"]] *= 2
        score_rows(trained_sessions, trained_settings, moved, tmp_path, f"b{seed}")

    with receiver(fail_first=1) as hook:  # the default destination, down for its first request
        env = {"SIFT_ALERT_WEBHOOK": hook.url, "SIFT_ALERT_RETRY_SECONDS": "0.1"}
        runs = [_monitor(home, **env), _monitor(home, **env)]
        outs = [json.loads(p.communicate(timeout=300)[0]) for p in runs]
    assert [p.returncode for p in runs] == [0, 0]
    assert hook.url not in json.dumps(outs)

    windows = _windows(trained_sessions)
    assert len(windows) == len({(kind, key) for kind, key, *_ in windows}) == 5  # 1 day, 3 batches, 1 count
    assert sum(o["measured"] for o in outs) == 5  # each window measured by one of them
    with trained_sessions() as session:
        alerts = session.execute(select(AlertEvent.kind, AlertEvent.window)).all()
        assert len(alerts) == len(set(alerts)) >= 3
        assert sum(len(o["datasets"][0]["alerts"]) for o in outs) == len(alerts)
        alert_ids = set(session.scalars(select(AlertEvent.id)))
    assert sorted(hook.ids()) == sorted(alert_ids)  # each alert delivered once, by one of the two runs
    assert len(hook.bodies) == len(alert_ids) and hook.requests == len(alert_ids) + 1  # + the refused first try
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(MonitorState)) == 1
        state = session.get(MonitorState, "rice")
        assert state.holder is None and state.lease_until is None


def test_monitor_every_keeps_measuring_and_records_its_schedule(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    home = trained_settings.home
    score_rows(trained_sessions, trained_settings, rice_rows(110, seed=3), tmp_path, "first")
    process = _monitor(home, "--every", "2s")
    try:
        first = json.loads(process.stdout.readline())
        assert first["trigger"] == "schedule" and first["measured"] == 3
        score_rows(trained_sessions, trained_settings, rice_rows(120, seed=4), tmp_path, "second")
        later = json.loads(process.stdout.readline())
        while later["measured"] == 0:  # the run that started before the batch was stored
            later = json.loads(process.stdout.readline())
        assert later["measured"] == 3
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["stopped"] is True
    with trained_sessions() as session:
        shown = schedule.status(session=session, dataset="rice")
    assert shown.schedule_every == 2.0 and shown.next_due is not None and shown.last_trigger == "schedule"
