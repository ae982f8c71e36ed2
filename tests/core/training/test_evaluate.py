from __future__ import annotations

import numpy as np
import pytest

from core.training import evaluate


@pytest.fixture
def binary():
    rng = np.random.default_rng(0)
    y = rng.choice(np.array(["no", "yes"], dtype=object), size=2000)
    score = np.clip((y == "yes") * 0.3 + rng.uniform(0, 0.7, size=2000), 0, 1)
    return y, np.column_stack([1 - score, score]), np.array(["no", "yes"], dtype=object)


def test_binary_curves_are_thinned_and_plain_json(binary) -> None:
    y, proba, classes = binary
    roc = evaluate.roc_curves(y, proba, classes)
    (curve,) = roc["curves"]
    assert roc["kind"] == "binary" and curve["label"] == "yes"
    assert len(curve["fpr"]) <= evaluate.CURVE_POINTS and curve["fpr"][0] == 0 and curve["tpr"][-1] == 1
    (pr,) = evaluate.pr_curves(y, proba, classes)["curves"]
    assert len(pr["recall"]) <= evaluate.CURVE_POINTS and 0.4 < pr["prevalence"] < 0.6
    calibration = evaluate.calibration(y, proba, classes)
    assert calibration["kind"] == "binary" and sum(b["count"] for b in calibration["bins"]) == len(y)
    assert all(b["low"] <= b["predicted"] <= b["high"] for b in calibration["bins"])


def test_multiclass_calibration_is_top_label() -> None:
    classes = np.array([0, 1, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    y = np.array([0, 1, 0, 2])
    calibration = evaluate.calibration(y, proba, classes)
    assert calibration["kind"] == "top-label" and calibration["brier"] is None
    assert sum(b["count"] * b["observed"] for b in calibration["bins"]) == pytest.approx(2)
    assert [c["label"] for c in evaluate.roc_curves(y, proba, classes)["curves"]] == ["0", "1", "2"]


def test_folds_shrink_for_rare_classes_and_refuse_singletons() -> None:
    y = np.array(["a"] * 20 + ["b"] * 3)
    assert len(evaluate.cv_folds(y, seed=1)) == 3
    with pytest.raises(ValueError):
        evaluate.cv_folds(np.array(["a"] * 20 + ["b"]), seed=1)
