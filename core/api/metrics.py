"""``GET /metrics``: the service's counters and latencies, and the store's figures read at scrape time.

Counters and histograms count what this process served (Prometheus adds up the instances); the
gauges are read from Sift's store on each scrape, so every instance reports the same figures:
the champion version, labels since the champion, the latest window's drift share, estimated and
realised accuracy, and open alerts, per dataset with a champion.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Iterator
from typing import ClassVar

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from core.champion import champion_version
from core.config import Settings
from core.errors import ModelNotFound
from core.feedback import feedback_counts
from core.monitoring.figures import latest_figures
from core.status import dataset_names

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
log = logging.getLogger(__name__)


class StoreGauges(Collector):
    """Gauges read from the store at scrape time, one sample per dataset with a champion."""

    GAUGES: ClassVar[dict[str, str]] = {
        "champion_version": "Version of the model registered as the dataset's champion.",
        "labels_since_champion": "True labels received since the champion was registered.",
        "drift_share": "Share of drifted features in the champion's latest measured window.",
        "estimated_accuracy": "Accuracy expected from the latest window's calibrated confidence.",
        "realised_accuracy": "Share of the champion's labelled predictions that were right.",
        "open_alerts": "Monitoring alerts not yet acknowledged.",
    }

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        self.settings, self.sessions = settings, sessions

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # read at scrape time only, never when registering

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            name: GaugeMetricFamily(f"sift_{name}", text, labels=["dataset"]) for name, text in self.GAUGES.items()
        }
        try:
            with self.sessions() as session:
                for dataset in dataset_names(session=session):
                    self._add(session, dataset, families)
        except Exception:  # a scrape reports what it can; the log says why the rest is missing
            log.exception("reading the store's figures for /metrics failed")
        yield from families.values()

    def _add(self, session: Session, dataset: str, families: dict[str, GaugeMetricFamily]) -> None:
        try:
            version = champion_version(self.settings, dataset, session=session)
        except ModelNotFound:
            return
        counts = feedback_counts(session=session, settings=self.settings, dataset=dataset)
        figures = latest_figures(session=session, dataset=dataset, model_version=version)
        values = {
            "champion_version": version,
            "labels_since_champion": counts.since_champion,
            "drift_share": figures.drift_share,
            "estimated_accuracy": figures.estimated_accuracy,
            "realised_accuracy": figures.realised_accuracy,
            "open_alerts": figures.open_alerts,
        }
        for name, value in values.items():
            if value is not None:
                families[name].add_metric([dataset], float(value))


class Metrics:
    """The service's own registry (not the process-wide default, so two apps never share counters)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        disable_created_metrics()  # no `_created` series beside every counter: Prometheus does not need them
        self.registry = CollectorRegistry()
        self.predictions = Counter(
            "sift_predictions",
            "Rows scored by the API.",
            ["dataset", "model_version", "predicted_class"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "sift_rejected_rows", "Rows refused by the input contract.", ["dataset"], registry=self.registry
        )
        self.labels = Counter(
            "sift_labels_received",
            "True labels posted to the feedback endpoint, by outcome (accepted or rejected).",
            ["dataset", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sift_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(StoreGauges(settings, sessions))

    def scored(self, dataset: str, version: int, predicted: list[str], rejected: int) -> None:
        for cls, n in Tally(predicted).items():
            self.predictions.labels(dataset, str(version), cls).inc(n)
        if rejected:
            self.rejected.labels(dataset).inc(rejected)

    def render(self) -> bytes:
        return generate_latest(self.registry)
