"""``GET /metrics``: the service's counters and latencies, and the store's figures read at scrape time.

Counters and histograms count what this process served (Prometheus adds up the instances); the
gauges are read from Sift's store on each scrape, so every instance reports the same figures.
Per dataset with a champion they cover what the alert checks of :mod:`core.monitoring.alerts`
look at, with the checks' thresholds, so Prometheus rules can mirror them without copied numbers
(the rule set is in the README, tested by ``tests/api/test_alert_rules.py``): the champion's
latest measured window (drift share, its key features' drift, estimated accuracy, flagged and
rejected shares), the champion's holdout and realised accuracy, open alerts, when the last
prediction was made and the last window measured, and the alert deliveries by status.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from core.champion import champion_version
from core.config import Settings
from core.errors import ModelNotFound
from core.feedback import feedback_counts
from core.monitoring.figures import DELIVERY_STATUSES, Figures, alert_thresholds, delivery_counts, latest_figures
from core.status import dataset_names

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
log = logging.getLogger(__name__)


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


class StoreGauges(Collector):
    """Gauges read from the store at scrape time, one sample per dataset with a champion (and per
    key feature, threshold or delivery status where labelled so)."""

    GAUGES: ClassVar[dict[str, str]] = {
        "champion_version": "Version of the model registered as the dataset's champion.",
        "labels_since_champion": "True labels received since the champion was registered.",
        "drift_share": "Share of drifted features in the champion's latest measured window.",
        "estimated_accuracy": "Accuracy expected from the latest window's calibrated confidence.",
        "realised_accuracy": "Share of the champion's labelled predictions that were right.",
        "open_alerts": "Monitoring alerts not yet acknowledged.",
        "holdout_accuracy": "The champion's accuracy on its frozen holdout (the accuracy alerts' reference).",
        "labelled_predictions": "The champion's predictions with a true label (behind sift_realised_accuracy).",
        "window_rows": "Rows scored in the champion's latest measured window.",
        "flagged_share": "Share of the latest window's scored rows flagged (unseen category, out of range).",
        "rejected_share": "Share of the latest window's input rows rejected by the input contract.",
        "last_prediction_timestamp_seconds": "Unix time of the dataset's newest prediction.",
        "last_measured_timestamp_seconds": "Unix time a window of the dataset was last measured (0: never).",
    }
    LABELLED: ClassVar[dict[str, tuple[str, list[str]]]] = {
        "feature_drift": (
            "1 when a key feature drifts in the champion's latest measured window, else 0.",
            ["dataset", "feature"],
        ),
        "alert_threshold": (
            "Thresholds of Sift's alert checks (SIFT_ALERT_*): drift_share, accuracy_drop, min_labels, "
            "flagged_share, rejected_share.",
            ["dataset", "check"],
        ),
        "alert_deliveries": ("Alert deliveries by status: pending, sending, sent, failed.", ["dataset", "status"]),
    }

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        self.settings, self.sessions = settings, sessions

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # read at scrape time only, never when registering

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            name: GaugeMetricFamily(f"sift_{name}", text, labels=["dataset"]) for name, text in self.GAUGES.items()
        }
        families |= {
            name: GaugeMetricFamily(f"sift_{name}", text, labels=labels)
            for name, (text, labels) in self.LABELLED.items()
        }
        try:
            with self.sessions() as session:
                served = [d for d in dataset_names(session=session) if self._add(session, d, families)]
                self._deliveries(session, served, families["alert_deliveries"])
        except Exception:  # a scrape reports what it can; the log says why the rest is missing
            log.exception("reading the store's figures for /metrics failed")
        yield from families.values()

    def _add(self, session: Session, dataset: str, families: dict[str, GaugeMetricFamily]) -> bool:
        """Add the dataset's samples; False when it has no champion (then it has none)."""
        try:
            version = champion_version(self.settings, dataset, session=session)
        except ModelNotFound:
            return False
        counts = feedback_counts(session=session, settings=self.settings, dataset=dataset)
        figures = latest_figures(session=session, settings=self.settings, dataset=dataset, model_version=version)
        for name, value in self._values(version, counts.since_champion, figures).items():
            if value is not None:
                families[name].add_metric([dataset], float(value))
        for feature, drifted in figures.key_feature_drift.items():
            families["feature_drift"].add_metric([dataset, feature], float(drifted))
        for check, threshold in alert_thresholds(self.settings).items():
            families["alert_threshold"].add_metric([dataset, check], float(threshold))
        return True

    @staticmethod
    def _values(version: int, since_champion: int | None, figures: Figures) -> dict[str, float | int | None]:
        return {
            "champion_version": version,
            "labels_since_champion": since_champion,
            "drift_share": figures.drift_share,
            "estimated_accuracy": figures.estimated_accuracy,
            "realised_accuracy": figures.realised_accuracy,
            "open_alerts": figures.open_alerts,
            "holdout_accuracy": figures.holdout_accuracy,
            "labelled_predictions": figures.labelled,
            "window_rows": figures.window_rows,
            "flagged_share": figures.flagged_share,
            "rejected_share": figures.rejected_share,
            "last_prediction_timestamp_seconds": _seconds(figures.last_prediction),
            "last_measured_timestamp_seconds": _seconds(figures.last_measured) or 0.0,
        }

    @staticmethod
    def _deliveries(session: Session, served: list[str], family: GaugeMetricFamily) -> None:
        """Every status of every served dataset (0 included, so a rule sees the first failure as a
        change), and any other dataset's deliveries found."""
        counts = dict.fromkeys(((d, s) for d in served for s in DELIVERY_STATUSES), 0)
        counts |= delivery_counts(session=session)
        for (dataset, status), n in sorted(counts.items()):
            family.add_metric([dataset, status], float(n))


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
