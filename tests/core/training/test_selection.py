"""Choosing on out-of-fold probabilities: the default metric, calibration and the greedy ensemble, on real tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from core.errors import InvalidSetting
from core.training import evaluate
from core.training.estimators import Calibrated, WeightedEnsemble
from core.training.selection import (
    SELECTION_METRICS,
    blend,
    check_metric,
    choose_calibration,
    class_weightings,
    default_metric,
    fit_calibrator,
    greedy_ensemble,
)


def _table(loader) -> tuple[pd.DataFrame, np.ndarray]:
    data = loader(as_frame=True)
    return data.data, data.target.to_numpy()


MODELS = {
    "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "forest": lambda: RandomForestClassifier(n_estimators=30, random_state=0, n_jobs=1),
    "bayes": GaussianNB,
    "tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
}


@pytest.fixture(scope="module")
def cancer_oofs() -> tuple[np.ndarray, dict[str, np.ndarray], list]:
    X, y = _table(load_breast_cancer)
    folds = evaluate.cv_folds(y, seed=1)
    oofs = {name: evaluate.cross_validate(make(), X, y, folds, metric="roc_auc").oof for name, make in MODELS.items()}
    return y, oofs, folds


def test_the_default_metric_follows_the_classes_and_their_balance() -> None:
    assert default_metric(["a"] * 50 + ["b"] * 48).metric == "roc_auc"
    imbalanced = default_metric(["no"] * 90 + ["yes"] * 10)
    assert imbalanced.metric == "roc_auc" and "9.0 times" in imbalanced.reason and not imbalanced.chosen
    assert default_metric(["a"] * 30 + ["b"] * 30 + ["c"] * 25).metric == "accuracy"
    rare = default_metric(["a"] * 60 + ["b"] * 30 + ["c"] * 5)
    assert rare.metric == "f1_macro" and "12.0 times" in rare.reason
    _, wine_y = _table(load_wine)  # 59/71/48 rows: within 1.5 times
    assert default_metric(wine_y).metric == "accuracy"


def test_an_unknown_metric_is_refused_with_the_choices() -> None:
    assert check_metric("log_loss") == "log_loss"
    with pytest.raises(InvalidSetting, match="accuracy, balanced_accuracy, f1_macro, roc_auc, log_loss"):
        check_metric("precision")


def test_class_weighting_is_tried_both_ways_on_imbalanced_classes_only() -> None:
    assert class_weightings(None, "f1_macro") == [None]
    assert class_weightings("balanced", "f1_macro") == ["balanced", None]  # the metric's preference first
    assert class_weightings("balanced", "accuracy") == [None, "balanced"]


@pytest.mark.parametrize("metric", SELECTION_METRICS)
def test_the_greedy_ensemble_is_never_worse_than_its_best_member(cancer_oofs, metric: str) -> None:
    y, oofs, _ = cancer_oofs
    codes = y  # breast cancer's classes are 0 and 1: codes already
    weights = greedy_ensemble(oofs, codes, metric)
    assert weights and set(weights) <= set(oofs) and sum(weights.values()) == pytest.approx(1.0)
    best_member = max(evaluate.score(metric, codes, oof) for oof in oofs.values())
    assert evaluate.score(metric, codes, blend(oofs, weights)) >= best_member - 1e-12


def test_the_ensemble_mixes_models_when_that_helps_and_keeps_one_when_it_does_not(cancer_oofs) -> None:
    y, oofs, _ = cancer_oofs
    mixed = greedy_ensemble(oofs, y, "accuracy")
    assert len(mixed) > 1  # a little of the forest and of naive Bayes puts a few more rows right
    best = max(oofs, key=lambda n: evaluate.score("accuracy", y, oofs[n]))
    assert evaluate.score("accuracy", y, blend(oofs, mixed)) > evaluate.score("accuracy", y, oofs[best])
    # logistic regression ranks these rows best, and no mix ranks them better: it stays alone
    assert greedy_ensemble(oofs, y, "roc_auc") == {"logistic": 1.0}
    # alone with a much worse partner, the best model stays alone
    worse = {"best": oofs[best], "coin": np.full_like(oofs[best], 0.5)}
    assert greedy_ensemble(worse, y, "log_loss") == {"best": 1.0}


def test_calibration_is_kept_only_when_it_lowers_out_of_fold_log_loss(cancer_oofs) -> None:
    y, oofs, folds = cancer_oofs
    # naive Bayes is overconfident on correlated measurements: calibration must help it
    bayes = choose_calibration(oofs["bayes"], y, folds, "roc_auc")
    assert bayes.method is not None
    assert bayes.log_loss_after <= bayes.log_loss_before * 0.99
    assert evaluate.metric_value("log_loss", y, bayes.oof) == pytest.approx(bayes.log_loss_after)
    # probabilities that are calibrated by construction: nothing to gain, nothing kept
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, 2000)
    truth = (rng.uniform(size=2000) < p).astype(int)
    honest = np.column_stack([1 - p, p])
    kept = choose_calibration(honest, truth, evaluate.cv_folds(truth, seed=0), "roc_auc")
    assert kept.method is None and kept.oof is honest


def test_a_calibrated_model_and_an_ensemble_predict_as_their_parts_say() -> None:
    X, y = _table(load_wine)
    forest, bayes = MODELS["forest"]().fit(X, y), GaussianNB().fit(X, y)
    ensemble = WeightedEnsemble([forest, bayes], [0.75, 0.25], ["forest", "bayes"])
    expected = 0.75 * forest.predict_proba(X) + 0.25 * bayes.predict_proba(X)
    assert np.allclose(ensemble.predict_proba(X), expected)
    assert (ensemble.predict(X) == ensemble.classes_[expected.argmax(axis=1)]).all()
    calibrator = fit_calibrator("sigmoid", bayes.predict_proba(X), y)
    calibrated = Calibrated(bayes, calibrator, "sigmoid")
    proba = calibrated.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert (calibrated.classes_ == bayes.classes_).all()
    # fitted anew (a copy, as scikit-learn's clone makes): calibrated on its own out-of-fold probabilities again
    refitted = clone(calibrated).fit(X, y)
    assert refitted.predict_proba(X).shape == (len(X), 3) and refitted.calibrator is not calibrator
    assert (clone(ensemble).fit(X, y).predict(X) == ensemble.predict(X)).mean() > 0.9


@pytest.mark.parametrize("method", ["sigmoid", "isotonic", "temperature"])
def test_calibrating_around_a_rare_class_says_nothing_on_the_terminal(method: str) -> None:
    rng = np.random.default_rng(0)
    codes = np.array([0] * 50 + [1] * 30 + [2] * 4)  # 4 rows: fewer than scikit-learn's 5 folds
    proba = rng.dirichlet([1, 1, 1], size=len(codes))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        calibrator = fit_calibrator(method, proba, codes)
    assert calibrator.predict_proba(proba).shape == proba.shape
