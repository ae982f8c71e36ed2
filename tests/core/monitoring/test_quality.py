"""Quality over time from labelled feedback: accuracy with its interval, macro F1, per class."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.metrics import f1_score
from sqlalchemy import select

from core.db.models import Prediction
from core.feedback import record_label
from core.monitoring import quality, windows
from tests.core.monitoring.conftest import rice_rows, score_rows


def test_quality_per_window_from_feedback(trained_settings, trained_sessions, tmp_path: Path) -> None:
    rows = rice_rows(150, seed=21)
    first = score_rows(trained_sessions, trained_settings, rows, tmp_path, "a")["batch_id"]
    second = score_rows(trained_sessions, trained_settings, rice_rows(150, seed=22), tmp_path, "b")["batch_id"]
    truth = dict(zip(range(150), rows["Class"], strict=True))
    with trained_sessions.begin() as session:
        first_rows = session.scalars(select(Prediction).where(Prediction.batch_id == first).order_by(Prediction.id))
        for i, p in enumerate(first_rows):  # the true class of 60 of the first batch's rows
            if i < 60:
                record_label(session=session, prediction_id=p.id, label=truth[i])
        one = session.scalars(select(Prediction).where(Prediction.batch_id == second).limit(5)).all()
        for p in one:
            record_label(session=session, prediction_id=p.id, label=p.predicted_class)
    done = windows.refresh(sessions=trained_sessions, settings=trained_settings, dataset="rice", kind="batch")
    with trained_sessions() as session:
        labelled = quality.labelled(session=session, dataset="rice")
    assert len(labelled) == 65
    table = quality.quality_by_window(labelled, "batch", done.windows)
    assert table["key"].tolist() == [first, second] and table["labels"].tolist() == [60, 5]
    big, small = table.iloc[0], table.iloc[1]
    part = labelled[labelled["batch_id"] == first]
    assert big["accuracy"] == pytest.approx(part["correct"].mean())
    assert big["f1_macro"] == pytest.approx(f1_score(part["label"], part["predicted"], average="macro"))
    assert big["accuracy_low"] < big["accuracy"] <= big["accuracy_high"]
    assert small["accuracy"] == 1.0 and small["accuracy_low"] < 0.6  # 5 labels: a wide interval
    assert big["accuracy_high"] - big["accuracy_low"] < small["accuracy_high"] - small["accuracy_low"]
    assert {"precision:Cammeo", "recall:Osmancik"} <= set(table.columns)
    by_version = quality.quality_by_version(labelled)
    assert by_version["labels"].tolist() == [65]

    days = quality.quality_by_window(labelled, "day", [])
    assert days["labels"].tolist() == [65]  # both batches were scored today
    histogram = quality.confidence_histogram(done.windows[0].confidence_bins)
    assert histogram["share"].sum() == pytest.approx(1) and len(histogram) == 20
