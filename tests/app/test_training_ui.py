"""app.ui.training: the stored training report renders without recomputing anything; a job's budget,
duration and trials read as words."""

from __future__ import annotations

from types import SimpleNamespace

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
    assert report["selection"]["metric"] == "roc_auc"  # rice: two classes
    assert frame.iloc[0, 0] == "★" and frame["CV ROC AUC"].is_monotonic_decreasing
    assert list(frame.columns[2:6]) == ["CV ROC AUC", "CV ±", "holdout ROC AUC", "holdout 95 % interval"]
    low, high = report["leaderboard"][0]["holdout_low"], report["leaderboard"][0]["holdout_high"]
    assert low < report["leaderboard"][0]["roc_auc"] < high
    assert frame.iloc[0]["holdout 95 % interval"] == f"{low:.3f} to {high:.3f}"


def test_the_leaderboard_says_how_the_winner_was_chosen_and_what_it_traded(trained_settings) -> None:
    report = load_report(trained_settings, "rice", 1)
    traded = "Accuracy 0.800 is below the 0.900 of always answering 'Osmancik', because the model was chosen on"
    report["selection"]["warnings"] = [traded + " Macro F1, which counts every class equally."]
    at = AppTest.from_function(_render, args=(report,), default_timeout=30).run()
    assert not at.exception
    assert [w.value for w in at.warning] == report["selection"]["warnings"]
    [board] = [c.value for c in at.caption if c.value.startswith("Every candidate")]
    assert "best ROC AUC out of fold" in board and "never used to choose" in board
    assert report["selection"]["reason"] in board  # the default's reason: two classes


def test_a_leaderboard_from_before_the_metric_choice_reads_as_macro_f1() -> None:
    rows = [
        {"name": "xgboost", "label": "XGBoost (tuned)", "cv_f1_macro": 0.91, "cv_f1_macro_std": 0.01, "f1_macro": 0.9}
    ]
    frame = training.leaderboard_frame(rows)
    assert frame.loc[0, "CV Macro F1"] == 0.91 and frame.loc[0, "holdout Macro F1"] == 0.9
    assert frame.loc[0, "holdout 95 % interval"] == ""
    assert training.selection_note({}) == "The winner (★) has the best cross-validated macro F1."


def test_durations_and_budgets_read_as_words() -> None:
    assert [training.duration(s) for s in (None, 7, 60, 95, 3600, 3725)] == [
        "–",
        "7 s",
        "1 min",
        "1 min 35 s",
        "1 h",
        "1 h 02 min",
    ]
    assert training.limits(None, None) == "the default number of trials"
    assert training.limits(1, None) == "1 trial"
    assert training.limits(12, 90) == "12 trials or 1 min 30 s"
    job = SimpleNamespace(parameters={"budget": "quick", "trials": 5, "timeout": None})
    assert training.budget_text(job) == "quick: 5 trials"
    assert training.budget_text(SimpleNamespace(parameters=None)) == "custom: the default number of trials"


def test_the_trial_chart_draws_finished_trials_and_the_best_so_far() -> None:
    fig = training.trial_chart([0.5, None, 0.7, 0.6])
    assert list(fig.data[0].x) == [1, 3, 4] and list(fig.data[0].y) == [0.5, 0.7, 0.6]
    assert list(fig.data[1].y) == [0.5, 0.7, 0.7]
