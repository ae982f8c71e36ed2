"""Small estimators the candidates need: label encoding for XGBoost, dense input for HGB, calibrated
probabilities and weighted ensembles of fitted models."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.decomposition import TruncatedSVD
from sklearn.model_selection import cross_val_predict
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data


def _check_2d(X: Any) -> None:  # noqa: N803
    """The checks check_array would make, without converting X (a DataFrame stays one)."""
    if not hasattr(X, "shape"):
        X = np.asarray(X)  # noqa: N806
    if len(X.shape) != 2:
        raise ValueError(f"Expected a 2D array, got {len(X.shape)}D instead. Reshape your data: one row per sample.")
    shape = X.shape
    if shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum of 1 is required.")


class EncodedLabelClassifier(ClassifierMixin, BaseEstimator):
    """Fit ``estimator`` on encoded labels; predict the original labels back, unchanged.

    ``class_weight`` (``"balanced"`` or {label: weight}) weights each row by its class, as
    scikit-learn's ``class_weight`` does, for estimators such as XGBoost that only take sample
    weights. Input goes to ``estimator`` as given (a DataFrame stays a DataFrame).
    """

    def __init__(self, estimator: Any = None, class_weight: str | dict[Any, float] | None = None):
        self.estimator = estimator
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, **fit_params: Any) -> EncodedLabelClassifier:  # noqa: N803
        if self.estimator is None:
            raise ValueError("EncodedLabelClassifier needs an estimator")
        if not (self.class_weight is None or self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, not {self.class_weight!r}")
        _check_2d(X)
        validate_data(self, X, skip_check_array=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.encoder_.classes_
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, y)
            given = fit_params.get("sample_weight")
            fit_params["sample_weight"] = weights if given is None else weights * np.asarray(given)
        self.estimator_ = clone(self.estimator).fit(X, self.encoder_.transform(y), **fit_params)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "estimator_")
        _check_2d(X)
        validate_data(self, X, skip_check_array=True, reset=False)
        return self.estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__() if self.estimator is not None else None
        tags.input_tags.sparse = inner.input_tags.sparse if inner is not None else True
        tags.input_tags.allow_nan = inner.input_tags.allow_nan if inner is not None else False
        return tags


class DenseFeatures(TransformerMixin, BaseEstimator):
    """Hand a dense array to estimators that refuse sparse input (histogram gradient boosting).

    Sparse input wider than ``max_features`` columns (TF-IDF of free text) is projected onto
    ``n_components`` latent components (truncated SVD) rather than densified column by column.
    Missing values pass through (the estimators after it handle them).
    """

    def __init__(self, max_features: int = 300, n_components: int = 100, random_state: int | None = None):
        self.max_features = max_features
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> DenseFeatures:  # noqa: N803
        if self.n_components < 1 or self.max_features < 1:
            raise ValueError("max_features and n_components must be at least 1")
        X = validate_data(self, X, accept_sparse=True, ensure_all_finite="allow-nan")  # noqa: N806
        self.svd_ = None
        if sp.issparse(X) and X.shape[1] > self.max_features:
            components = min(self.n_components, X.shape[1] - 1, max(X.shape[0] - 1, 1))
            self.svd_ = TruncatedSVD(n_components=components, random_state=self.random_state).fit(X)
        return self

    def transform(self, X: Any) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, accept_sparse=True, ensure_all_finite="allow-nan", reset=False)  # noqa: N806
        if self.svd_ is not None:
            return self.svd_.transform(X)
        return X.toarray() if sp.issparse(X) else np.asarray(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        return tags


class GivenProbabilities(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose input is already class probabilities (columns in class order).

    It lets scikit-learn's :class:`~sklearn.calibration.CalibratedClassifierCV` calibrate
    probabilities a model gave before (its out-of-fold predictions), without refitting the model.
    """

    def __init__(self, n_classes: int = 2):
        self.n_classes = n_classes

    def fit(self, X: Any, y: Any = None) -> GivenProbabilities:  # noqa: N803
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        return np.asarray(X, dtype=float)

    def decision_function(self, X: Any) -> np.ndarray:  # noqa: N803
        """Log-odds (two classes) or log-probabilities: the calibrators' input, so none saturates near 0 and 1."""
        logs = np.log(np.clip(np.asarray(X, dtype=float), np.finfo(float).tiny, 1.0))
        return logs[:, 1] - logs[:, 0] if logs.shape[1] == 2 else logs

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        return np.argmax(np.asarray(X), axis=1)


CALIBRATION_FOLDS = 5  # a calibrated model fitted anew (not in training) calibrates on these out-of-fold predictions


class Calibrated(ClassifierMixin, BaseEstimator):
    """A fitted ``model`` whose probabilities pass through a fitted ``calibrator`` (see :class:`GivenProbabilities`).

    ``method`` names the calibration (``sigmoid``, ``isotonic``, ``temperature``). Fitting it
    again does what training did: the calibrator on the model's out-of-fold probabilities (5
    stratified folds), then the model on every row.
    """

    def __init__(self, model: Any = None, calibrator: Any = None, method: str = ""):
        self.model = model
        self.calibrator = calibrator
        self.method = method

    @property
    def classes_(self) -> np.ndarray:
        return self.model.classes_

    def __sklearn_is_fitted__(self) -> bool:
        return self.calibrator is not None and hasattr(self.model, "classes_")

    def fit(self, X: Any, y: Any) -> Calibrated:  # noqa: N803
        y = np.asarray(y)
        oof = cross_val_predict(clone(self.model), X, y, cv=CALIBRATION_FOLDS, method="predict_proba")
        self.calibrator = clone(self.calibrator).fit(oof, np.searchsorted(np.unique(y), y))
        self.model = clone(self.model).fit(X, y)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        return self.calibrator.predict_proba(self.model.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class WeightedEnsemble(ClassifierMixin, BaseEstimator):
    """Fitted ``members`` (same input columns, same classes) whose probabilities are averaged with ``weights``.

    ``names`` name the members (the candidates they were). The weights come from greedy ensemble
    selection on out-of-fold probabilities (see :mod:`core.training.selection`) and add up to 1.
    """

    def __init__(
        self, members: list[Any] | None = None, weights: list[float] | None = None, names: list[str] | None = None
    ):
        self.members = members
        self.weights = weights
        self.names = names

    @property
    def classes_(self) -> np.ndarray:
        return self.members[0].classes_

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.members) and all(hasattr(m, "classes_") for m in self.members)

    def fit(self, X: Any, y: Any) -> WeightedEnsemble:  # noqa: N803
        self.members = [clone(m).fit(X, y) for m in self.members]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:  # noqa: N803
        total = None
        for member, weight in zip(self.members, self.weights, strict=True):
            part = weight * member.predict_proba(X)
            total = part if total is None else total + part
        return total

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
