"""Per-feature drift with real Evidently: shifted columns are found, unshifted ones are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import WindowTooSmall
from core.monitoring.drift import compute_drift

FEATURES = [
    {"name": "income", "role": "numeric"},
    {"name": "age", "role": "numeric"},
    {"name": "tenure", "role": "numeric"},
    {"name": "score", "role": "numeric"},
    {"name": "plan", "role": "categorical"},
    {"name": "region", "role": "categorical"},
    {"name": "member", "role": "boolean"},
    {"name": "joined", "role": "datetime"},
]
PLAN_MIX = {"basic": 0.5, "plus": 0.3, "pro": 0.2}


def generate(n: int, seed: int, *, shifted: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mix = {"basic": 0.2, "plus": 0.3, "pro": 0.5} if shifted else PLAN_MIX
    frame = pd.DataFrame(
        {
            "income": rng.normal(50_000, 12_000, n) + (12_000 if shifted else 0),  # one standard deviation
            "age": rng.normal(40, 10, n) + (10 if shifted else 0),  # one standard deviation
            "tenure": rng.gamma(2.0, 3.0, n),
            "score": rng.uniform(0, 1, n),
            "plan": rng.choice(list(mix), n, p=list(mix.values())),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "member": rng.choice(["true", "false"], n, p=[0.3, 0.7]),
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D"),
        }
    )
    frame.loc[rng.choice(n, n // 50, replace=False), "tenure"] = np.nan  # missing values are fine
    return frame


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate(5000, seed=1)


def test_two_shifted_numbers_and_a_changed_mix_are_exactly_the_drifted_columns(reference) -> None:
    result = compute_drift(reference, generate(2000, seed=2, shifted=True), FEATURES)
    assert result.drifted == ["income", "age", "plan"]
    assert result.drift_share == pytest.approx(3 / 8)
    assert result.dataset_drift is False  # below the default share of 0.5
    assert (result.reference_rows, result.current_rows) == (5000, 2000)
    income, plan = result.columns["income"], result.columns["plan"]
    assert (income.method, income.threshold, plan.method) == ("wasserstein", 0.1, "jensenshannon")
    assert income.score > income.threshold and result.columns["region"].score < 0.1
    assert result.columns["member"].role == "boolean" and result.columns["joined"].method == "wasserstein"


def test_a_batch_from_the_reference_distribution_flags_nothing(reference) -> None:
    result = compute_drift(reference, generate(2000, seed=3), FEATURES)
    assert result.drifted == [] and result.drift_share == 0.0 and not result.dataset_drift
    summary = result.as_dict()
    assert summary["rows"] == {"reference": 5000, "current": 2000}
    assert set(summary["columns"]) == {f["name"] for f in FEATURES}
    assert set(summary["columns"]["age"]) == {"drifted", "score", "method", "threshold", "effect"}


def test_per_column_method_and_threshold_go_to_evidently(reference) -> None:
    options = {"age": {"method": "ks", "threshold": 0.01}, "plan": {"threshold": 0.5}, "region": {"method": "psi"}}
    result = compute_drift(reference, generate(2000, seed=2, shifted=True), FEATURES, options=options)
    age, plan, region = result.columns["age"], result.columns["plan"], result.columns["region"]
    assert (age.method, age.threshold, age.method_label) == ("ks", 0.01, "K-S p_value")
    assert age.drifted and age.score < 0.01  # a p-value: drifts below its threshold
    assert (plan.method, plan.threshold, plan.drifted) == ("jensenshannon", 0.5, False)  # raised above its score
    assert region.method == "psi" and not region.drifted
    assert result.drifted == ["income", "age"]


def test_a_small_window_gets_evidentlys_small_sample_tests_unless_a_method_was_chosen(reference) -> None:
    options = {"tenure": {"method": "wasserstein"}, "score": {"threshold": 0.2}}
    result = compute_drift(reference, generate(300, seed=6, shifted=True), FEATURES, options=options)
    methods = {name: column.method for name, column in result.columns.items()}
    assert methods == {
        "income": "ks",
        "age": "ks",
        "tenure": "wasserstein",  # chosen by the analyst
        "score": "wasserstein",  # a threshold was chosen: Evidently's own choice stays
        "plan": "chisquare",
        "region": "chisquare",
        "member": "z",  # two values
        "joined": "ks",
    }
    assert result.columns["income"].threshold == 0.05
    assert {"income", "age", "plan"} <= set(result.drifted)


def test_a_window_below_the_minimum_says_so_instead_of_showing_noise(reference) -> None:
    with pytest.raises(WindowTooSmall, match=r"Only 99 predictions in this window: drift needs at least 100"):
        compute_drift(reference, generate(99, seed=4), FEATURES)
    assert compute_drift(reference, generate(40, seed=4), FEATURES, min_rows=30).current_rows == 40


def test_a_column_without_values_in_the_window_is_left_out_with_the_reason(reference) -> None:
    current = generate(500, seed=5)
    current["score"] = np.nan
    result = compute_drift(reference, current, FEATURES)
    assert "score" not in result.columns and result.skipped == {"score": "no values in this window"}
    assert result.as_dict()["skipped"] == {"score": "no values in this window"}


def test_evidently_is_not_imported_until_drift_is_measured() -> None:
    import subprocess
    import sys

    from core.config import REPO_ROOT

    code = (
        "import sys, core.cli, core.monitoring.drift, core.monitoring.windows, core.monitoring.alerts, "
        "app.ui.monitor; print('evidently' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
