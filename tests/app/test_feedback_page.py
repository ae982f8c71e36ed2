"""The Feedback page and the Train page's Retrain section (AppTest) on a real home: counters, the
table of recent predictions saved through one core call, and a CSV of labels imported."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.resources import DATASET_KEY
from app.ui.state import Scope
from core.config import REPO_ROOT
from core.datasets.versions import ingest
from core.db.models import AliasEvent, Feedback, Job, RetrainPolicy, utcnow
from core.feedback import import_labels
from tests.conftest import RICE
from tests.core.test_feedback_loop import score_rice, write_labels

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/feedback.py"


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


def _key(name: str, dataset: str = "rice", **more) -> str:
    """A key of the Feedback page's state for ``dataset`` (app/ui/state.py)."""
    return Scope("feedback", {"dataset": dataset}).key(name, **more)


def _button(at: AppTest, starts: str):
    (found,) = [b for b in at.button if b.label.startswith(starts)]
    return found


def _selectbox(at: AppTest, label: str):
    (found,) = [b for b in at.selectbox if b.label == label]
    return found


def _reasons(at: AppTest) -> pd.DataFrame:
    (found,) = [d.value for d in at.dataframe if list(d.value.columns) == ["row", "reason"]]
    return found


def _in_order(at: AppTest) -> list[str]:
    """The main area's elements in page order, as 'kind: text' (buttons by label, tables by kind)."""
    seen = []

    def walk(node) -> None:
        kind = getattr(node, "type", "")
        if kind in ("subheader", "success", "info", "warning", "error", "caption"):
            seen.append(f"{kind}: {node.value}")
        elif kind == "button":
            seen.append(f"button: {node.label}")
        elif kind in ("arrow_data_frame", "dataframe", "file_uploader"):
            seen.append(kind)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return seen


def _position(seen: list[str], starts: str) -> int:
    return next(i for i, item in enumerate(seen) if item.startswith(starts))


def _edit(at: AppTest, rows: dict[int, str]) -> None:
    """Pick true classes in the table's cells, as a click in the browser would."""
    editor = at.data_editor[0]
    at.session_state[editor.key] = {
        "edited_rows": {row: {"true label": label} for row, label in rows.items()},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert not at.exception


def test_the_table_saves_the_picked_labels_through_one_core_call(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=20)
    at = _page()
    assert {m.label: m.value for m in at.metric}["Predictions without a label"] == "20"
    table = at.data_editor[0].value
    assert len(table) == 20 and table["prediction id"].tolist() == scored["prediction_id"][::-1].tolist()
    assert _button(at, "Save").disabled

    _edit(at, {0: "Cammeo", 1: "Osmancik"})  # rows 0 and 1: the newest predictions
    save = _button(at, "Save")
    assert not save.disabled and save.label == "Save 2 label(s)"
    save.click().run()
    assert not at.exception
    newest = table["prediction id"].tolist()
    assert _labels(trained_sessions) == {newest[0]: "Cammeo", newest[1]: "Osmancik"}
    assert [s.value for s in at.success] == ["Saved: 2 label(s) accepted (2 new, 0 replaced, 0 unchanged)."]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Predictions without a label"] == "18" and metrics["Labels since champion v1"] == "2"
    assert "2 of 50 labels since champion v1" in _texts(at)  # the sidebar is drawn after the page's save
    assert at.data_editor[0].value["true label"].tolist()[:2] == ["Cammeo", "Osmancik"]

    _selectbox(at, "Label").set_value("Without a label").run()
    assert len(at.data_editor[0].value) == 18


def test_saving_labels_confirms_under_the_button_and_names_rejected_ones(
    trained_settings, trained_sessions, tmp_path
) -> None:
    score_rice(trained_settings, trained_sessions, tmp_path, rows=6)
    at = _page()
    newest = at.data_editor[0].value["prediction id"].tolist()
    _edit(at, {0: "Cammeo", 1: "Cammeo", 2: "Long grain"})  # a class the model does not know
    _button(at, "Save 3 label(s)").click().run()
    assert not at.exception
    assert _labels(trained_sessions) == {newest[0]: "Cammeo", newest[1]: "Cammeo"}
    seen = _in_order(at)
    # the confirmation is right under the button that saved, not at the top of the page
    said = [i for i, item in enumerate(seen) if "Saved" in item and not item.startswith("button")]
    assert said and all(
        _position(seen, "button: Save labels") < i < _position(seen, "subheader: Upload labels") for i in said
    ), seen
    assert [s.value for s in at.success] == ["Saved: 2 label(s) accepted (2 new, 0 replaced, 0 unchanged)."]
    rejected = "1 row was rejected and not stored: see why below, fix them and try again."
    assert [w.value for w in at.warning] == [rejected]
    reasons = _reasons(at)
    assert reasons["row"].tolist() == [f"prediction {newest[2]}"] and "Long grain" in reasons["reason"][0]

    _edit(at, {3: "Osmancik"})  # new picks: the last save's result no longer describes the table
    assert not at.success


def test_the_table_shows_the_inputs_each_prediction_was_made_from(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=4)
    rows = pd.read_csv(RICE).iloc[:4]
    at = _page()
    table = at.data_editor[0].value
    features = [c for c in rows.columns if c != "Class"]
    assert list(table.columns[:5]) == ["prediction id", "predicted at", "predicted", "confidence", "true label"]
    assert list(table.columns[5 : 5 + len(features)]) == features  # the inputs, then flags, version, batch
    by_id = table.set_index("prediction id")
    for pid, (_, row) in zip(scored["prediction_id"], rows.iterrows(), strict=True):
        assert by_id.loc[pid, features].astype(float).tolist() == pytest.approx(row[features].astype(float).tolist())


def test_a_csv_of_labels_is_imported_with_every_bad_row_reported_beside_the_uploader(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=5)
    ids = scored["prediction_id"].tolist()
    path = write_labels(tmp_path / "labels.csv", [(ids[0], "cammeo"), (ids[1], "Basmati"), (123_456, "Cammeo")])
    at = _page(**{_key("upload_path"): str(path), _key("upload_name"): "labels.csv"})
    _button(at, "Import labels from labels.csv").click().run()
    assert not at.exception
    assert _labels(trained_sessions) == {ids[0]: "Cammeo"}
    seen = _in_order(at)
    # the result and every rejected row's reason sit under the uploader, not at the top of the page
    said = [i for i, item in enumerate(seen) if "Imported" in item]
    assert said and all(_position(seen, "file_uploader") < i for i in said), seen
    assert [s.value for s in at.success] == [
        "Imported labels.csv: 1 label(s) accepted (1 new, 0 replaced, 0 unchanged)."
    ]
    rejected = "2 rows were rejected and not stored: see why below, fix them and try again."
    assert [w.value for w in at.warning] == [rejected]
    assert _position(seen, "file_uploader") < _position(seen, "warning: 2 rows") < len(seen) - 1
    assert seen[_position(seen, "warning: 2 rows") + 1] in ("arrow_data_frame", "dataframe")
    reasons = _reasons(at)
    assert reasons["row"].tolist() == ["row 2", "row 3"]
    assert "'Basmati' is not a class" in reasons["reason"][0] and "No prediction 123456" in reasons["reason"][1]
    assert _key("upload_path") not in at.session_state and path.exists()  # the test's own file is left alone


def test_switching_dataset_carries_no_filter_pick_or_result_over(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    with trained_sessions.begin() as session:  # a second dataset: same columns, no predictions
        ingest(session=session, path=RICE, name="grains", target="Class")
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=5)
    path = write_labels(tmp_path / "labels.csv", [(scored["prediction_id"][0], "Basmati")])
    at = _page()
    at.selectbox(key=DATASET_KEY).set_value("rice").run()
    at.session_state[_key("upload_path")], at.session_state[_key("upload_name")] = str(path), "labels.csv"
    at.run()
    _button(at, "Import labels from").click().run()
    assert _labels(trained_sessions) == {} and at.warning  # rejected, and said so
    _selectbox(at, "Label").set_value("Without a label").run()
    _edit(at, {0: "Cammeo"})
    assert _button(at, "Save 1 label(s)")

    at.selectbox(key=DATASET_KEY).set_value("grains").run()
    assert not at.exception and "No predictions for grains yet" in _texts(at)
    assert not at.warning and not at.success
    assert all(_key(name) not in at.session_state for name in ("labelled", "imported", "upload_path"))

    at.selectbox(key=DATASET_KEY).set_value("rice").run()  # back: rice starts afresh too
    assert not at.exception
    assert _selectbox(at, "Label").value == "Any"
    assert _button(at, "Save labels").disabled and not at.warning
    assert at.data_editor[0].value["true label"].isna().all()


def test_the_train_page_sets_the_threshold_and_offers_a_retrain(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=12)
    at = _page("app/pages/train.py")
    labels = {m.label: m for m in at.metric}["Labels since champion v1"]
    assert (labels.value, labels.proto.delta) == ("0", "50 more for a retrain")
    assert at.button(key="train_retrain_start").disabled  # no labels yet
    at.number_input(key="train_retrain_threshold_rice").set_value(10)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    with trained_sessions() as session:
        policy = session.get(RetrainPolicy, "rice")
        assert (policy.threshold, policy.auto) == (10, False)
    with trained_sessions.begin() as session:
        import_labels(session=session, dataset="rice", source=pd.DataFrame(scored[["prediction_id", "label"]]))
    at.run()
    assert "A retrain is due: 12 labels since champion v1." in _texts(at)
    labels = {m.label: m for m in at.metric}["Labels since champion v1"]
    assert (labels.value, labels.proto.delta) == ("12", "threshold 10: a retrain is due")
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
    reason = "Champion v1 kept: challenger v2 is worse on the champion's holdout (macro F1 0.8000 vs 0.9000, -0.1000)."
    now = utcnow()
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
