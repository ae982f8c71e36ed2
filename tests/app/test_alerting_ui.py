"""The Monitor page's alert delivery tab (AppTest on a trained home, a webhook receiver on loopback):
rendering writes nothing, admins add, test and remove destinations, URLs are never on the page."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.access import hash_password
from core.config import get_settings
from core.db.models import AlertDelivery, AlertDestination, DeliveryAttempt
from tests.app.page_text import page_text
from tests.servers import free_port
from tests.webhooks import receiver, url_at


def _tab() -> None:
    from app import resources
    from app.ui.alerting import delivery_tab

    delivery_tab(dataset="rice", settings=resources.settings(), sessions=resources.sessions())


def _open() -> AppTest:
    at = AppTest.from_function(_tab, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def _fingerprint(sessions) -> list:
    with sessions() as session:
        return [
            [tuple(getattr(r, c.key) for c in table.__table__.columns) for r in session.scalars(select(table))]
            for table in (AlertDestination, AlertDelivery, DeliveryAttempt)
        ]


def test_the_delivery_tab_reads_only_and_lets_an_admin_add_test_and_remove(
    trained_settings, trained_sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIFT_ALERT_WEBHOOK", f"slack:{url_at(free_port())}")  # the default: nothing listens there
    monkeypatch.setenv("SIFT_ALERT_ATTEMPTS", "1")
    monkeypatch.delenv("SIFT_ADMIN_PASSWORD", raising=False)
    get_settings.cache_clear()
    before = _fingerprint(trained_sessions)
    at = _open()
    assert _fingerprint(trained_sessions) == before  # the default is listed, not stored, by looking
    (listed,) = at.dataframe
    assert list(listed.value["from"]) == ["the settings"] and list(listed.value["format"]) == ["slack"]
    assert any("nothing is lost" in c.value for c in at.caption)

    with receiver() as hook:
        at.text_input(key="alerting_url").input(hook.url)
        at.button[0].click().run()  # the form's only button: Add destination
        assert not at.exception and not at.error
        assert any(f"now go to http://127.0.0.1:{hook.port}/…oken" in s.value for s in at.success)
        assert at.text_input(key="alerting_url").value == ""  # the form forgot it

        at.button(key="alerting_test").click().run()
        assert not at.exception and hook.ids("test") == [None]
        assert any(
            "Test alert sent to 1 destination(s). Not delivered to http://127.0.0.1" in w.value for w in at.warning
        )
    log = at.dataframe[1].value
    assert sorted(log["status"]) == ["failed", "sent"] and set(log["kind"]) == {"test"}
    shown = page_text(at)
    assert "…oken" in shown and "hush" not in shown and "SECRET" not in shown  # masked in the tables, never whole

    rows = _fingerprint(trained_sessions)
    at = _open()
    assert _fingerprint(trained_sessions) == rows  # again: looking writes nothing
    own = next(i for i in at.selectbox(key="alerting_pick").options if "rice" in i)
    at.selectbox(key="alerting_pick").set_value(int(own.split()[0][1:])).run()
    at.button(key="alerting_remove").click().run()
    assert not at.exception and any("removed; its delivery log stays" in s.value for s in at.success)
    assert list(at.dataframe[0].value["from"]) == ["the settings"]

    monkeypatch.setenv("SIFT_ADMIN_PASSWORD", hash_password("battery staple"))
    get_settings.cache_clear()
    at = _open()
    at.button(key="alerting_test").click().run()
    assert any("needs admin mode" in e.value for e in at.error)
    assert len(_fingerprint(trained_sessions)[1]) == 2  # no test alert queued
