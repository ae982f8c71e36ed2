from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from core.training import evaluate
from core.training.evaluate import holdout_metrics, wilson_interval


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
    folds = evaluate.cv_folds(y, seed=1)
    assert len(folds) == 3 * evaluate.cv_repeats(len(y))  # three folds, repeated: a small table
    assert all(len(np.unique(y[held])) == 2 for _, held in folds)  # stratified: each fold holds a "b"
    with pytest.raises(ValueError):
        evaluate.cv_folds(np.array(["a"] * 20 + ["b"]), seed=1)


def test_small_tables_repeat_their_folds_and_each_repeat_covers_every_row_once() -> None:
    y = np.array(["a", "b"] * 400)
    folds = evaluate.cv_folds(y, seed=3)
    assert evaluate.cv_repeats(len(y)) > 1 and len(folds) == evaluate.CV_FOLDS * evaluate.cv_repeats(len(y))
    first = np.sort(np.concatenate([held for _, held in folds[: evaluate.CV_FOLDS]]))
    assert (first == np.arange(len(y))).all()
    assert evaluate.cv_repeats(100_000) == 1


def _chance(y_train, y_hold, predicted, classes, seed=0):
    proba = (np.asarray(predicted)[:, None] == np.asarray(classes)[None, :]).astype(float)
    return evaluate.against_chance(np.asarray(y_train), np.asarray(y_hold), proba, np.asarray(classes), seed)


def test_a_model_that_knows_something_beats_guessing() -> None:
    rng = np.random.default_rng(1)
    classes = np.array(["a", "b", "c"], dtype=object)
    truth = rng.choice(classes, size=300, p=[0.6, 0.3, 0.1])
    predicted = np.where(rng.random(300) < 0.5, truth, rng.choice(classes, size=300))  # right half the time
    doc = _chance(rng.choice(classes, size=900, p=[0.6, 0.3, 0.1]), truth, predicted, classes)
    assert doc["guess"] == "a" and doc["better_than_chance"] and doc["p_value"] == 1 / 1000  # no shuffle did as well
    assert doc["accuracy"] == pytest.approx(np.mean(truth == "a"))  # the no-information rate
    assert doc["balanced_accuracy"] == pytest.approx(1 / 3)
    assert doc["model_balanced_accuracy"] == pytest.approx(balanced_accuracy_score(truth, predicted))
    assert evaluate.chance_warning(doc) is None
    assert "go with the true labels" in evaluate.chance_summary(doc)


def test_predictions_unrelated_to_the_truth_are_not_better_than_chance() -> None:
    rng = np.random.default_rng(2)
    classes = np.array([3, 7])
    truth, predicted = rng.choice(classes, size=200), rng.choice(classes, size=200)
    doc = _chance(rng.choice(classes, size=600), truth, predicted, classes)
    assert not doc["better_than_chance"] and doc["p_value"] >= evaluate.CHANCE_LEVEL
    warning = evaluate.chance_warning(doc)
    assert warning.startswith("The model is not clearly better than chance") and f"p = {doc['p_value']:.2f}" in warning
    assert "not clearly related" in evaluate.chance_summary(doc)


def test_the_permutation_test_matches_scikit_learns_balanced_accuracy_and_caps_the_rows() -> None:
    from scipy import stats

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 150)
    predicted = np.where(rng.random(150) < 0.15, truth, rng.integers(0, 4, 150))
    by_sklearn = stats.permutation_test(
        (truth, predicted),
        balanced_accuracy_score,
        permutation_type="pairings",
        n_resamples=evaluate.CHANCE_RESAMPLES,
        alternative="greater",
        random_state=np.random.default_rng(0),
    )
    assert _chance(truth, truth, predicted, np.arange(4))["p_value"] == pytest.approx(by_sklearn.pvalue)

    big = rng.integers(0, 2, evaluate.CHANCE_MAX_ROWS + 1_000)
    assert _chance(big, big, big, np.arange(2))["rows"] == evaluate.CHANCE_MAX_ROWS


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(90, 100)
    assert low == pytest.approx(0.8256, abs=1e-4) and high == pytest.approx(0.9448, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    proba[np.arange(300), np.searchsorted(["a", "b", "c"], y)] += 0.5  # better than chance
    proba /= proba.sum(axis=1, keepdims=True)
    first = holdout_metrics(y, proba, np.array(["a", "b", "c"]), resamples=100, seed=3)
    again = holdout_metrics(y, proba, np.array(["a", "b", "c"]), resamples=100, seed=3)
    assert [m.as_dict() for m in first] == [m.as_dict() for m in again]
    for metric in first:
        assert metric.low <= metric.value <= metric.high
