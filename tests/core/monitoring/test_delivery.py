"""Alert delivery to webhook receivers on loopback: once per alert across failures and retries, nothing
lost while a destination is down, every try logged, URLs never shown; Slack and Teams bodies; tests
and digests."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from core.config import Settings
from core.db import open_database
from core.db.models import AlertDelivery, AlertDestination, AlertEvent, DeliveryAttempt, utcnow
from core.errors import AlertDestinationError, DatasetNotFound
from core.monitoring import alerts, windows
from core.monitoring.delivery import deliver, delivery_log, queue_alerts, send_test
from core.monitoring.destinations import (
    add_destination,
    default_target,
    list_destinations,
    mask_url,
    parse_destination,
    remove_destination,
    set_digest,
)
from tests.conftest import _use_home
from tests.core.monitoring.conftest import rice_rows, score_rows
from tests.homes import copy_home, home_settings
from tests.servers import free_port
from tests.webhooks import SECRET, receiver, url_at

PUBLIC = "https://sift.example.org/"


@pytest.fixture(scope="session")
def windows_template(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Path:
    """The trained rice home with a measured window of moved grains whose alerts were taken away again, so a
    test raises them (cheaply, from the stored window) after adding its destinations."""
    folder = tmp_path_factory.mktemp("templates")
    home = copy_home(trained_template, folder / "windows")
    settings = home_settings(home)
    sessions = open_database(settings)
    moved = rice_rows(200, seed=11)
    moved[["Area", "Convex_Area"]] *= 2  # larger grains than any seen in training: drift and flagged rows
    score_rows(sessions, settings, moved, folder)
    assert windows.refresh(sessions=sessions, settings=settings, dataset="rice", kind="batch").alerts
    with sessions.begin() as session:
        session.execute(delete(AlertEvent))
    return home


@pytest.fixture
def home(tmp_path: Path, windows_template: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings (quick retries, a public URL) and sessions of a copy of the windows home."""
    for variable in ("SIFT_ALERT_WEBHOOK", "SIFT_PUBLIC_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # no secrets file of the developer's
    settings = _use_home(monkeypatch, copy_home(windows_template, tmp_path / "home"))
    quick = settings.model_copy(update={"alert_retry_seconds": 0.01, "alert_attempts": 2, "public_url": PUBLIC})
    return quick, open_database(settings)


def raise_alerts(settings: Settings, sessions) -> list[AlertEvent]:
    with sessions.begin() as session:
        stored = windows.list_windows(session=session, dataset="rice", kind="batch")
        raised = alerts.check_alerts(session=session, settings=settings, dataset="rice", windows=stored)
    assert len(raised) >= 2
    return raised


def _attempts(sessions, delivery_id: int) -> list[tuple[str, int | None]]:
    with sessions() as session:
        rows = session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.id)
        )
        return [(a.status, a.http_status) for a in rows]


def test_each_alert_arrives_once_across_a_failed_first_try_and_its_retry(home, caplog) -> None:
    settings, sessions = home
    with receiver(fail_first=1) as hook, receiver() as slack, receiver() as teams:
        with sessions.begin() as session:
            add_destination(session=session, url=hook.url, dataset="rice", who="ana")
            add_destination(session=session, url=f"slack:{slack.url}", who="ana")
            add_destination(session=session, url=f"teams:{teams.url}", dataset="rice", who="ana")
        raised = raise_alerts(settings, sessions)
        with caplog.at_level(logging.DEBUG):
            run = deliver(sessions=sessions, settings=settings)
            again = deliver(sessions=sessions, settings=settings)
    ids = sorted(a.id for a in raised)
    assert sorted(hook.ids()) == ids  # each once: the refused first try was retried, nothing sent twice
    assert hook.requests == len(ids) + 1
    assert len(slack.bodies) == len(teams.bodies) == len(ids)
    assert (run.sent, run.failed_attempts, run.pending, run.queued) == (3 * len(ids), 1, 0, 3 * len(ids))
    assert (again.sent, again.queued, again.failed_attempts) == (0, 0, 0)

    first = next(r for r in run.results if r["where"] == mask_url(hook.url) and r["alert_id"] == min(ids))
    assert _attempts(sessions, first["delivery"]) == [("failed", 500), ("sent", 200)]
    with sessions() as session:
        log = delivery_log(session=session, dataset="rice")
    assert len(log) == 3 * len(ids) + 1 and {r["kind"] for r in log} == {"alert"}
    refused = [r for r in log if r["status"] == "failed"]
    assert refused[0]["http_status"] == 500 and "HTTP 500" in refused[0]["error"]
    assert refused[0]["delivery_status"] == "sent" and refused[0]["alert_id"] == min(ids)

    alert = next(a for a in raised if a.kind == "flagged_share")
    body = next(b for b in hook.bodies if b["id"] == alert.id)
    assert body["sift"] is True and body["type"] == "alert"
    assert (body["dataset"], body["kind"], body["model_version"]) == ("rice", "flagged_share", 1)
    assert body["window"] == alert.window and body["message"] == alert.message
    assert body["value"] == alert.value and body["threshold"] == alert.threshold
    assert body["link"] == f"https://sift.example.org/monitor?window={alert.window_id}"
    assert "Flagged rows" in body["text"] and "at or above its threshold 10.0%" in body["text"]

    slack_body = slack.bodies[0]
    assert isinstance(slack_body["text"], str) and "rice" in slack_body["text"]
    button = slack_body["blocks"][-1]["elements"][0]
    assert slack_body["blocks"][0]["type"] == "header" and button["url"].startswith(f"{PUBLIC}monitor?window=")
    card = teams.bodies[0]
    assert card["@type"] == "MessageCard" and card["title"].startswith("Sift alert on rice")
    assert {f["name"] for f in card["sections"][0]["facts"]} >= {"Dataset", "Model version", "Window", "Threshold"}
    action = card["potentialAction"][0]
    assert action["@type"] == "OpenUri" and action["targets"][0]["uri"].startswith(f"{PUBLIC}monitor?window=")

    shown = caplog.text + json.dumps(log) + json.dumps(run.as_dict())
    assert "Sent alert" in caplog.text and "HTTP Request: POST http://127.0.0.1" in caplog.text  # httpx's, masked
    assert SECRET.split("/")[0] not in shown and "hush" not in shown
    with sessions.begin() as session:  # a destination added now does not get the alerts raised before it
        add_destination(session=session, url=url_at(free_port()), dataset="rice")
        assert queue_alerts(session=session, settings=settings, dataset="rice") == 0


def test_a_destination_that_is_down_keeps_every_alert_until_it_is_up(home) -> None:
    settings, sessions = home
    port = free_port()  # nothing listens there yet
    with sessions.begin() as session:
        add_destination(session=session, url=url_at(port))  # every dataset's
    ids = sorted(a.id for a in raise_alerts(settings, sessions))

    down = deliver(sessions=sessions, settings=settings)
    assert (down.sent, down.gave_up, down.pending) == (0, 0, len(ids))
    assert down.failed_attempts == settings.alert_attempts  # then its other deliveries wait for a later run
    with sessions() as session:
        log = delivery_log(session=session)
    assert [r["status"] for r in log] == ["failed"] * settings.alert_attempts
    assert log[0]["http_status"] is None and "Connect" in log[0]["error"] and "hush" not in json.dumps(log)
    assert log[0]["delivery_status"] == "pending" and log[0]["next_attempt_at"] > log[0]["when"]

    with receiver(port=port) as hook:
        up = deliver(sessions=sessions, settings=settings, now=utcnow() + timedelta(hours=2))
    assert sorted(hook.ids()) == ids and (up.sent, up.pending, up.failed_attempts) == (len(ids), 0, 0)
    with sessions() as session:
        statuses = session.execute(select(AlertDelivery.status, func.count()).group_by(AlertDelivery.status)).all()
    assert dict(statuses) == {"sent": len(ids)}


def test_a_delivery_failing_for_days_is_given_up_and_logged(home) -> None:
    settings, sessions = home
    with sessions.begin() as session:
        add_destination(session=session, url=url_at(free_port()), dataset="rice")
    raise_alerts(settings, sessions)
    run = deliver(sessions=sessions, settings=settings, now=utcnow() + timedelta(days=4))
    assert run.gave_up == 1 and run.sent == 0 and run.results[0]["status"] == "failed"
    with sessions() as session:
        assert delivery_log(session=session, dataset="rice")[0]["delivery_status"] == "failed"


def test_two_runs_at_once_send_each_alert_once(home) -> None:
    settings, sessions = home
    with receiver(delay=0.05) as one, receiver(delay=0.05) as two:
        with sessions.begin() as session:
            add_destination(session=session, url=one.url, dataset="rice")
            add_destination(session=session, url=two.url)
        ids = sorted(a.id for a in raise_alerts(settings, sessions))
        start = threading.Barrier(2)
        runs = []

        def run() -> None:
            start.wait()
            runs.append(deliver(sessions=open_database(settings), settings=settings))

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(one.ids()) == ids and sorted(two.ids()) == ids
    assert sum(r.sent for r in runs) == 2 * len(ids) and sum(r.queued for r in runs) == 2 * len(ids)
    with sessions() as session:
        assert session.scalar(select(func.count(DeliveryAttempt.id))) == 2 * len(ids)


def test_a_test_alert_reaches_every_destination_of_the_dataset(home) -> None:
    settings, sessions = home
    with pytest.raises(AlertDestinationError, match="No alert destination for rice"):
        send_test(sessions=sessions, settings=settings, dataset="rice", who="ana")
    with receiver() as own, receiver() as every:
        with sessions.begin() as session:
            add_destination(session=session, url=own.url, dataset="rice")
            add_destination(session=session, url=every.url)
            gone = add_destination(session=session, url=url_at(free_port()), dataset="rice")
            remove_destination(session=session, destination_id=gone.id)
        run = send_test(sessions=sessions, settings=settings, dataset="rice", who="ana")
    assert run.sent == 2 and len(own.ids("test")) == len(every.ids("test")) == 1
    assert "sent by ana" in own.bodies[0]["message"] and own.bodies[0]["link"] == f"{PUBLIC}monitor"

    with sessions.begin() as session:  # now every receiver is gone: failed at once, not retried later
        add_destination(session=session, url=url_at(free_port()), dataset="rice")
    failed = send_test(sessions=sessions, settings=settings, dataset="rice", who="ana")
    assert (failed.sent, failed.gave_up, failed.pending) == (0, 3, 0)
    with sessions() as session:
        log = delivery_log(session=session, dataset="rice")
    assert {r["kind"] for r in log} == {"test"} and {r["delivery_status"] for r in log} == {"sent", "failed"}


def test_a_digest_is_sent_once_per_period(home) -> None:
    settings, sessions = home
    with receiver() as hook:
        with sessions.begin() as session:
            dest = add_destination(session=session, url=hook.url, digest="daily")
        assert deliver(sessions=sessions, settings=settings).queued == 0  # added today: yesterday is not its
        # noon tomorrow: an hour later is still the same day whenever the test runs (not so from 23:00 UTC)
        tomorrow = datetime.combine(utcnow().date() + timedelta(days=1), dt_time(12), tzinfo=UTC)
        assert deliver(sessions=sessions, settings=settings, now=tomorrow).sent == 1
        assert deliver(sessions=sessions, settings=settings, now=tomorrow + timedelta(hours=1)).queued == 0
        with sessions.begin() as session:
            set_digest(session=session, destination_id=dest.id, digest="weekly")
        assert deliver(sessions=sessions, settings=settings, now=tomorrow + timedelta(days=7)).sent == 1
    daily, weekly = hook.bodies
    assert daily["type"] == "digest" and daily["period"] == "daily" and weekly["period"] == "weekly"
    (rice,) = daily["datasets"]
    assert rice["dataset"] == "rice" and rice["champion"] == 1 and rice["estimated_accuracy"] is not None
    assert {"windows_measured", "alerts_open", "labels_gathered", "realised_accuracy"} <= set(rice)
    assert "rice:" in daily["text"] and daily["title"].startswith("Sift daily digest for ")


def test_destinations_are_checked_masked_and_follow_the_default_setting(
    settings: Settings, sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for bad in ("hooks.example.org/x", "ftp://example.org/x", "slack:", "https://", "https://exa mple.org/x"):
        with pytest.raises(AlertDestinationError, match="not a usable webhook address") as refused:
            parse_destination(bad)
        assert "example.org/x" not in str(refused.value)
    assert parse_destination("teams:https://x.example.org/a").style == "teams"
    assert (
        mask_url("https://user:pw@hooks.slack.com/services/T0/B0/abcdWXYZ?token=q") == "https://hooks.slack.com/…WXYZ"
    )
    assert mask_url("http://[::1]:8080/hook") == "http://[::1]:8080/…"

    with sessions.begin() as session, pytest.raises(DatasetNotFound):
        add_destination(session=session, url="https://x.example.org/abc", dataset="nope")
    first = settings.model_copy(update={"alert_webhook": "slack:https://hooks.example.org/services/first-secret"})
    second = settings.model_copy(update={"alert_webhook": "https://hooks.example.org/services/second-secret"})
    with sessions() as session:  # listing reads only: the default shows before it is synced
        (pending,) = list_destinations(session=session, settings=first)
        assert pending["id"] is None and pending["where"] == "https://hooks.example.org/…cret"
    deliver(sessions=sessions, settings=first)
    deliver(sessions=sessions, settings=second)
    with sessions.begin() as session:
        listed = list_destinations(session=session, settings=second)
        assert [(d["origin"], d["style"], d["created_by"]) for d in listed] == [
            ("setting", "json", "SIFT_ALERT_WEBHOOK")
        ]
        rows = session.scalars(select(AlertDestination).order_by(AlertDestination.id)).all()
        assert [(r.style, r.enabled) for r in rows] == [("slack", False), ("json", True)]  # kept, disabled
        with pytest.raises(AlertDestinationError, match="unset it there"):
            remove_destination(session=session, destination_id=rows[1].id)
    assert "secret" not in json.dumps(listed)

    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('alert_webhook = "teams:https://t.example.org/hook/abc123"\n')
    target, source = default_target(settings)
    assert target.style == "teams" and source == "alert_webhook in .streamlit/secrets.toml"
    assert "abc123" not in repr(target)
