"""Accuracy before labels arrive: confidence-based performance estimation.

A prediction made with largest probability p is right with some chance c(p). If the model's
probabilities were perfectly calibrated, c(p) = p; they rarely are, so c is learnt on the frozen
holdout of the model version (rows it never trained on, with their true labels): an isotonic
regression of "was the prediction right" on p. The expected accuracy of a window of predictions
is then the mean of c(p) over its rows. This holds while the inputs stay like the training data
in the ways the model's confidence does not see; large drift is a reason to doubt it.

Each version's calibration, with the class mix of its training labels, the histogram of its
holdout confidence and its key features, is stored once as a
:class:`~core.db.models.ModelBaseline`. ``check`` records the honest test of the calibration on
this very holdout: fitted on one half, estimated on the other (both ways), and a 5-fold
cross-fit of the whole holdout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import registry
from core.champion import load_version
from core.config import Settings
from core.db.models import ModelBaseline, utcnow
from core.monitoring.reference import class_shares, training_data
from core.training.report import REPORT_FILES

CONFIDENCE_BINS = 20
CROSS_FIT_FOLDS = 5


def fit_calibration(confidence: np.ndarray, correct: np.ndarray) -> dict[str, list[float]]:
    """An isotonic map from largest probability to the chance of being right, as points to interpolate."""
    from sklearn.isotonic import IsotonicRegression  # lazy: keeps the Monitor page quick to import

    confidence = np.asarray(confidence, dtype="float64")
    correct = np.asarray(correct, dtype="float64")
    if len(confidence) < 2 or np.ptp(confidence) == 0:
        rate = float(correct.mean()) if len(correct) else 1.0
        return {"x": [0.0, 1.0], "y": [rate, rate]}
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(confidence, correct)
    return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def calibrated(calibration: dict[str, list[float]], confidence: np.ndarray) -> np.ndarray:
    """The chance each prediction is right, given its largest probability."""
    return np.interp(np.asarray(confidence, dtype="float64"), calibration["x"], calibration["y"])


def expected_accuracy(calibration: dict[str, list[float]], confidence: np.ndarray) -> float | None:
    """The accuracy a window of predictions can be expected to have (None for an empty window)."""
    if not len(confidence):
        return None
    return float(calibrated(calibration, confidence).mean())


def honest_check(confidence: np.ndarray, correct: np.ndarray, seed: int) -> dict[str, Any]:
    """How well the calibration estimates accuracy on rows it was not fitted on.

    ``halves``: fitted on one random half of the holdout, estimated on the other, both ways;
    ``cross_fit``: every row estimated by a calibration fitted on the other folds.
    """
    n = len(confidence)
    out: dict[str, Any] = {"rows": n, "seed": seed, "halves": [], "cross_fit": None}
    if n < 2 * CROSS_FIT_FOLDS:
        return out
    order = np.random.default_rng(seed).permutation(n)
    first, second = order[: n // 2], order[n // 2 :]
    for fit_on, judge_on in ((first, second), (second, first)):
        estimate = expected_accuracy(fit_calibration(confidence[fit_on], correct[fit_on]), confidence[judge_on])
        realised = float(np.mean(correct[judge_on]))
        out["halves"].append(
            {"fitted_on": len(fit_on), "estimated_on": len(judge_on), "estimate": estimate, "realised": realised}
        )
    estimates = np.empty(n)
    for fold in np.array_split(order, CROSS_FIT_FOLDS):
        rest = np.setdiff1d(order, fold)
        estimates[fold] = calibrated(fit_calibration(confidence[rest], correct[rest]), confidence[fold])
    out["cross_fit"] = {
        "folds": CROSS_FIT_FOLDS,
        "estimate": float(estimates.mean()),
        "realised": float(correct.mean()),
    }
    return out


def _key_features(settings: Settings, run_id: str, names: list[str]) -> list[str]:
    """Features by permutation importance on the holdout, largest first (the training report's), else as given."""
    filename = REPORT_FILES["permutation_importance"]
    try:
        rows = registry.load_documents(settings, run_id, [filename]).get(filename) or []
    except Exception:  # a run without the report: MLflow raises its own types
        rows = []
    ranked = [r["feature"] for r in rows if r.get("feature") in names]
    return ranked + [n for n in names if n not in ranked]


def _holdout_predictions(settings: Settings, dataset: str, version: int, data: Any) -> tuple[np.ndarray, np.ndarray]:
    model = load_version(settings, dataset, version)
    if not len(data.holdout):
        return np.empty(0), np.empty(0)
    proba = np.asarray(model.pipeline.predict_proba(data.holdout), dtype="float64")
    labels = np.asarray([str(c) for c in model.pipeline.classes_], dtype=object)
    predicted = labels[proba.argmax(axis=1)]
    return proba.max(axis=1), (predicted == data.holdout_target.to_numpy(dtype=object)).astype("float64")


def fit_baseline(*, session: Session, settings: Settings, dataset: str, version: int) -> ModelBaseline:
    """Fit and store a version's baseline (replacing a stored one). The caller owns the transaction."""
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    confidence, correct = _holdout_predictions(settings, dataset, version, data)
    if len(confidence):
        calibration = fit_calibration(confidence, correct)
        accuracy = float(correct.mean())
        check = honest_check(confidence, correct, settings.seed)
    else:  # no known holdout: trust the probabilities as they are, and the logged holdout accuracy
        calibration = {"x": [0.0, 1.0], "y": [0.0, 1.0]}
        accuracy = float(registry.get_version(settings, dataset, version).metrics.get("accuracy", float("nan")))
        check = {"rows": 0, "note": "no holdout rows recorded: probabilities used as they are"}
    bins, _ = np.histogram(confidence, bins=CONFIDENCE_BINS, range=(0.0, 1.0))
    found = session.scalar(
        select(ModelBaseline).where(ModelBaseline.dataset == dataset, ModelBaseline.model_version == int(version))
    )
    if found is None:
        found = ModelBaseline(dataset=dataset, model_version=int(version))
        session.add(found)
    found.holdout_rows = len(confidence)
    found.holdout_accuracy = accuracy
    found.calibration = calibration
    found.check = check
    found.class_mix = class_shares(data.train_target)
    found.confidence_bins = bins.astype(int).tolist()
    found.key_features = _key_features(settings, data.run_id, data.names)
    found.created_at = utcnow()
    session.flush()
    return found


def baseline(*, session: Session, settings: Settings, dataset: str, version: int) -> ModelBaseline:
    """A version's stored baseline, fitted and stored on first use. The caller owns the transaction."""
    found = session.scalar(
        select(ModelBaseline).where(ModelBaseline.dataset == dataset, ModelBaseline.model_version == int(version))
    )
    return found or fit_baseline(session=session, settings=settings, dataset=dataset, version=version)


def baselines(*, session: Session, dataset: str) -> dict[int, ModelBaseline]:
    """The stored baselines of a dataset's model versions, by version."""
    found = session.scalars(select(ModelBaseline).where(ModelBaseline.dataset == dataset))
    return {b.model_version: b for b in found}
