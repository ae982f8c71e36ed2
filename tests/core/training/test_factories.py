"""Every candidate Pipeline can be the winner: it fits, registers in MLflow and loads back."""

from __future__ import annotations

import numpy as np
import pytest

from core import registry
from core.features import coerce_inputs
from core.training.factories import BASELINES, XGBOOST, estimator_params, make_xgboost
from tests.core.training.conftest import reviews_frame

FEATURES = [{"name": "review", "role": "text"}, {"name": "stars", "role": "numeric"}]


@pytest.mark.parametrize("name", [XGBOOST, *BASELINES])
def test_candidate_registers_and_loads_back(settings, name: str) -> None:
    frame = reviews_frame(120)
    frame["stars"] = np.where(frame["label"] == 1, 4.0, 2.0) + np.random.default_rng(0).normal(size=len(frame))
    X, y = coerce_inputs(frame, FEATURES), frame["label"].to_numpy()
    pipeline = make_xgboost(FEATURES, {"n_estimators": 20}) if name == XGBOOST else BASELINES[name].make(FEATURES, 0)
    if "dense" in pipeline.named_steps:  # force the projection of wide sparse input
        pipeline.set_params(dense__max_features=5, dense__n_components=3)
    assert not hasattr(pipeline.named_steps["model"], "classes_")  # factories return unfitted estimators
    pipeline.fit(X, y)
    assert estimator_params(pipeline)
    info = registry.register_model(
        settings,
        name="reviews",
        model=pipeline,
        input_example=X.head(3),
        params={"estimator": name},
        metrics={},
        tags={},
        documents={},
    )
    loaded = registry.load_model(settings, "reviews", info.version)
    assert list(loaded.classes_) == [0, 1]
    np.testing.assert_allclose(loaded.predict_proba(X), pipeline.predict_proba(X))
