"""``GET /metrics`` read twice: its text exposition parsed directly, and scraped by a real Prometheus server.

The exposition's gauges are checked against the store after the windows are measured: the
figures the alert checks look at, rows the API refused included (stored per request, counted in
the windows' rejected share). The service runs with a small drift minimum (a dozen rows make a
measured window) and a threshold of its own, so the gauges show the service's settings.

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

from core.config import Settings
from core.db.models import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    DriftWindow,
    ModelBaseline,
    Prediction,
    Rejection,
)
from core.monitoring.alerts import key_features
from core.monitoring.windows import refresh
from tests.api.conftest import RICE_ROW, Service
from tests.homes import database_url
from tests.servers import free_port, serve

pytestmark = pytest.mark.slow
PREDICT_ENDPOINT = "/v1/models/{dataset}/predict"
SCRAPE_DEADLINE = 120  # seconds for Prometheus to scrape and answer, on two shared cores
SETTINGS = {"drift_min_rows": 5, "alert_rejected_share": 0.2}  # the service's, and the test's when it measures


@pytest.fixture
def service(start_service, api_home: Path) -> Service:
    return start_service(api_home, **{f"SIFT_{k.upper()}": str(v) for k, v in SETTINGS.items()})


def _settings(service: Service) -> Settings:
    return Settings(home=service.home, db_url=database_url(service.home), **SETTINGS)


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
    assert samples["sift_labelled_predictions", _labels(dataset="rice")] == 1
    assert samples["sift_last_measured_timestamp_seconds", _labels(dataset="rice")] == 0  # never
    assert not {name for name, _ in samples} & {"sift_drift_share", "sift_rejected_share", "sift_feature_drift"}

    _gauges_mirror_the_measured_windows(service, predictions)


def _gauges_mirror_the_measured_windows(service: Service, predictions: list[dict]) -> None:
    """After a request of refused rows only, the windows measured: each gauge is the store's figure."""
    with service.client() as client:
        refused = client.post("/v1/models/rice/predict", json={"rows": _rows(2, 2)})
    assert refused.status_code == 200 and refused.json()["predictions"] == [], refused.text
    settings = _settings(service)
    sessions = service.sessions()
    with sessions.begin() as session:
        stored = session.execute(select(Rejection.rows, Rejection.after_id).order_by(Rejection.id)).all()
        newest = session.scalar(select(func.max(Prediction.created_at)))
        destination = AlertDestination(scope="*", url="http://127.0.0.1:9/hook", fingerprint="f" * 64)
        session.add(destination)
        session.flush()
        session.add_all(
            AlertDelivery(destination_id=destination.id, key=f"test:{n}", kind="test", dataset="rice", status=s)
            for n, s in enumerate(["failed", "pending", "failed"])
        )
    ids = [p["prediction_id"] for p in predictions]  # the requests scored 4, 3 and 2 rows
    assert [tuple(r) for r in stored] == [(1, ids[3]), (2, ids[-1]), (2, ids[-1])]

    days = refresh(sessions=sessions, settings=settings, dataset="rice", kind="day")
    runs = refresh(sessions=sessions, settings=settings, dataset="rice", kind="count")
    for window in (*days.windows, *runs.windows):
        assert (window.status, window.rows, window.rejected) == ("measured", len(predictions), 5)
    window = runs.windows[-1]  # the latest measured (measured last of two windows ending together)
    with sessions() as session:
        base = session.scalars(select(ModelBaseline).where(ModelBaseline.model_version == 1)).one()
        alerts = session.scalars(select(AlertEvent).where(AlertEvent.status == "open")).all()
        measured = session.scalar(select(func.max(DriftWindow.computed_at)))
    assert {"rejected_share"} <= {a.kind for a in alerts}  # 5 of 14 input rows refused, alert at 20 %

    with service.client() as client:
        samples = _samples(client.get("/metrics").text)
    rice = _labels(dataset="rice")
    assert samples["sift_rejected_share", rice] == pytest.approx(5 / 14)
    assert samples["sift_window_rows", rice] == len(predictions)
    assert samples["sift_flagged_share", rice] == pytest.approx(window.flagged / window.rows)
    assert samples["sift_drift_share", rice] == pytest.approx(window.drift_share)
    assert samples["sift_estimated_accuracy", rice] == pytest.approx(window.estimated_accuracy)
    assert samples["sift_holdout_accuracy", rice] == pytest.approx(base.holdout_accuracy)
    assert samples["sift_open_alerts", rice] == len(alerts)
    drift = {dict(k)["feature"]: v for (name, k), v in samples.items() if name == "sift_feature_drift"}
    assert list(drift) == key_features(base, settings) and len(drift) == 3
    assert drift == {n: float(window.columns[n]["drifted"]) for n in drift}
    assert (1.0 in drift.values()) == any(a.kind == "feature_drift" for a in alerts)
    thresholds = {dict(k)["check"]: v for (name, k), v in samples.items() if name == "sift_alert_threshold"}
    assert thresholds == {
        "drift_share": settings.alert_drift_share,
        "accuracy_drop": settings.alert_accuracy_drop,
        "min_labels": settings.alert_min_labels,
        "flagged_share": settings.alert_flagged_share,
        "rejected_share": 0.2,  # the service's own setting
    }
    assert samples["sift_last_prediction_timestamp_seconds", rice] == pytest.approx(newest.timestamp())
    assert samples["sift_last_measured_timestamp_seconds", rice] == pytest.approx(measured.timestamp())
    deliveries = {dict(k)["status"]: v for (name, k), v in samples.items() if name == "sift_alert_deliveries"}
    assert deliveries == {"pending": 1, "sending": 0, "sent": 0, "failed": 2}


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
        assert _query(client, 'sift_alert_threshold{dataset="rice",check="rejected_share"}') == 0.2
