import numpy as np
import pandas as pd
import pytest

from core.datasets.roles import infer_role

N = 200
rng = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("values", "role"),
    [
        (rng.normal(size=N), "numeric"),
        (rng.integers(0, 50, size=N), "numeric"),
        (rng.choice(["red", "green", "blue"], size=N), "categorical"),
        (rng.choice(["yes", "no"], size=N), "boolean"),
        (rng.choice([0, 1], size=N), "boolean"),
        ([f"this is a fairly long sentence number {i} about things" for i in range(N)], "text"),
        ([f"A{i:05d}" for i in range(N)], "identifier"),
        (["same"] * N, "constant"),
        ([np.nan] * N, "constant"),
    ],
)
def test_infer_role(values, role: str) -> None:
    inferred, reason = infer_role(pd.Series(values, name="col"))
    assert inferred == role
    assert reason


def test_unique_integers_are_an_identifier_only_when_named_like_one() -> None:
    assert infer_role(pd.Series(np.arange(N), name="customer_id"))[0] == "identifier"
    assert infer_role(pd.Series(np.arange(N), name="area"))[0] == "numeric"
