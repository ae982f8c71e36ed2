"""Access control in the app (AppTest on real homes): the sign-in gate on every page, and admin mode
for the actions that change models, data or thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import registry
from core.access import hash_password
from core.config import REPO_ROOT, get_settings
from core.datasets.versions import ingest, list_versions
from core.feedback import feedback_counts
from tests.conftest import RICE

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGES = [
    f"app/pages/{name}.py" for name in ("home", "data", "train", "predict", "batch", "feedback", "models", "monitor")
]
PASSWORD, ADMIN_PASSWORD = "correct horse", "battery staple"


@pytest.fixture(scope="module")
def hashes() -> dict[str, str]:
    return {"user": hash_password(PASSWORD), "admin": hash_password(ADMIN_PASSWORD)}


def _configure(monkeypatch: pytest.MonkeyPatch, *, password: str | None = None, admin: str | None = None) -> None:
    for variable, value in (("SIFT_PASSWORD", password), ("SIFT_ADMIN_PASSWORD", admin)):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    get_settings.cache_clear()


def _open(page: str | None = None, **secrets: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.secrets.update(secrets)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception
    return at


def _shows_only_the_gate(at: AppTest) -> bool:
    return (
        [t.value for t in at.title] == ["Sign in to Sift"]
        and [i.label for i in at.text_input] == ["Password"]
        and not at.sidebar.selectbox  # not even the dataset names
        and not at.metric
        and not at.dataframe
    )


def _sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input(key="access_password").input(password)
    at.button[0].click().run()  # the form's only button: Sign in
    assert not at.exception
    return at


def _unlock_admin(at: AppTest, password: str) -> AppTest:
    at.text_input(key="access_admin_password").input(password)
    next(b for b in at.sidebar.button if b.label == "Unlock").click().run()
    assert not at.exception
    return at


# -- the sign-in gate -----------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_only_the_sign_in_form(trained_settings, monkeypatch, hashes, page: str) -> None:
    _configure(monkeypatch, password=hashes["user"])
    at = _open(page)
    assert _shows_only_the_gate(at)


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_deep_link(
    trained_settings, monkeypatch, hashes
) -> None:
    _configure(monkeypatch, password=hashes["user"])
    at = _open("app/pages/models.py")

    _sign_in(at, "not the password")
    assert any("Wrong password" in e.value for e in at.error)
    assert _shows_only_the_gate(at)

    _sign_in(at, PASSWORD)
    assert not at.error
    assert [t.value for t in at.title] == ["Models"]  # the page the link asked for
    assert at.sidebar.selectbox(key="sift_dataset").value == "rice"

    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert _shows_only_the_gate(at)


def test_the_password_can_come_from_streamlit_secrets(trained_settings, monkeypatch, hashes) -> None:
    _configure(monkeypatch)
    at = _open("app/pages/home.py", password=hashes["user"])
    assert _shows_only_the_gate(at)
    _sign_in(at, PASSWORD)
    assert [t.value for t in at.title] == ["Sift"] and at.metric  # the Home page


def test_without_a_password_nothing_is_asked(trained_settings, monkeypatch) -> None:
    _configure(monkeypatch)
    at = _open("app/pages/models.py")
    assert not at.error and [t.value for t in at.title] == ["Models"]
    assert not [b for b in at.sidebar.button if b.label in ("Sign out", "Unlock")]


def test_a_plain_password_in_the_setting_is_refused_without_showing_it(trained_settings, monkeypatch) -> None:
    _configure(monkeypatch, password="hunter2")
    at = _open("app/pages/predict.py")
    assert len(at.error) == 1
    message = at.error[0].value
    assert "SIFT_PASSWORD" in message and "python -m core hash-password" in message
    assert "hunter2" not in message
    assert not at.text_input and not at.sidebar.selectbox and not at.number_input  # neither form nor page


# -- admin mode -------------------------------------------------------------------------------------


def test_promote_and_rollback_need_admin_mode(two_settings, monkeypatch, hashes) -> None:
    _configure(monkeypatch, admin=hashes["admin"])
    at = _open("app/pages/models.py")  # no sign-in password: the pages are open, the changes are not
    next(c for c in at.checkbox if c.label.startswith("I confirm")).check()
    next(b for b in at.button if b.label.startswith("Promote")).click().run()
    assert any("needs admin mode" in e.value for e in at.error)
    assert registry.alias_version(two_settings, "rice") == 1

    _unlock_admin(at, "wrong")
    assert any("Wrong admin password" in e.value for e in at.sidebar.error)
    next(c for c in at.checkbox if c.label.startswith("I confirm")).check()
    next(b for b in at.button if b.label.startswith("Promote")).click().run()
    assert registry.alias_version(two_settings, "rice") == 1

    _unlock_admin(at, ADMIN_PASSWORD)
    assert any("Admin mode is on" in c.value for c in at.sidebar.caption)
    next(c for c in at.checkbox if c.label.startswith("I confirm")).check()
    next(b for b in at.button if b.label.startswith("Promote")).click().run()
    assert not at.error and registry.alias_version(two_settings, "rice") == 2

    next(b for b in at.sidebar.button if b.label == "Leave admin mode").click().run()
    next(c for c in at.checkbox if c.label.startswith("I confirm")).check()
    next(b for b in at.button if b.label.startswith("Roll back")).click().run()
    assert any("needs admin mode" in e.value for e in at.error)
    assert registry.alias_version(two_settings, "rice") == 2


def test_deleting_a_dataset_version_needs_admin_mode(settings, sessions, monkeypatch, hashes, tmp_path: Path) -> None:
    fewer = tmp_path / "rice.csv"
    fewer.write_text("".join(RICE.read_text().splitlines(keepends=True)[:-10]))
    for path in (RICE, fewer):
        with sessions.begin() as session:
            ingest(session=session, path=path, name="rice", target="Class")
    _configure(monkeypatch, admin=hashes["admin"])
    at = _open("app/pages/data.py")
    at.session_state["data_tab"] = "Versions"
    at.run()

    at.checkbox(key="data_delete_confirm_rice_2").check().run()
    at.button(key="data_delete").click().run()
    assert any("needs admin mode" in e.value for e in at.error)
    with sessions() as session:
        assert [v.version for v in list_versions(session=session)] == [2, 1]

    _unlock_admin(at, ADMIN_PASSWORD)
    at.checkbox(key="data_delete_confirm_rice_2").check().run()
    at.button(key="data_delete").click().run()
    assert not at.error and any("Deleted rice v2" in s.value for s in at.success)
    with sessions() as session:
        assert [v.version for v in list_versions(session=session)] == [1]


def test_the_retrain_threshold_needs_admin_mode(trained_settings, trained_sessions, monkeypatch, hashes) -> None:
    _configure(monkeypatch, admin=hashes["admin"])
    at = _open("app/pages/train.py")
    before = trained_settings.retrain_threshold

    def save_threshold(value: int) -> None:
        at.number_input(key="train_retrain_threshold_rice").set_value(value)
        next(b for b in at.button if b.label == "Save retrain settings").click().run()
        assert not at.exception

    def threshold() -> int:
        with trained_sessions() as session:
            return feedback_counts(session=session, settings=get_settings(), dataset="rice").threshold

    save_threshold(before + 7)
    assert any("needs admin mode" in e.value for e in at.error)
    assert threshold() == before

    _unlock_admin(at, ADMIN_PASSWORD)
    save_threshold(before + 7)
    assert not at.error and threshold() == before + 7
