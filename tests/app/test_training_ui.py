"""app.ui.training: the stored training report renders without recomputing anything."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.ui import training
from core.training.report import load_report


def _render(report: dict) -> None:
    from app.ui.training import show_report

    show_report(report, key="t")


def test_show_report_renders_every_part(trained_settings) -> None:
    report = load_report(trained_settings, "rice", 1)
    at = AppTest.from_function(_render, args=(report,), default_timeout=30).run()
    assert not at.exception
    assert len(at.dataframe) == 1 and at.dataframe[0].value.shape[0] == 4
    assert [t.label for t in at.tabs] == [
        "Confusion matrix",
        "ROC",
        "Precision-recall",
        "Calibration",
        "Importance",
        "Tuning",
    ]
    assert not any("No " in c.value for c in at.caption)
    assert not at.warning  # rice's model is far better than guessing, and the caption says what guessing scores
    assert any(c.value.startswith("Always answering 'Osmancik'") for c in at.caption)


def test_a_model_no_better_than_chance_is_flagged_above_the_leaderboard(trained_settings) -> None:
    report = load_report(trained_settings, "rice", 1)
    report["chance"] |= {"guess": "*odd* [class]", "p_value": 0.4, "better_than_chance": False}
    at = AppTest.from_function(_render, args=(report,), default_timeout=30).run()
    assert not at.exception
    [warning] = at.warning
    assert warning.value.startswith("The model is not clearly better than chance")
    assert r"\*odd\* \[class\]" in warning.value  # the class name is the user's: shown, not formatted


def test_an_older_report_shows_what_it_has() -> None:
    report = {"confusion_matrix": {"labels": ["a", "b"], "matrix": [[3, 1], [0, 4]]}}
    at = AppTest.from_function(_render, args=(report,)).run()
    assert not at.exception
    assert sum("No " in c.value for c in at.caption) == 6


def test_figures_follow_the_documents(trained_settings) -> None:
    report = load_report(trained_settings, "rice", 1)
    assert len(training.roc_figure(report["roc_curve"]).data) == 2  # the curve and chance
    tuning = training.tuning_figure(report["tuning"])
    assert list(tuning.data[0].x) == [t["number"] for t in report["tuning"]["trials"] if t["state"] == "COMPLETE"]
    frame = training.leaderboard_frame(report["leaderboard"])
    assert frame.iloc[0, 0] == "★" and frame["CV macro F1"].is_monotonic_decreasing
