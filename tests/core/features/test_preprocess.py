"""The preprocessing ColumnTransformer: the datetime branch and the coercion of inputs."""

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from core.features.preprocess import DatetimeFeatures, build_preprocessor, coerce_inputs

FEATURES = [
    {"name": "size", "role": "numeric"},
    {"name": "colour", "role": "categorical"},
    {"name": "member", "role": "boolean"},
    {"name": "when", "role": "datetime"},
]


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    when = pd.date_range("2023-01-01 08:00", periods=n, freq="37h")
    return pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "colour": rng.choice(["red", "blue"], n),
            "member": rng.choice(["yes", "no"], n),
            "when": when.strftime("%Y-%m-%d %H:%M:%S"),
        }
    )


@parametrize_with_checks([DatetimeFeatures(), DatetimeFeatures(hour=False)])
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


def test_datetime_parts_with_hour_only_where_times_vary() -> None:
    frame = pd.DataFrame(
        {
            "stamp": pd.to_datetime(["2024-01-31 10:00", "2024-02-29 23:30", None]),
            "day": pd.to_datetime(["2024-01-31", "2024-03-01", "2024-03-02"]),
        }
    )
    parts = DatetimeFeatures().fit(frame)
    assert parts.hour_.tolist() == [True, False]
    names = parts.get_feature_names_out().tolist()
    assert names == [
        "stamp_year",
        "stamp_month",
        "stamp_dayofweek",
        "stamp_hour",
        "stamp_days",
        "day_year",
        "day_month",
        "day_dayofweek",
        "day_days",
    ]
    out = parts.transform(frame)
    assert out.shape == (3, 9)
    assert out[0, :5].tolist() == [2024, 1, 2, 10, pytest.approx(19753 + 10 / 24)]
    assert np.isnan(out[2, :5]).all() and out[2, 5:].tolist() == [2024, 3, 5, 19784]


def test_datetime_parts_from_text_columns() -> None:
    out = DatetimeFeatures().fit_transform(pd.DataFrame({"d": ["31/01/2024", "01/02/2024", "junk"]}))
    assert out[:2, :3].tolist() == [[2024, 1, 2], [2024, 2, 3]] and np.isnan(out[2]).all()


def test_coerce_inputs_types_datetimes_and_turns_junk_into_nat() -> None:
    raw = pd.DataFrame(
        {
            "size": ["1.5", "x", None],
            "colour": ["red", None, "blue"],
            "member": [True, False, None],
            "when": ["2024-01-31 10:00:00", "not a date", None],
        }
    )
    typed = coerce_inputs(raw, FEATURES)
    assert typed["when"].dtype == "datetime64[ns]"
    assert typed["when"].iloc[0] == pd.Timestamp("2024-01-31 10:00") and typed["when"].iloc[1:].isna().all()
    assert typed["size"].iloc[0] == 1.5 and np.isnan(typed["size"].iloc[1])
    assert typed["member"].tolist()[:2] == ["true", "false"]


def test_the_datetime_branch_replaces_the_categorical_one() -> None:
    preprocess = build_preprocessor(FEATURES)
    branches = {name: columns for name, _, columns in preprocess.transformers}
    assert branches == {"num": ["size"], "cat": ["colour", "member"], "dt": ["when"]}
    text = build_preprocessor([*FEATURES, {"name": "review", "role": "text"}])
    assert [name for name, *_ in text.transformers] == ["num", "cat", "dt", "text0"]


def test_a_pipeline_with_dates_fits_predicts_and_survives_skops(tmp_path) -> None:
    frame = _frame()
    X = coerce_inputs(frame, FEATURES)
    y = (X["when"].dt.hour >= 12).map({True: "pm", False: "am"}).to_numpy()
    pipeline = Pipeline([("preprocess", build_preprocessor(FEATURES)), ("model", LogisticRegression(max_iter=500))])
    pipeline.fit(X, y)
    names = pipeline[:-1].get_feature_names_out().tolist()
    assert "dt__when_hour" in names and "dt__when_days" in names
    assert pipeline.score(X, y) > 0.8
    blob = skops.io.dumps(pipeline)
    untrusted = skops.io.get_untrusted_types(data=blob)
    assert "core.features.preprocess.DatetimeFeatures" in untrusted
    loaded = skops.io.loads(blob, trusted=untrusted)
    assert (loaded.predict(X) == pipeline.predict(X)).all()
    # an unparsable date at scoring is imputed, not an error
    odd = coerce_inputs(frame.head(2).assign(when=["garbage", None]), FEATURES)
    assert len(loaded.predict(odd)) == 2
