"""`python -m core alert-destinations`, `alert-test` and `alert-log` through real subprocesses on a trained
rice home, a webhook receiver on loopback (core/cli/alerting.py). URLs are never printed."""

from __future__ import annotations

import json

import pytest

from core.monitoring.destinations import mask_url
from tests.cli.conftest import ok, run, user_error
from tests.servers import free_port
from tests.webhooks import SECRET, receiver, url_at


def test_destinations_a_test_alert_and_the_log_never_print_a_url(
    trained_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = trained_settings.home
    down = url_at(free_port())  # the default for every dataset, where nothing listens
    monkeypatch.setenv("SIFT_ALERT_WEBHOOK", f"teams:{down}")
    monkeypatch.setenv("SIFT_ALERT_ATTEMPTS", "1")
    printed = []
    with receiver() as hook:
        added = ok(
            home, "alert-destinations", "--dataset", "rice", "--add", hook.url, "--digest", "daily", "--who", "ana"
        )
        assert added["added"]["where"] == f"http://127.0.0.1:{hook.port}/…oken" and added["added"]["digest"] == "daily"
        assert added["added"]["created_by"] == "ana" and added["added"]["scope"] == "rice"
        default = ok(home, "alert-destinations")["destinations"]
        assert [(d["id"], d["origin"], d["style"]) for d in default] == [(None, "setting", "teams")]
        printed += [str(added), str(default)]

        done = run(home, "alert-test", "--dataset", "rice", "--who", "ana")
        assert done.returncode == 0, done.stderr
        printed += [done.stdout, done.stderr]
        assert hook.ids("test") == [None] and "sent by ana" in hook.bodies[0]["message"]
        assert "warning: the test alert did not reach http://127.0.0.1" in done.stderr  # the default is down

    log = run(home, "alert-log", "--dataset", "rice", "--limit", "50")
    assert log.returncode == 0, log.stderr
    printed.append(log.stdout)
    tries = json.loads(log.stdout)["log"]
    assert {(t["kind"], t["status"]) for t in tries} == {("test", "sent"), ("test", "failed")}
    assert {t["where"] for t in tries} == {f"http://127.0.0.1:{hook.port}/…oken", mask_url(down)}

    weekly = ok(home, "alert-destinations", "--dataset", "rice", "--digest", "weekly")  # its only own destination
    printed.append(str(weekly))
    assert weekly["changed"]["digest"] == "weekly"
    ids = {d["origin"]: d["id"] for d in weekly["destinations"]}
    assert set(ids) == {"cli", "setting"}  # the default was synced by the test alert
    removed = ok(home, "alert-destinations", "--dataset", "rice", "--remove", str(ids["cli"]))
    assert removed["removed"]["enabled"] is False and [d["origin"] for d in removed["destinations"]] == ["setting"]

    refused = user_error(home, "alert-destinations", "--dataset", "rice", "--add", f"hooks.example.org/{SECRET}")
    assert "not a usable webhook address" in refused
    printed.append(refused)
    for text in printed:
        assert "hush" not in text and "SECRET" not in text
