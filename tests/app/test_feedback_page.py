"""The Feedback page and the Train page's Retrain section (AppTest) on a real home: counters, the
table of recent predictions saved through one core call, and a CSV of labels imported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.db.models import Feedback, RetrainPolicy
from tests.core.test_feedback_loop import score_rice, write_labels

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/feedback.py"
UPLOAD_PATH, UPLOAD_NAME = "feedback_upload_path", "feedback_upload_name"


def _page(path: str = PAGE, **state) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.run()
    assert not at.exception
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(path).run()
    assert not at.exception
    return at


def _texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "subheader", "success", "info", "warning", "error")
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def _labels(sessions) -> dict[int, str]:
    with sessions() as session:
        return dict(session.execute(select(Feedback.prediction_id, Feedback.label)).all())


def test_page_renders_on_an_empty_home(settings) -> None:
    at = _page()
    assert not at.error


def test_counters_show_without_predictions(trained_settings) -> None:
    at = _page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Predictions without a label": "0",
        "Labels since champion v1": "0",
        "Retrain threshold": "50",
    }
    assert "No predictions for rice yet" in _texts(at)
    assert "0 of 50 labels since champion v1" in _texts(at)  # the sidebar


def test_the_table_saves_the_picked_labels_through_one_core_call(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=20)
    at = _page()
    assert {m.label: m.value for m in at.metric}["Predictions without a label"] == "20"
    editor = at.data_editor(key="feedback_editor")
    table = editor.value
    assert len(table) == 20 and table["prediction id"].tolist() == scored["prediction_id"][::-1].tolist()
    assert at.button(key="feedback_save").disabled

    # two cells picked in the editor (rows 0 and 1: the newest predictions)
    at.session_state["feedback_editor"] = {
        "edited_rows": {0: {"true label": "Cammeo"}, 1: {"true label": "Osmancik"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception
    save = at.button(key="feedback_save")
    assert not save.disabled and save.label == "Save 2 label(s)"
    save.click().run()
    assert not at.exception
    newest = table["prediction id"].tolist()
    assert _labels(trained_sessions) == {newest[0]: "Cammeo", newest[1]: "Osmancik"}
    assert "Saved: 2 label(s) accepted (2 new, 0 replaced, 0 unchanged) and 0 rejected." in _texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Predictions without a label"] == "18" and metrics["Labels since champion v1"] == "2"
    assert "2 of 50 labels since champion v1" in _texts(at)  # the sidebar is drawn after the page's save
    assert at.data_editor(key="feedback_editor").value["true label"].tolist()[:2] == ["Cammeo", "Osmancik"]

    at.selectbox(key="feedback_labelled").set_value("Without a label").run()
    assert len(at.data_editor(key="feedback_editor").value) == 18


def test_a_csv_of_labels_is_imported_with_every_bad_row_reported(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=5)
    ids = scored["prediction_id"].tolist()
    path = write_labels(tmp_path / "labels.csv", [(ids[0], "cammeo"), (ids[1], "Basmati"), (123_456, "Cammeo")])
    at = _page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "labels.csv"})
    at.button(key="feedback_import").click().run()
    assert not at.exception
    assert _labels(trained_sessions) == {ids[0]: "Cammeo"}
    assert "Imported labels.csv: 1 label(s) accepted (1 new, 0 replaced, 0 unchanged) and 2 rejected." in _texts(at)
    reasons = at.dataframe[0].value  # the reasons come before the table of predictions
    assert reasons["row"].tolist() == ["row 2", "row 3"]
    assert "'Basmati' is not a class" in reasons["reason"][0] and "No prediction 123456" in reasons["reason"][1]
    assert UPLOAD_PATH not in at.session_state and path.exists()  # the test's own file is left alone


def test_the_train_page_sets_the_threshold_and_offers_a_retrain(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=12)
    at = _page("app/pages/train.py")
    assert {m.label: m.value for m in at.metric}["Labels since champion v1"] == "0 of 50"
    assert at.button(key="train_retrain_start").disabled  # no labels yet
    at.number_input(key="train_retrain_threshold_rice").set_value(10)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    with trained_sessions() as session:
        policy = session.get(RetrainPolicy, "rice")
        assert (policy.threshold, policy.auto) == (10, False)
    with trained_sessions.begin() as session:
        from core.feedback import import_labels

        import_labels(session=session, dataset="rice", source=pd.DataFrame(scored[["prediction_id", "label"]]))
    at.run()
    assert "A retrain is due: 12 labels since champion v1." in _texts(at)
    assert {m.label: m.value for m in at.metric}["Labels since champion v1"] == "12 of 10"
    assert not at.button(key="train_retrain_start").disabled


def _decision(promoted: bool) -> dict:
    holdout = {"accuracy": 0.91, "f1_macro": 0.9, "balanced_accuracy": 0.9, "roc_auc": 0.97}
    worse = holdout | {"f1_macro": 0.8}
    return {
        "source": "retrain",
        "champion_version": 1,
        "challenger_version": 2,
        "promoted": promoted,
        "tolerance": 0.005,
        "rows": {"holdout": 762, "recent_feedback": 12},
        "champion": {"holdout": holdout, "recent_feedback": holdout},
        "challenger": {"holdout": worse, "recent_feedback": holdout},
    }


def test_a_retrain_decision_shows_on_the_train_and_models_pages(trained_settings, trained_sessions) -> None:
    from core.db.models import AliasEvent, Job
    from core.jobs import _now

    reason = "Champion v1 kept: challenger v2 is worse on the champion's holdout (macro F1 0.8000 vs 0.9000, -0.1000)."
    now = _now()
    with trained_sessions.begin() as session:
        session.add(
            AliasEvent(
                model_name="rice",
                alias="challenger",
                action="not promoted",
                from_version=1,
                to_version=2,
                who="retrain",
                reason=reason,
                details=_decision(False),
            )
        )
        result = _decision(False) | {"model": "rice", "version": 2, "aliases": ["challenger"], "reason": reason}
        session.add(
            Job(
                kind="retrain",
                dataset="rice",
                dataset_version=1,
                status="done",
                parameters={"trials": 1, "budget": None},
                progress={"stage": "done", "trial": 1, "trials": 1},
                result=result,
                study_name="rice-v1-job1",
                started_at=now,
                finished_at=now,
            )
        )
    at = _page("app/pages/train.py")
    assert not at.error
    assert [w.value for w in at.warning].count(reason) == 2  # the job's outcome and the latest decision
    assert "Retrain job 1: rice v1 · done" in _texts(at)
    table = at.dataframe[0].value
    holdout = table[(table["metric"] == "f1_macro") & table["slice"].str.startswith("the champion's holdout")]
    assert holdout[["champion", "challenger"]].values.tolist() == [[0.9, 0.8]]

    at.switch_page("app/pages/models.py").run()
    assert not at.exception
    history = next(d.value for d in at.dataframe if "why" in d.value.columns)  # the alias history
    assert history[["who", "action", "why"]].values.tolist()[0] == ["retrain", "not promoted", reason]
