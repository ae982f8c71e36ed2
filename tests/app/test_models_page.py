"""The Models page (AppTest): comparison, promote and roll back with a confirmation, history, card, export,
and its state tied to the dataset and the champion (nothing armed or carried over after a change)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app import resources
from core import registry
from core.config import REPO_ROOT
from tests.app.two_datasets import choose_dataset, two_datasets_settings, two_datasets_template  # noqa: F401

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/models.py"
REASON = "Reason"
CONFIRM = "I confirm this change of the champion of {}"


def _page(dataset: str = "rice") -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.session_state[resources.DATASET_KEY] = dataset
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _version_box(at: AppTest):
    return next(s for s in at.selectbox if s.label == "Version")


def _reason(at: AppTest):
    return next(t for t in at.text_input if t.label == REASON)


def _confirm(at: AppTest, dataset: str):
    return next(c for c in at.checkbox if c.label == CONFIRM.format(dataset))


def _format(at: AppTest):
    return next(r for r in at.radio if r.label == "Format")


def _button(at: AppTest, starts: str):
    return next(b for b in at.button if b.label.startswith(starts))


def _downloads(at: AppTest) -> list[str]:
    return [d.label for d in at.get("download_button")]


def _history(at: AppTest):
    return next(d.value for d in at.dataframe if "who" in d.value.columns)


def test_page_shows_the_challenger_against_the_champion_and_the_history(two_settings) -> None:
    at = _page()
    assert not at.error
    assert _version_box(at).value == 2  # the challenger is chosen first
    comparison = next(d.value for d in at.dataframe if "metric" in d.value.columns)
    assert list(comparison.columns) == ["metric", "champion v1", "v2", "v2 − champion"]
    assert comparison["metric"].tolist() == ["Accuracy", "Macro F1", "Balanced accuracy", "ROC AUC", "Log loss"]
    history = _history(at)
    assert history[["who", "action", "to"]].values.tolist() == [["sift train", "initial", 1]]
    assert _button(at, "Promote").label == "Promote v2 to champion"
    assert _button(at, "Roll back").disabled  # nothing to roll back to yet
    assert any("Model card: rice v2" in m.value for m in at.markdown)
    assert "Download the card of v2 (Markdown)" in _downloads(at)


def test_promote_needs_the_confirmation_then_leaves_nothing_armed(two_settings) -> None:
    at = _page()
    _reason(at).input("v2 is better on the holdout")
    _button(at, "Promote").click().run()
    assert at.warning and registry.alias_version(two_settings, "rice") == 1  # not confirmed: nothing happens

    _confirm(at, "rice").check()
    _button(at, "Promote").click().run()
    assert not at.exception and not at.error
    assert registry.alias_version(two_settings, "rice") == 2
    assert "version 2 is now the champion of rice (was version 1)" in at.success[0].value
    latest = _history(at).iloc[0]
    assert (latest["who"], latest["action"], latest["from"], latest["to"]) == ("app", "promote", 1, 2)
    assert latest["why"] == "v2 is better on the holdout"
    # nothing armed for the next change: an empty reason, an unticked box, and the box on the new champion
    box = _version_box(at)
    assert box.value == 2 and box.options == ["v2 (champion)", "v1"]
    assert _reason(at).value == "" and _confirm(at, "rice").value is False
    assert _button(at, "Promote").label == "Promote v2 to champion" and _button(at, "Promote").disabled

    _button(at, "Roll back").click().run()  # the old tick and reason are gone: the rollback asks again
    assert at.warning and registry.alias_version(two_settings, "rice") == 2
    _reason(at).input("v2 misbehaves")
    _confirm(at, "rice").check()
    _button(at, "Roll back to v1").click().run()
    assert not at.exception and registry.alias_version(two_settings, "rice") == 1
    assert _history(at).iloc[0]["action"] == "rollback" and _history(at).iloc[0]["why"] == "v2 misbehaves"
    assert _reason(at).value == "" and _confirm(at, "rice").value is False
    assert _version_box(at).value == 1  # the version the rollback made champion


def test_promote_then_export_exports_the_promoted_version(two_settings) -> None:
    at = _page()
    _confirm(at, "rice").check()
    _button(at, "Promote").click().run()
    assert registry.alias_version(two_settings, "rice") == 2
    assert "Export v2" in [s.value for s in at.subheader]
    _button(at, "Prepare the export").click().run()
    assert not at.exception and not at.error
    assert _button(at, "Prepare the export").label == "Prepare the export of v2"
    [archive] = [label for label in _downloads(at) if label.endswith(".zip")]
    assert "-v2-" in archive and "-v1-" not in archive

    _version_box(at).set_value(1).run()  # another version: the v2 archive is not offered under it
    assert not [label for label in _downloads(at) if label.endswith(".zip")]
    assert _button(at, "Prepare the export").label == "Prepare the export of v1"


def test_switching_between_datasets_whose_champions_are_both_v1_carries_nothing_over(
    two_datasets_settings,  # noqa: F811
) -> None:
    at = _page("rice")
    _format(at).set_value("onnx")
    _reason(at).input("rice reason")
    _confirm(at, "rice").check()
    _button(at, "Prepare the export").click().run()
    assert any(label.endswith(".zip") and "rice" in label for label in _downloads(at))

    choose_dataset(at, "penguins")
    assert not at.error
    box = _version_box(at)
    assert box.value == 1 and box.options == ["v1 (champion)"]
    assert _reason(at).value == "" and _confirm(at, "penguins").value is False
    assert _format(at).value == "mlflow"  # the first format, as on a first visit
    assert not [label for label in _downloads(at) if label.endswith(".zip")]
    assert any("Model card: penguins v1" in m.value for m in at.markdown)
    _reason(at).input("penguins reason")
    _format(at).set_value("onnx").run()

    choose_dataset(at, "rice")  # and back: neither rice's old state nor penguins' comes along
    assert _version_box(at).value == 1
    assert _reason(at).value == "" and _confirm(at, "rice").value is False and _format(at).value == "mlflow"
    assert not [label for label in _downloads(at) if label.endswith(".zip")]


def test_onnx_export_is_prepared_for_download(two_settings) -> None:
    at = _page()
    _format(at).set_value("onnx")
    _button(at, "Prepare the export").click().run()
    assert not at.exception and not at.error
    assert any("largest probability difference" in c.value for c in at.caption)
