"""The Streamlit pages over predictions made through the real service (AppTest on the service's home):
the Feedback page shows where each prediction came from, picks the API's and takes a label for one;
the Monitor page's day window counts them, and /metrics reports the figures the page measured."""

from __future__ import annotations

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.db.models import Feedback
from core.scoring.single import score_row
from tests.api.conftest import RICE_ROW
from tests.conftest import RICE
from tests.core.test_feedback_loop import score_rice

ENTRY = str(REPO_ROOT / "streamlit_app.py")
API_ROWS = 120  # a window is measured from settings.drift_min_rows (100) predictions


def _selectbox(at: AppTest, label: str):
    (found,) = [b for b in at.selectbox if b.label == label]
    return found


def _gauges(text: str) -> dict[str, float]:
    """The samples of /metrics labelled dataset="rice", by name; the API's predictions counted by its counter."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("dataset") == "rice" and not sample.name.endswith("_created"):
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def test_api_predictions_show_on_the_feedback_and_monitor_pages(
    trained_settings, trained_sessions, start_service, tmp_path
) -> None:
    service = start_service(trained_settings.home)
    rows = pd.read_csv(RICE).drop(columns="Class").sample(API_ROWS, random_state=7)
    with service.client() as client:
        answer = client.post("/v1/models/rice/predict", json={"rows": rows.to_dict("records")})
        assert answer.status_code == 200, answer.text
        api_ids = [p["prediction_id"] for p in answer.json()["predictions"]]
        labelled = client.post(
            "/v1/models/rice/feedback",
            json={"labels": [{"prediction_id": api_ids[0], "label": "Cammeo"}], "who": "scanner-7"},
        )
        assert labelled.json()["accepted"] == 1, labelled.text
    assert len(api_ids) == API_ROWS
    with trained_sessions.begin() as session:  # one from the Predict page's form, five from a batch file
        form_id = score_row(
            session=session, settings=trained_settings, dataset="rice", values=RICE_ROW, explain=False
        ).prediction_id
    batch_ids = score_rice(trained_settings, trained_sessions, tmp_path, rows=5)["prediction_id"].tolist()

    at = AppTest.from_file(ENTRY, default_timeout=180)
    at.run()
    at.switch_page("app/pages/feedback.py").run()
    assert not at.exception
    table = at.data_editor[0].value.set_index("prediction id")
    assert table["made by"].to_dict() == (
        dict.fromkeys(api_ids, "API") | {form_id: "Predict page"} | dict.fromkeys(batch_ids, "batch file")
    )
    assert table.loc[api_ids[0], ["true label", "labelled by"]].tolist() == ["Cammeo", "scanner-7"]
    for made_by, ids in (("Predict page", [form_id]), ("batch file", batch_ids), ("API", api_ids)):
        _selectbox(at, "Made by").set_value(made_by).run()
        assert at.data_editor[0].value["prediction id"].tolist() == ids[::-1], made_by

    # the API's predictions picked: one labelled on the page is stored like any other
    editor = at.data_editor[0]
    at.session_state[editor.key] = {
        "edited_rows": {0: {"true label": "Osmancik"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    next(b for b in at.button if b.label == "Save 1 label(s)").click().run()
    assert not at.exception and [s.value for s in at.success] == [
        "Saved: 1 label(s) accepted (1 new, 0 replaced, 0 unchanged)."
    ]
    with trained_sessions() as session:
        stored = session.execute(select(Feedback.prediction_id, Feedback.label, Feedback.who)).all()
    assert sorted(stored) == [(api_ids[0], "Cammeo", "scanner-7"), (api_ids[-1], "Osmancik", "app")]

    # the source is a condition of the ledger's query: the latest 100 API predictions, none of the others
    _selectbox(at, "Rows").set_value(100).run()
    assert at.data_editor[0].value["prediction id"].tolist() == api_ids[::-1][:100]

    at.switch_page("app/pages/monitor.py").run()
    at.button(key="monitor_measure_now").click().run()
    assert not at.exception
    windows = next(d.value for d in at.dataframe if "drift_share" in d.value.columns)
    assert windows[["rows", "status"]].values.tolist() == [[API_ROWS + 6, "measured"]]
    with service.client() as client:
        gauges = _gauges(client.get("/metrics").text)
    assert gauges["sift_predictions_total"] == API_ROWS
    assert gauges["sift_drift_share"] == pytest.approx(windows["drift_share"].iat[0])
    assert gauges["sift_estimated_accuracy"] == pytest.approx(windows["estimated_accuracy"].iat[0])
    assert gauges["sift_labels_since_champion"] == 2
