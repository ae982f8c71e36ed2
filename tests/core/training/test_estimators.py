from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks
from xgboost import XGBClassifier

from core.training.estimators import DenseFeatures, EncodedLabelClassifier
from core.training.factories import class_weighting


def test_encoded_labels_round_trip_and_balanced_weights_shift_the_minority() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = np.where(X[:, 0] + 0.8 * rng.normal(size=400) > 1.3, "rare", "common")
    plain = EncodedLabelClassifier(XGBClassifier(n_estimators=20, n_jobs=1)).fit(X, y)
    weighted = EncodedLabelClassifier(XGBClassifier(n_estimators=20, n_jobs=1), class_weight="balanced").fit(X, y)
    assert list(plain.classes_) == ["common", "rare"] and set(plain.predict(X)) <= {"common", "rare"}
    assert (weighted.predict(X) == "rare").sum() > (plain.predict(X) == "rare").sum()
    with pytest.raises(ValueError, match="class_weight"):
        EncodedLabelClassifier(LogisticRegression(), class_weight="equal").fit(X, y)


@parametrize_with_checks(
    [
        DenseFeatures(),
        EncodedLabelClassifier(LogisticRegression()),
        EncodedLabelClassifier(XGBClassifier(n_estimators=5, n_jobs=1), class_weight="balanced"),
    ]
)
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")  # the checks' exotic inputs
def test_sklearn_compatible(estimator, check) -> None:
    check(estimator)


def test_class_weighting_only_for_imbalanced_classes() -> None:
    assert class_weighting(np.array(["a"] * 55 + ["b"] * 45)) is None
    assert class_weighting(np.array(["a"] * 80 + ["b"] * 20)) == "balanced"


def test_dense_features_densify_narrow_input_and_project_wide_sparse_input() -> None:
    narrow = sp.random(50, 10, density=0.3, format="csr", random_state=0)
    assert isinstance(DenseFeatures().fit_transform(narrow), np.ndarray)
    wide = sp.random(60, 500, density=0.05, format="csr", random_state=0)
    out = DenseFeatures(max_features=300, n_components=20, random_state=0).fit_transform(wide)
    assert out.shape == (60, 20)
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    assert DenseFeatures().fit_transform(frame).shape == (2, 1)
