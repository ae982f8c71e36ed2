"""The Models page (AppTest): comparison, promote and roll back with a confirmation, history, card, export."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import registry
from core.config import REPO_ROOT
from tests.core.test_promotion import challenger_template, two_sessions, two_settings  # noqa: F401 (fixtures)

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/models.py"


def _page() -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _history(at: AppTest):
    return next(d.value for d in at.dataframe if "who" in d.value.columns)


def test_page_shows_the_challenger_against_the_champion_and_the_history(two_settings) -> None:  # noqa: F811
    at = _page()
    assert not at.error
    assert at.selectbox(key="models_version").value == 2  # the challenger is chosen first
    comparison = next(d.value for d in at.dataframe if "metric" in d.value.columns)
    assert list(comparison.columns) == ["metric", "champion v1", "v2", "v2 − champion"]
    assert comparison["metric"].tolist() == ["Accuracy", "Macro F1", "Balanced accuracy", "ROC AUC"]
    history = _history(at)
    assert history[["who", "action", "to"]].values.tolist() == [["sift train", "initial", 1]]
    assert at.button(key="models_promote").label == "Promote v2 to champion"
    assert at.button(key="models_rollback").disabled  # nothing to roll back to yet
    assert any("Model card: rice v2" in m.value for m in at.markdown)
    assert at.get("download_button")  # the card as Markdown and HTML


def test_promote_needs_the_confirmation_then_moves_the_champion(two_settings) -> None:  # noqa: F811
    at = _page()
    at.text_input(key="models_reason").input("v2 is better on the holdout")
    at.button(key="models_promote").click().run()
    assert at.warning and registry.alias_version(two_settings, "rice") == 1  # not confirmed: nothing happens

    at.checkbox(key="models_confirm").check()
    at.button(key="models_promote").click().run()
    assert not at.exception and not at.error
    assert registry.alias_version(two_settings, "rice") == 2
    assert "version 2 is now the champion of rice (was version 1)" in at.success[0].value
    latest = _history(at).iloc[0]
    assert (latest["who"], latest["action"], latest["from"], latest["to"]) == ("app", "promote", 1, 2)
    assert latest["why"] == "v2 is better on the holdout"
    assert at.checkbox(key="models_confirm").value is False  # each change asks again

    at.checkbox(key="models_confirm").check()
    at.button(key="models_rollback").click().run()
    assert not at.exception and registry.alias_version(two_settings, "rice") == 1
    assert _history(at).iloc[0]["action"] == "rollback"


def test_onnx_export_is_prepared_for_download(two_settings) -> None:  # noqa: F811
    at = _page()
    at.radio(key="models_export_format").set_value("onnx")
    at.button(key="models_export").click().run()
    assert not at.exception and not at.error
    assert any("largest probability difference" in c.value for c in at.caption)
