"""The scoring service as a client sees it (core/api/service.py): ``python -m core serve`` started for
real on a free loopback port, its answers checked against the ledger it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from core.config import REPO_ROOT
from core.datasets.versions import ingest
from core.db import open_database
from core.db.models import Feedback, FeedbackHistory
from core.feedback import feedback_counts
from tests.api.checks import error_of, ledger, store_state
from tests.api.conftest import RICE_ROW, Service, service_env
from tests.conftest import RICE
from tests.homes import copy_home, database_url, home_settings

pytestmark = pytest.mark.slow

CLASSES = ["Cammeo", "Osmancik"]
INPUTS = list(RICE_ROW)
PREDICTION_KEYS = {"row", "prediction_id", "prediction", "confidence", "probabilities", "flags"}


def _rice_rows(n: int) -> tuple[list[dict], list[str]]:
    """``n`` rows of the rice file from both classes, without Class, and their true classes."""
    sample = pd.read_csv(RICE).sample(n, random_state=0)
    return sample[INPUTS].to_dict("records"), sample["Class"].tolist()


def _predict(client, rows: list[dict], dataset: str = "rice", **params) -> dict:
    response = client.post(f"/v1/models/{dataset}/predict", json={"rows": rows}, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _assert_in_ledger(service: Service, body: dict) -> None:
    """Every id of ``body`` is in the ledger, written by the API with the class and version answered."""
    found = ledger(service, [p["prediction_id"] for p in body["predictions"]])
    for p in body["predictions"]:
        row = found.get(p["prediction_id"])
        assert row is not None, f"prediction {p['prediction_id']} was answered but is not in the ledger"
        assert (row.dataset, row.source, row.model_version) == ("rice", "api", body["model_version"])
        assert row.predicted_class == str(p["prediction"])
        assert row.confidence == pytest.approx(p["confidence"], abs=1e-6)


@pytest.fixture
def grains_home(tmp_path: Path, api_home: Path) -> Path:
    """The rice home (champion v1) plus ``grains``, a dataset ingested but never trained."""
    source = tmp_path / "grains.csv"
    pd.read_csv(RICE).iloc[::100].to_csv(source, index=False)
    with open_database(home_settings(api_home)).begin() as session:
        ingest(session=session, path=source, name="grains", target="Class")
    return api_home


def test_predict_scores_one_row_and_many_and_every_id_is_in_the_ledger(service: Service) -> None:
    with service.client() as client:
        one = _predict(client, [RICE_ROW])
        assert set(one) == {"model", "model_version", "predictions", "rejected"}
        assert (one["model"], one["model_version"], one["rejected"]) == ("rice", 1, [])
        [single] = one["predictions"]
        assert set(single) == PREDICTION_KEYS  # no reasons unless asked
        assert single["row"] == 0 and single["flags"] == []
        assert list(single["probabilities"]) == CLASSES
        assert sum(single["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert single["prediction"] == max(single["probabilities"], key=single["probabilities"].get)
        assert single["confidence"] == max(single["probabilities"].values())

        rows, truth = _rice_rows(50)
        many = _predict(client, rows)
        assert many["rejected"] == []
        assert [p["row"] for p in many["predictions"]] == list(range(50))
        ids = [p["prediction_id"] for p in many["predictions"]]
        assert len(set(ids)) == 50 and single["prediction_id"] not in ids
        for q in many["predictions"]:
            assert sum(q["probabilities"].values()) == pytest.approx(1, abs=1e-5)
            assert q["prediction"] == max(q["probabilities"], key=q["probabilities"].get)
        right = sum(q["prediction"] == t for q, t in zip(many["predictions"], truth, strict=True))
        assert right >= 40, f"{right}/50 right: the inputs did not reach the model as they should"
    _assert_in_ledger(service, one)
    _assert_in_ledger(service, many)


def test_predict_applies_the_input_contract_row_by_row(service: Service) -> None:
    rows = [
        RICE_ROW,
        RICE_ROW | {"Area": "large"},  # cannot be read as a number
        RICE_ROW | {"Perimeter": [525.6, 1]},  # a JSON list is not a value
        RICE_ROW | {"Area": 10**9},  # far outside training: scored and flagged
        RICE_ROW | {"colour": "white", "notes": {"any": "thing"}},  # extra fields are ignored
    ]
    with service.client() as client:
        before = store_state(service)
        body = _predict(client, rows)
        assert [r["row"] for r in body["rejected"]] == [1, 2]
        assert "Area" in body["rejected"][0]["reason"] and "large" in body["rejected"][0]["reason"]
        assert "Perimeter" in body["rejected"][1]["reason"] and "list" in body["rejected"][1]["reason"]
        scored = {p["row"]: p for p in body["predictions"]}
        assert list(scored) == [0, 3, 4]
        assert scored[0]["flags"] == [] and scored[4]["flags"] == []
        assert scored[3]["flags"] == ["Area: outside training range"]
        assert scored[4]["probabilities"] == scored[0]["probabilities"]
        _assert_in_ledger(service, body)
        assert store_state(service)["predictions"] == before["predictions"] + 3  # rejected rows are not written

        before = store_state(service)
        message = error_of(client.post("/v1/models/rice/predict", json={"rows": [RICE_ROW, {"Area": 1}]}), 422)
        assert "rows[1]" in message and "'Extent'" in message and "'Area'" not in message
        assert store_state(service) == before  # nothing scored, nothing written, no id reserved

        explained = _predict(client, [RICE_ROW, rows[3]], explain="true")
        for p in explained["predictions"]:
            reasons = p["reasons"]
            assert set(reasons) == {"method", "unit", "reasons"}
            assert reasons["method"] and reasons["unit"]
            assert 1 <= len(reasons["reasons"]) <= 5
            assert {r["column"] for r in reasons["reasons"]} <= set(INPUTS)
            assert all(isinstance(r["contribution"], float) for r in reasons["reasons"])
        _assert_in_ledger(service, explained)

        # a number too large even for a float cannot be read either: its row is rejected, not the request
        huge = client.post("/v1/models/rice/predict", json={"rows": [RICE_ROW, RICE_ROW | {"Area": 10**400}]})
        assert huge.status_code == 200, huge.text
        assert [r["row"] for r in huge.json()["rejected"]] == [1] and "Area" in huge.json()["rejected"][0]["reason"]

        # JSON true is not a number (pandas would read it as 1), alone or among other rows
        for rows in ([RICE_ROW | {"Area": True}], [RICE_ROW, RICE_ROW | {"Extent": False}]):
            answer = client.post("/v1/models/rice/predict", json={"rows": rows})
            assert answer.status_code == 200, answer.text
            rejected = answer.json()["rejected"]
            assert [r["row"] for r in rejected] == [len(rows) - 1], rejected
            assert "is not a number" in rejected[0]["reason"], rejected


def test_feedback_accepts_labels_refuses_bad_ones_and_keeps_relabels(start_service, grains_home: Path) -> None:
    service = start_service(grains_home)
    settings = home_settings(grains_home)

    def since_champion() -> int:
        with service.sessions()() as session:
            return feedback_counts(session=session, settings=settings, dataset="rice").since_champion

    with service.client() as client:
        ids = [p["prediction_id"] for p in _predict(client, [RICE_ROW] * 3)["predictions"]]
        first, second, third = ids
        unknown = max(ids) + 1000
        assert since_champion() == 0

        labels = [
            {"prediction_id": first, "label": "cammeo"},  # the class, whatever its case
            {"prediction_id": unknown, "label": "Cammeo"},
            {"prediction_id": second, "label": "Osmancik"},
            {"prediction_id": third, "label": "Basmati"},
        ]
        response = client.post("/v1/models/rice/feedback", json={"labels": labels, "who": "lab-system"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["rejected"]) == (2, 2)
        assert [r["row"] for r in body["reasons"]] == [1, 3]
        assert f"No prediction {unknown}" in body["reasons"][0]["reason"]
        assert "'Basmati' is not a class" in body["reasons"][1]["reason"]
        assert since_champion() == 2

        relabel = {"labels": [{"prediction_id": first, "label": "Osmancik"}], "who": "reviewer"}
        response = client.post("/v1/models/rice/feedback", json=relabel)
        assert response.status_code == 200, response.text
        assert (response.json()["accepted"], response.json()["rejected"]) == (1, 0)
        assert since_champion() == 2  # one label per prediction: the latest wins

        elsewhere = {"labels": [{"prediction_id": third, "label": "Cammeo"}]}
        response = client.post("/v1/models/grains/feedback", json=elsewhere)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 0
        assert "made for dataset 'rice', not 'grains'" in response.json()["reasons"][0]["reason"]

        before = store_state(service)
        assert "nowhere" in error_of(client.post("/v1/models/nowhere/feedback", json=elsewhere), 404)
        assert store_state(service) == before

    with service.sessions()() as session:
        given = dict(session.execute(select(Feedback.prediction_id, Feedback.label)).all())
        history = session.execute(
            select(FeedbackHistory.old_label, FeedbackHistory.new_label, FeedbackHistory.who)
            .where(FeedbackHistory.prediction_id == first)
            .order_by(FeedbackHistory.id)
        ).all()
    assert given == {first: "Osmancik", second: "Osmancik"}
    assert [tuple(h) for h in history] == [(None, "Cammeo", "lab-system"), ("Cammeo", "Osmancik", "reviewer")]

    # an id beyond any the ledger can hold is refused like any unknown id (by row, or the request with 422)
    huge = str(10**30)
    with service.client() as client:
        labels = {"labels": [{"prediction_id": int(huge), "label": "Cammeo"}]}
        response = client.post("/v1/models/rice/feedback", json=labels)
    if response.status_code == 422:
        assert "prediction_id" in error_of(response, 422)
    else:
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 1 and huge in response.json()["reasons"][0]["reason"]

    # rows are counted from 0 in the reasons' text too; a missing label names the field, not pydantic's union
    with service.client() as client:
        twice = {"labels": [{"prediction_id": second, "label": "Cammeo"}] * 2}
        reasons = client.post("/v1/models/rice/feedback", json=twice).json()["reasons"]
        assert reasons[0]["row"] == 1 and "also at row 0" in reasons[0]["reason"], reasons
        message = error_of(client.post("/v1/models/rice/feedback", json={"labels": [{"prediction_id": 1}]}), 422)
        assert message.startswith("The body lacks the field 'labels[0].label'"), message
        message = error_of(
            client.post("/v1/models/rice/feedback", json={"labels": [{"prediction_id": 1, "label": None}]}), 422
        )
        assert message.startswith("labels[0].label:") and ".str" not in message, message


def test_catalogue_docs_error_bodies_and_health(start_service, grains_home: Path) -> None:
    service = start_service(grains_home)
    with service.client() as client:
        listed = client.get("/v1/models").json()["models"]
        assert [(m["dataset"], m["model_version"], m["classes"]) for m in listed] == [("rice", 1, CLASSES)]

        model = client.get("/v1/models/rice").json()
        assert (model["dataset"], model["model_version"], model["classes"]) == ("rice", 1, CLASSES)
        assert 0.5 < model["holdout_metrics"]["accuracy"] <= 1
        assert [i["name"] for i in model["inputs"]] == INPUTS
        for spec in model["inputs"]:
            assert spec["role"] == "numeric" and spec["min"] < spec["max"], spec
        assert model["max_rows"] == 10_000

        paths = client.get("/openapi.json").json()["paths"]
        assert {"/v1/models/{dataset}/predict", "/v1/models/{dataset}/feedback"} <= set(paths)
        docs = client.get("/docs")
        assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
        for asset in assets:
            assert asset.startswith("/docs-assets/"), f"{asset} would need the internet"
            assert client.get(asset).status_code == 200, asset

        before = store_state(service)
        post = client.post
        assert "nowhere" in error_of(post("/v1/models/nowhere/predict", json={"rows": [RICE_ROW]}), 404)
        assert "grains" in error_of(post("/v1/models/grains/predict", json={"rows": [RICE_ROW]}), 404)
        error_of(client.get("/v1/models/nowhere"), 404)
        error_of(client.get("/v2/anything"), 404)
        assert "JSON" in error_of(post("/v1/models/rice/predict", content=b'{"rows": [{"Area": 1,'), 422)
        assert "'rows'" in error_of(post("/v1/models/rice/predict", json={"rowz": [RICE_ROW]}), 422)
        assert "rows[0]" in error_of(post("/v1/models/rice/predict", json={"rows": [1]}), 422)
        assert "rows" in error_of(post("/v1/models/rice/predict", json={"rows": []}), 422)
        assert "The body" in error_of(post("/v1/models/rice/predict", json=[RICE_ROW]), 422)
        assert "labels" in error_of(post("/v1/models/rice/feedback", json={"labels": []}), 422)
        assert store_state(service) == before

        health = client.get("/health")
        assert health.status_code == 200
        assert health.json()["database"] == "reachable" and health.json()["model_registry"] == "reachable"
        assert health.json()["models_available"] == {"rice": 1}  # grains has no champion

    if database_url(grains_home):
        return  # the unreachable database below is the SQLite file gone
    data, away = grains_home / "data", grains_home / "data-away"
    away.mkdir()
    moved = [f.name for f in data.iterdir() if f.name.startswith("sift.db")]
    for name in moved:
        os.replace(data / name, away / name)
    try:
        with service.client() as client:
            gone = client.get("/health")
    finally:
        for name in moved:
            os.replace(away / name, data / name)
    assert gone.status_code == 503, f"health with the database file gone: {gone.text}"
    assert gone.json()["database"] == "unreachable" and "Traceback" not in gone.text
    with service.client() as client:
        assert client.get("/health").status_code == 200


def _cli(home: Path, *args: str) -> dict:
    """``python -m core`` in another process on the service's home and database."""
    done = subprocess.run(
        [sys.executable, "-m", "core", "--home", str(home), *args],
        cwd=REPO_ROOT,
        env=service_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _until_version(service: Service, client, version: int) -> dict:
    """Predict until the service answers with ``version`` (a generous deadline, no timing asserted);
    every answer on the way is checked against the ledger."""
    deadline = time.monotonic() + 15
    while True:
        body = _predict(client, [RICE_ROW])
        _assert_in_ledger(service, body)
        if body["model_version"] == version or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_a_promotion_in_another_process_is_served_without_a_restart(
    start_service, tmp_path: Path, challenger_template: Path
) -> None:
    home = copy_home(challenger_template, tmp_path / "home")
    service = start_service(home)
    with service.client() as client:
        assert _until_version(service, client, 1)["model_version"] == 1
        assert _cli(home, "promote", "--dataset", "rice", "--version", "2")["champion"] == 2
        assert _until_version(service, client, 2)["model_version"] == 2, "still scoring with v1 after 15 s"
        assert _predict(client, [RICE_ROW] * 3)["model_version"] == 2
        assert _cli(home, "rollback", "--dataset", "rice")["champion"] == 1
        assert _until_version(service, client, 1)["model_version"] == 1, "still scoring with v2 after 15 s"
        assert client.get("/v1/models/rice").json()["model_version"] == 1


def test_requests_over_the_row_or_byte_limit_are_refused_with_413(start_service, api_home: Path) -> None:
    service = start_service(api_home, SIFT_API_MAX_ROWS="5", SIFT_API_MAX_BYTES="2048")
    url = "/v1/models/rice/predict"
    with service.client() as client:
        assert len(_predict(client, [RICE_ROW] * 5)["predictions"]) == 5
        before = store_state(service)

        message = error_of(client.post(url, json={"rows": [RICE_ROW] * 6}), 413)
        assert "6 rows" in message and "5" in message

        big = json.dumps({"rows": [RICE_ROW] * 20}).encode()
        assert len(big) > 2048
        assert "2,048 bytes" in error_of(client.post(url, content=big), 413)

        def streamed(body: bytes):
            for start in range(0, len(body), 500):
                yield body[start : start + 500]

        response = client.post(url, content=streamed(big))  # no Content-Length: counted as it arrives
        assert "2,048 bytes" in error_of(response, 413)
        assert store_state(service) == before

        small = json.dumps({"rows": [RICE_ROW] * 2}).encode()
        response = client.post(url, content=streamed(small))
        assert response.status_code == 200, response.text
        assert len(response.json()["predictions"]) == 2
