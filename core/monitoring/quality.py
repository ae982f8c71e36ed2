"""Quality over time: how right the predictions turned out, once analysts gave their true class.

Labels (:class:`~core.db.models.Feedback`) are joined to the predictions they judge and grouped
by the same windows as drift (the day the prediction was made, its batch, or its run of N
predictions) and by model version. Each point carries its number of labels and a 95 % Wilson
interval for accuracy, so a point from 5 labels is not read like one from 500; macro F1 and
precision and recall per class come with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Feedback, Prediction
from core.monitoring.ledger import window_label
from core.training.evaluate import wilson_interval


def labelled(*, session: Session, dataset: str) -> pd.DataFrame:
    """Every labelled prediction of the dataset: id, time, model version, batch, predicted and true class."""
    stmt = (
        select(
            Prediction.id,
            Prediction.created_at,
            Prediction.model_version,
            Prediction.batch_id,
            Prediction.predicted_class,
            Prediction.confidence,
            Feedback.label,
        )
        .join(Feedback, Feedback.prediction_id == Prediction.id)
        .where(Prediction.dataset == dataset)
        .order_by(Prediction.id)
    )
    columns = ["prediction_id", "created_at", "model_version", "batch_id", "predicted", "confidence", "label"]
    frame = pd.DataFrame([tuple(r) for r in session.execute(stmt)], columns=columns)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["correct"] = frame["predicted"].astype(str) == frame["label"].astype(str)
    return frame


def assign_windows(frame: pd.DataFrame, kind: str, windows: list[Any]) -> pd.Series:
    """The key of the window each labelled prediction falls in (``None`` when it is in none of ``windows``).

    ``windows`` are stored windows or spans of the kind (with ``key``, ``model_version``,
    ``first_id`` and ``last_id``).
    """
    keys = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if frame.empty:
        return keys
    if kind == "day":
        keys[:] = frame["created_at"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    elif kind == "batch":
        keys[:] = frame["batch_id"].to_numpy(dtype=object)
    else:
        for w in windows:
            inside = (frame["model_version"] == w.model_version) & frame["prediction_id"].between(w.first_id, w.last_id)
            keys[inside] = w.key
    known = {(w.model_version, w.key) for w in windows} if windows else None
    if known is not None:
        pairs = zip(frame["model_version"], keys, strict=True)
        keys[[(int(v), k) not in known for v, k in pairs]] = None
    return keys


def scores(frame: pd.DataFrame, classes: list[str] | None = None) -> dict[str, Any]:
    """Accuracy (with its 95 % Wilson interval), macro F1 and per-class precision and recall of labelled rows."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support  # lazy: a quick Monitor page

    n = len(frame)
    if n == 0:
        return {"labels": 0}
    y_true, y_pred = frame["label"].astype(str).to_numpy(), frame["predicted"].astype(str).to_numpy()
    correct = int((y_true == y_pred).sum())
    low, high = wilson_interval(correct, n)
    labels = sorted(set(classes or []) | set(y_true) | set(y_pred))
    seen = sorted(set(y_true) | set(y_pred))
    precision, recall, _, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "labels": n,
        "correct": correct,
        "accuracy": correct / n,
        "accuracy_low": float(low),
        "accuracy_high": float(high),
        "f1_macro": float(f1_score(y_true, y_pred, labels=seen, average="macro", zero_division=0)),
        "per_class": {
            c: {"precision": float(p), "recall": float(r), "support": int(s)}
            for c, p, r, s in zip(labels, precision, recall, support, strict=True)
        },
    }


def quality_by_window(frame: pd.DataFrame, kind: str, windows: list[Any]) -> pd.DataFrame:
    """One row per window and model version with labels: labels, accuracy and its interval, macro F1,
    ``precision:<class>`` and ``recall:<class>``; ordered by the windows' order."""
    if frame.empty:
        return pd.DataFrame()
    frame = frame.assign(window_key=assign_windows(frame, kind, windows)).dropna(subset=["window_key"])
    order = {(w.model_version, w.key): i for i, w in enumerate(windows)}
    rows = []
    for (version, key), part in frame.groupby(["model_version", "window_key"], sort=False):
        figures = scores(part)
        row = {
            "window": window_label(kind, str(key), int(version)),
            "key": key,
            "model_version": int(version),
            "start": part["created_at"].min(),
            "order": order.get((int(version), key), len(order)),
        }
        row |= {k: v for k, v in figures.items() if k != "per_class"}
        for cls, values in figures["per_class"].items():
            row[f"precision:{cls}"] = values["precision"]
            row[f"recall:{cls}"] = values["recall"]
        rows.append(row)
    if not rows:  # labels, but none in a stored window (windows of this size not measured yet)
        return pd.DataFrame()
    out = pd.DataFrame(rows)
    return out.sort_values(["order", "model_version"]).drop(columns="order").reset_index(drop=True)


def quality_by_version(frame: pd.DataFrame) -> pd.DataFrame:
    """All labels of each model version together: the same figures per version."""
    rows = []
    for version, part in frame.groupby("model_version"):
        figures = scores(part)
        rows.append({"model_version": int(version)} | {k: v for k, v in figures.items() if k != "per_class"})
    return pd.DataFrame(rows)


def confidence_histogram(bins: list[int]) -> pd.DataFrame:
    """Shares of predictions per confidence bin (20 equal bins from 0 to 1)."""
    counts = np.asarray(bins or [0] * 20, dtype="float64")
    total = counts.sum()
    edges = np.linspace(0, 1, len(counts) + 1)
    return pd.DataFrame(
        {"low": edges[:-1], "high": edges[1:], "share": counts / total if total else counts, "rows": counts}
    )


def class_mix_shares(mix: dict[str, int | float]) -> dict[str, float]:
    total = float(sum(mix.values()))
    return {str(k): float(v) / total for k, v in mix.items()} if total else {}
