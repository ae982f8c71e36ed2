"""Formatting of figures for display."""

from __future__ import annotations

import pandas as pd

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "f1_macro": "Macro F1",
    "balanced_accuracy": "Balanced accuracy",
    "roc_auc": "ROC AUC",
    "cv_f1_macro": "CV macro F1",
}


def metric_table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame.rename(columns=METRIC_LABELS)


def percent(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.1%}"
