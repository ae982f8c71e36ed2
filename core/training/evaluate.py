"""Holdout metrics for a fitted classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, roc_auc_score


def classification_metrics(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true)
    y_pred = classes[np.argmax(proba, axis=1)]
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }
    try:
        if len(classes) == 2:
            metrics["roc_auc"] = float(roc_auc_score(y_true == classes[1], proba[:, 1]))
        else:
            metrics["roc_auc"] = float(roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
    except ValueError:  # a class absent from the holdout
        metrics["roc_auc"] = float("nan")
    return metrics


def confusion(y_true: Any, proba: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    y_pred = classes[np.argmax(proba, axis=1)]
    matrix = confusion_matrix(np.asarray(y_true), y_pred, labels=classes)
    return {"labels": [str(c) for c in classes], "matrix": matrix.tolist()}
