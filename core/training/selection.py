"""Choosing the model: the selection metric, calibration and greedy ensembles, all on out-of-fold probabilities.

Every candidate is cross-validated on the same folds (:func:`core.training.evaluate.cv_folds`);
each training row gets the probabilities of the models that did not see it (averaged over the
repeats of small tables). Everything chosen here is chosen on those out-of-fold probabilities,
never on the holdout, which stays a report:

- the **selection metric** the analyst cares about, or a default read from the target
  (:func:`default_metric`);
- **calibration** of a candidate's probabilities (scikit-learn's sigmoid, isotonic or temperature
  calibration), kept only when it lowers the cross-fitted out-of-fold log loss without costing the
  selection metric (:func:`choose_calibration`);
- a **greedy weighted ensemble** of the candidates (Caruana et al., 2004, as AutoGluon does):
  starting from the best candidate, add (with replacement) whichever candidate improves the
  averaged probabilities most; the weights are how often each was added. The best ensemble seen
  is kept, so it is never worse than its best member on these probabilities (:func:`greedy_ensemble`).
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sqlalchemy.orm import Session

from core.datasets.versions import get_version, load_target
from core.errors import InvalidSetting
from core.training.estimators import GivenProbabilities
from core.training.evaluate import LOWER_IS_BETTER, METRICS, metric_value, score
from core.training.factories import IMBALANCE_RATIO

# the metrics a training can be chosen on, in the order the Train page offers them
SELECTION_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss")
# what each metric rewards, in a sentence (the Train page's help)
MEANINGS = {
    "accuracy": "the share of rows predicted right; on imbalanced classes it rewards favouring the majority.",
    "balanced_accuracy": "the mean of each class's share found; every class counts the same, however rare.",
    "f1_macro": "the mean over classes of F1 (precision and recall together); every class counts the same.",
    "roc_auc": "how well the probabilities rank rows of each class above the others, whatever the threshold.",
    "log_loss": "how close the probabilities are to what happened (lower is better): for confidences to act on.",
}
BALANCING_METRICS = frozenset({"balanced_accuracy", "f1_macro"})  # they reward weighting rare classes up
CALIBRATION_METHODS = ("sigmoid", "isotonic", "temperature")
MIN_CALIBRATION_ROWS = 100  # fewer rows: a calibrator would learn the noise of a few folds
CALIBRATION_GAIN = 0.01  # kept only when it lowers the out-of-fold log loss by at least 1 %
# ... and costs the selection metric at most this: a monotone calibration keeps the ranking, but probabilities
# of exactly 0 or 1 become ties, which moves ROC AUC in its fourth decimal
CALIBRATION_SLACK = 0.001
ENSEMBLE_ROUNDS = 25  # additions of greedy ensemble selection (AutoGluon's default too)
ENSEMBLE_GAIN = 1e-4  # an ensemble must beat its best member by this much to be a candidate of its own


@dataclass(frozen=True)
class MetricChoice:
    """The metric that picks the model, and why it is that one."""

    metric: str
    reason: str
    chosen: bool  # True: the analyst picked it; False: the default for this target

    @property
    def label(self) -> str:
        return METRICS[self.metric]

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "label": self.label, "reason": self.reason, "chosen": self.chosen}


def check_metric(metric: str) -> str:
    if metric not in SELECTION_METRICS:
        raise InvalidSetting(f"No selection metric {metric!r}. Choose one of: {', '.join(SELECTION_METRICS)}.")
    return metric


def default_metric(y: Any) -> MetricChoice:
    """The default selection metric for a target, from its classes and their balance, with the reason.

    Two classes: ROC AUC, which judges the probabilities themselves, whatever threshold is used
    later, and is not fooled by a majority class. More classes, balanced: accuracy, the share of
    rows right, which then treats every class alike. More classes, imbalanced: macro F1, which
    counts every class equally, however rare.
    """
    counts = pd.Series(np.asarray(y)).value_counts()
    ratio = float(counts.max() / counts.min())
    balanced = ratio < IMBALANCE_RATIO
    share = f"the largest class is {ratio:.1f} times the smallest"
    if len(counts) <= 2:
        why = "the classes are about even" if balanced else f"the classes are imbalanced ({share})"
        reason = (
            f"ROC AUC: two classes and {why}; it judges how well the model ranks rows by probability, whatever "
            "threshold is used, and always answering the majority class cannot score well on it."
        )
        return MetricChoice("roc_auc", reason, chosen=False)
    if balanced:
        reason = (
            f"Accuracy: {len(counts)} classes of about the same size, so the share of rows predicted right "
            "treats every class alike and is the easiest to read."
        )
        return MetricChoice("accuracy", reason, chosen=False)
    reason = (
        f"Macro F1: {len(counts)} classes and they are imbalanced ({share}); macro F1 counts every class "
        "equally, so a model cannot score well by neglecting the rare ones."
    )
    return MetricChoice("f1_macro", reason, chosen=False)


def default_metric_for(*, session: Session, dataset: str, version: int | None = None) -> MetricChoice:
    """The default selection metric of a stored dataset version (default: the latest), with its reason."""
    found = get_version(session=session, name=dataset, version=version)
    return default_metric(load_target(session=session, version=found).dropna())


def metric_choice(y: Any, metric: str | None) -> MetricChoice:
    """The analyst's metric when given, else the default for ``y``."""
    if metric is None:
        return default_metric(y)
    check_metric(metric)
    return MetricChoice(metric, f"{METRICS[metric]}: chosen for this training.", chosen=True)


def class_weightings(imbalanced_weight: str | None, metric: str) -> list[str | None]:
    """The class weightings to try, the one the metric favours first; just None when the classes are balanced."""
    if imbalanced_weight is None:
        return [None]
    return [imbalanced_weight, None] if metric in BALANCING_METRICS else [None, imbalanced_weight]


def oof_metrics(codes: np.ndarray, oof: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRICS` on out-of-fold probabilities."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return {m: metric_value(m, codes, oof) for m in METRICS}


# --- calibration -----------------------------------------------------------------------------------


def _calibrator(method: str, n_classes: int) -> CalibratedClassifierCV:
    given = FrozenEstimator(GivenProbabilities(n_classes).fit(None))
    return CalibratedClassifierCV(given, method=method, ensemble=False)


def fit_calibrator(method: str, oof: np.ndarray, codes: np.ndarray) -> CalibratedClassifierCV:
    with warnings.catch_warnings():  # a tiny fold's sigmoid fit may stop early: the check below judges the result
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        # the frozen probabilities go through scikit-learn's 5 folds unchanged: a rare class's warning says nothing
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return _calibrator(method, oof.shape[1]).fit(oof, codes)


def _one_partition(folds: list[tuple[np.ndarray, np.ndarray]], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first repeat's folds: their held-out rows cover every row once."""
    covered = 0
    for i, (_, held) in enumerate(folds):
        covered += len(held)
        if covered >= n:
            return folds[: i + 1]
    return folds


def cross_fitted(method: str, oof: np.ndarray, codes: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]):
    """Calibrated out-of-fold probabilities: each fold's rows calibrated by a calibrator fitted on the others."""
    calibrated = np.empty_like(oof)
    for fit_rows, held in _one_partition(folds, len(codes)):
        if len(np.unique(codes[fit_rows])) < oof.shape[1]:
            return None  # a class missing from a fold: no calibrator for it
        calibrated[held] = fit_calibrator(method, oof[fit_rows], codes[fit_rows]).predict_proba(oof[held])
    return calibrated


@dataclass(frozen=True)
class Calibration:
    method: str | None  # None: the raw probabilities are kept
    oof: np.ndarray  # the out-of-fold probabilities after it (cross-fitted)
    log_loss_before: float
    log_loss_after: float


def choose_calibration(
    oof: np.ndarray, codes: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], metric: str
) -> Calibration:
    """The calibration that lowers out-of-fold log loss the most (by at least :data:`CALIBRATION_GAIN`)
    without costing the selection metric more than :data:`CALIBRATION_SLACK`, or none."""
    before = metric_value("log_loss", codes, oof)
    kept = Calibration(None, oof, before, before)
    if len(codes) < MIN_CALIBRATION_ROWS or not np.isfinite(before):
        return kept
    baseline = score(metric, codes, oof)
    for method in CALIBRATION_METHODS:
        calibrated = cross_fitted(method, oof, codes, folds)
        if calibrated is None:
            return kept
        after = metric_value("log_loss", codes, calibrated)
        helps = after <= before * (1 - CALIBRATION_GAIN) and after < kept.log_loss_after
        if helps and (metric in LOWER_IS_BETTER or score(metric, codes, calibrated) >= baseline - CALIBRATION_SLACK):
            kept = Calibration(method, calibrated, before, after)
    return kept


# --- greedy ensemble selection -------------------------------------------------------------------


def greedy_ensemble(
    oofs: dict[str, np.ndarray], codes: np.ndarray, metric: str, rounds: int = ENSEMBLE_ROUNDS
) -> dict[str, float]:
    """Ensemble weights by member name; one member with weight 1 when no mix beats the best candidate.

    Caruana et al. (2004): start from the best candidate, then ``rounds - 1`` times add the
    candidate (repeats allowed) whose addition scores best; keep the best mix seen. Ties go to
    the candidate listed first.
    """
    names = list(oofs)
    scores = {n: score(metric, codes, oofs[n]) for n in names}
    first = max(names, key=lambda n: (scores[n], -names.index(n)))
    chosen, total = [first], oofs[first].astype(float).copy()
    best, best_counts = scores[first], Counter(chosen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(rounds - 1):
            trial = {n: score(metric, codes, (total + oofs[n]) / (len(chosen) + 1)) for n in names}
            pick = max(names, key=lambda n: (trial[n], -names.index(n)))
            chosen.append(pick)
            total += oofs[pick]
            if trial[pick] > best + 1e-12:
                best, best_counts = trial[pick], Counter(chosen)
    size = sum(best_counts.values())
    return {n: best_counts[n] / size for n in names if best_counts[n]}


def blend(parts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted sum of probabilities ``parts`` (by member name)."""
    return sum(weights[n] * parts[n] for n in weights)
