"""``GET /metrics`` read twice: its text exposition parsed directly, and scraped by a real Prometheus server.

The Prometheus server is Debian's ``prometheus`` package, started on a free loopback port with a
scrape configuration written for the test. Without it the scrape test is skipped, unless
``SIFT_REQUIRE_PROMETHEUS=1`` (CI) makes its absence a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter as Tally
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from core.db.models import Prediction
from tests.api.conftest import RICE_ROW, Service
from tests.servers import free_port, serve

pytestmark = pytest.mark.slow
PREDICT_ENDPOINT = "/v1/models/{dataset}/predict"
SCRAPE_DEADLINE = 120  # seconds for Prometheus to scrape and answer, on two shared cores


def _rows(count: int, unreadable: int) -> list[dict]:
    """``count`` rows, the last ``unreadable`` of which the contract rejects (text for a number)."""
    rows = [RICE_ROW | {"Area": RICE_ROW["Area"] + 50 * i} for i in range(count)]
    for row in rows[count - unreadable :]:
        row["Perimeter"] = "not a number"
    return rows


def _predict(service: Service) -> tuple[list[dict], int, int]:
    """Three requests of several rows, some rejected: (the predictions, rows rejected, requests made)."""
    predictions, rejected = [], 0
    requests = [_rows(5, 1), _rows(3, 0), _rows(4, 2)]
    with service.client() as client:
        for rows in requests:
            response = client.post("/v1/models/rice/predict", json={"rows": rows})
            assert response.status_code == 200, response.text
            body = response.json()
            predictions += body["predictions"]
            rejected += len(body["rejected"])
    assert rejected == 3, "the unreadable rows were scored"
    return predictions, rejected, len(requests)


def _api_ledger_count(service: Service) -> int:
    with service.sessions()() as session:
        return session.scalar(select(func.count()).select_from(Prediction).where(Prediction.source == "api"))


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, by name and labels (the parser refuses a malformed exposition)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _labels(**labels: str) -> frozenset:
    return frozenset(labels.items())


def test_metrics_exposition_counts_predictions_rejections_latency_and_labels(service: Service) -> None:
    predictions, rejected, requests = _predict(service)
    right = predictions[0]
    labels = [{"prediction_id": right["prediction_id"], "label": right["prediction"]}]
    labels.append({"prediction_id": 10**9, "label": right["prediction"]})  # no such prediction: refused
    with service.client() as client:
        answer = client.post("/v1/models/rice/feedback", json={"labels": labels})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["accepted"], answer.json()["rejected"]) == (1, 1)
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    samples = _samples(text)

    by_class = Tally(str(p["prediction"]) for p in predictions)
    assert len(by_class) >= 1
    for cls, n in by_class.items():
        assert f'sift_predictions_total{{dataset="rice",model_version="1",predicted_class="{cls}"}}' in text
        assert samples["sift_predictions_total", _labels(dataset="rice", model_version="1", predicted_class=cls)] == n
    counted = sum(v for (name, _), v in samples.items() if name == "sift_predictions_total")
    assert counted == len(predictions) == _api_ledger_count(service)
    assert samples["sift_rejected_rows_total", _labels(dataset="rice")] == rejected

    assert f'sift_request_duration_seconds_bucket{{endpoint="{PREDICT_ENDPOINT}"' in text
    timed = _labels(endpoint=PREDICT_ENDPOINT, method="POST")
    assert samples["sift_request_duration_seconds_count", timed] == requests
    assert samples["sift_request_duration_seconds_bucket", timed | {("le", "+Inf")}] == requests

    assert samples["sift_labels_received_total", _labels(dataset="rice", outcome="accepted")] == 1
    assert samples["sift_labels_received_total", _labels(dataset="rice", outcome="rejected")] == 1
    assert samples["sift_champion_version", _labels(dataset="rice")] == 1
    assert samples["sift_labels_since_champion", _labels(dataset="rice")] == 1
    assert samples["sift_realised_accuracy", _labels(dataset="rice")] == 1.0  # the one label says it was right
    assert samples["sift_open_alerts", _labels(dataset="rice")] == 0


@pytest.fixture
def prometheus() -> str:
    """The path of Debian's ``prometheus`` binary; skipped without it, failed if SIFT_REQUIRE_PROMETHEUS=1."""
    if found := shutil.which("prometheus"):
        return found
    message = "the prometheus binary is not on PATH: install Debian's prometheus (apt-get install prometheus)"
    if os.environ.get("SIFT_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(f"SIFT_REQUIRE_PROMETHEUS=1 but {message}")
    pytest.skip(message)


def _scrape_config(path: Path, target: str) -> Path:
    path.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: sift\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    return path


def _query(client: httpx.Client, promql: str) -> float | None:
    """The value of a PromQL expression with a single result, None while it has none."""
    answer = client.get("/api/v1/query", params={"query": promql})
    answer.raise_for_status()
    result = answer.json()["data"]["result"]
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_predictions_made(prometheus: str, service: Service, tmp_path: Path) -> None:
    predictions, rejected, _ = _predict(service)
    assert _api_ledger_count(service) == len(predictions)

    port = free_port()
    config = _scrape_config(tmp_path / "prometheus.yml", service.url.removeprefix("http://"))
    command = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "prometheus.log"
    with (
        serve(command, health_url=f"{url}/-/ready", log=log, start_seconds=60, cwd=tmp_path),
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        deadline, total = time.monotonic() + SCRAPE_DEADLINE, None
        while total != len(predictions) and time.monotonic() < deadline:
            time.sleep(0.5)
            total = _query(client, "sum(sift_predictions_total)")
        if total != len(predictions):
            targets = client.get("/api/v1/targets").text
            pytest.fail(
                f"Prometheus answered sum(sift_predictions_total) = {total}, not {len(predictions)}, after "
                f"{SCRAPE_DEADLINE} s; its targets: {targets}\n{log.read_text(errors='replace')[-3000:]}"
            )
        assert _query(client, 'sift_champion_version{dataset="rice"}') == 1
        assert _query(client, "sum(sift_rejected_rows_total)") == rejected
