"""Drift from the reference profile: the same scores and verdicts as Evidently's methods on the rows.

Real tables (palmerpenguins, rice and mushrooms under data/demo, scikit-learn's diabetes and digits),
halves drawn at random (nothing moved) and split by something that moves them (a class, a measure),
small windows (tests) and large ones (distances); few-valued numbers, booleans, missing values, an
unseen category, a date, a column with one value, and methods an analyst chose.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins
from sklearn.datasets import load_diabetes, load_digits
from sqlalchemy import func, select

from core.config import REPO_ROOT
from core.db.models import ReferenceProfile
from core.monitoring.drift import compute_drift
from core.monitoring.profile import LAYOUT, Profile, build_profile
from core.monitoring.reference import forget_cached, reference_profile, store_profile, training_data
from tests.core.monitoring.conftest import PENGUINS_FEATURES

DEMO = REPO_ROOT / "data" / "demo"
MUSHROOMS = ["cap-color", "bruises", "odor", "veil-type", "population", "habitat", "stalk-root"]


def same_as_evidently(reference: pd.DataFrame, current: pd.DataFrame, features: list[dict], options=None):
    """Measure with a stored profile (its bytes read back) and with Evidently on the rows; every
    column's method, threshold, score, effect and verdict, the share, skips and findings agree."""
    profile = Profile.from_bytes(build_profile(reference, features).to_bytes())
    ours = compute_drift(reference, current, features, profile=profile, options=options)
    theirs = compute_drift(reference, current, features, options=options, engine="evidently")
    assert list(ours.columns) == list(theirs.columns)
    for name, their in theirs.columns.items():
        our = ours.columns[name]
        assert (our.method, our.method_label, our.threshold, our.tested_as) == (
            their.method,
            their.method_label,
            their.threshold,
            their.tested_as,
        ), name
        assert our.score == pytest.approx(their.score, rel=1e-9, abs=1e-15), name
        assert our.effect == pytest.approx(their.effect, rel=1e-9, abs=1e-15), name
        assert (our.drifted, our.note) == (their.drifted, their.note), name
    assert (ours.drift_share, ours.dataset_drift) == (theirs.drift_share, theirs.dataset_drift)
    assert (ours.skipped, ours.quality) == (theirs.skipped, theirs.quality)
    assert (ours.reference_rows, ours.current_rows) == (theirs.reference_rows, theirs.current_rows)
    return ours


def _halves(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    first = frame.sample(frac=0.5, random_state=seed)
    return first, frame.drop(first.index)


def test_penguins_small_windows_few_valued_year_and_missing_values() -> None:
    frame = load_penguins()
    reference, rest = _halves(frame)
    calm = same_as_evidently(reference, rest, PENGUINS_FEATURES)
    assert calm.drifted == [] and calm.columns["year"].method == "chisquare" and calm.columns["sex"].method == "z"

    moved = frame[frame["species"] != "Adelie"].copy()  # other species: other islands, longer bills
    moved.loc[moved.index[:3], "island"] = "Atlantis"  # unseen: data quality, left out of the comparison
    shifted = same_as_evidently(reference, moved, PENGUINS_FEATURES)
    assert {"island", "bill_length_mm"} <= set(shifted.drifted)
    assert shifted.quality["island"]["unseen"] == 3


def _rice_with_dates(seed: int) -> pd.DataFrame:
    frame = pd.read_csv(DEMO / "rice_cammeo_osmancik.csv")
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 900, len(frame)) + np.where(frame["Class"] == "Cammeo", 200, 0)  # Cammeo later
    frame["measured_on"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(days, unit="D")
    frame.loc[rng.choice(len(frame), 40, replace=False), "measured_on"] = pd.NaT
    return frame


RICE = [
    {"name": n, "role": "numeric"}
    for n in ("Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent")
] + [{"name": "measured_on", "role": "datetime"}]


def test_rice_large_and_small_windows_with_a_date() -> None:
    frame = _rice_with_dates(1)
    reference, rest = _halves(frame, seed=2)
    calm = same_as_evidently(reference, rest, RICE)  # 1,905 rows each: the distances
    assert calm.drifted == [] and calm.columns["measured_on"].method == "wasserstein"

    cammeo = frame[frame["Class"] == "Cammeo"]
    large = same_as_evidently(reference, cammeo, RICE)
    assert {"Area", "measured_on"} <= set(large.drifted)
    small = same_as_evidently(reference, cammeo.sample(300, random_state=3), RICE)  # the K-S test
    assert small.columns["Area"].method == "ks" and "Area" in small.drifted


def test_rice_with_methods_and_thresholds_an_analyst_chose() -> None:
    frame = _rice_with_dates(4)
    reference, rest = _halves(frame, seed=5)
    moved = rest[rest["Class"] == "Osmancik"]
    options = {
        "Area": {"threshold": 0.3},  # Evidently's own choice of method, computed here
        "Perimeter": {"method": "ks"},  # a test on a large window: a real but small change is not drift
        "Extent": {"method": "jensenshannon"},  # a number's Jensen-Shannon: Sturges bins
        "Eccentricity": {"method": "psi"},  # not computed here: Evidently's, on the rows
        "Convex_Area": {"method": "jensenshannon", "threshold": 0.05},
    }
    result = same_as_evidently(reference, moved, RICE, options)
    methods = {name: c.method for name, c in result.columns.items()}
    assert (methods["Area"], methods["Perimeter"], methods["Extent"], methods["Eccentricity"]) == (
        "wasserstein",
        "ks",
        "jensenshannon",
        "psi",
    )
    assert result.snapshot is None  # the report is built only when asked for
    assert "Jensen-Shannon distance" in result.html()


def test_mushrooms_categories_booleans_one_value_and_an_unseen_category() -> None:
    frame = pd.read_csv(DEMO / "mushrooms.csv")
    features = [{"name": n, "role": "boolean" if n == "bruises" else "categorical"} for n in MUSHROOMS]
    reference, rest = _halves(frame, seed=6)
    window = rest.copy()
    window.loc[window.index[:5], "habitat"] = "moon"
    calm = same_as_evidently(reference, window, features)  # 4,062 rows: Jensen-Shannon
    assert calm.drifted == [] and calm.columns["bruises"].method == "jensenshannon"
    assert calm.skipped["veil-type"].startswith("one value in the training data (p)")
    assert calm.quality == {"habitat": {"unseen": 5, "unseen_share": 5 / len(window), "examples": ["moon"]}}

    poisonous = frame[frame["class"] == "p"].sample(400, random_state=7)  # chi-square and the Z-test
    shifted = same_as_evidently(reference, poisonous, features)
    assert shifted.columns["bruises"].method == "z" and {"bruises", "odor"} <= set(shifted.drifted)


def test_scikit_learn_tables_two_valued_numbers_and_few_valued_pixels() -> None:
    diabetes = load_diabetes(as_frame=True).frame
    features = [{"name": n, "role": "numeric"} for n in diabetes.columns if n != "target"]
    reference, rest = _halves(diabetes, seed=8)
    assert same_as_evidently(reference, rest, features).columns["sex"].method == "z"
    heavy = same_as_evidently(reference, diabetes.nlargest(200, "bmi"), features)
    assert "bmi" in heavy.drifted

    digits = load_digits(as_frame=True).frame
    pixels = [{"name": f"pixel_{r}_{c}", "role": "numeric"} for r in (0, 3, 5) for c in (0, 2, 4, 6)]
    reference, rest = _halves(digits, seed=9)
    calm = same_as_evidently(reference, rest, pixels)
    assert calm.skipped and calm.drifted == []  # pixel_0_0 is always 0: one value
    high = digits[digits["target"] >= 5]
    options = {"pixel_3_2": {"method": "jensenshannon"}}  # a number of 17 values: over its values
    shifted = same_as_evidently(reference, high, pixels, options)
    assert shifted.drifted and shifted.columns["pixel_3_2"].method == "jensenshannon"


def test_a_large_training_column_is_profiled_as_a_seeded_sample_and_says_so() -> None:
    rng = np.random.default_rng(10)
    reference = pd.DataFrame({"x": rng.normal(size=5000), "n": rng.integers(0, 40, 5000).astype(float)})
    features = [{"name": "x", "role": "numeric"}, {"name": "n", "role": "numeric"}]
    profile = build_profile(reference, features, cap=1000)
    assert profile.sampled == {"x": 5000} and profile.columns["x"].present == 1000
    assert profile.columns["n"].sampled_from is None and profile.columns["n"].present == 5000  # 40 values: exact
    assert profile.columns["x"].std == pytest.approx(float(np.std(reference["x"])), rel=1e-12)  # of every value
    assert build_profile(reference, features, cap=1000).to_bytes() == profile.to_bytes()  # seeded: the same

    current = pd.DataFrame({"x": rng.normal(size=2000), "n": rng.integers(0, 40, 2000).astype(float)})
    result = compute_drift(None, current, features, profile=profile)
    assert result.notes == ["The training values of x (1,000 of 5,000) are compared as a seeded sample."]
    assert result.drifted == []


def test_a_versions_profile_is_stored_once_and_read_back_from_the_database(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        built = reference_profile(session=session, settings=trained_settings, dataset="rice", version=1)
    with trained_sessions.begin() as session:
        (row,) = session.scalars(select(ReferenceProfile)).all()
        assert (row.dataset, row.model_version, row.rows, row.layout) == ("rice", 1, 3810 - 762, LAYOUT)
        assert built.rows == row.rows and len(row.profile) < 200_000
        assert Profile.from_bytes(row.profile).columns["Area"].present == built.columns["Area"].present
        # what a new process finds is the stored row, not the training data profiled again
        train = training_data(session=session, settings=trained_settings, dataset="rice", version=1)
        row.profile = build_profile(train.train.head(500), train.features).to_bytes()
    forget_cached()
    with trained_sessions() as session:
        assert reference_profile(session=session, settings=trained_settings, dataset="rice", version=1).rows == 500


def test_two_processes_storing_the_same_profile_keep_the_first(trained_settings, trained_sessions) -> None:
    """The second writer's insert fails on the unique (dataset, version): it reads and keeps the first's."""
    with trained_sessions.begin() as session:
        train = training_data(session=session, settings=trained_settings, dataset="rice", version=1)
        first = build_profile(train.train.head(500), train.features)
        assert store_profile(session=session, dataset="rice", version=1, profile=first) is first
    with trained_sessions.begin() as session:
        whole = build_profile(train.train, train.features)
        kept = store_profile(session=session, dataset="rice", version=1, profile=whole)
        assert kept.rows == 500 and session.scalar(select(func.count()).select_from(ReferenceProfile)) == 1
