import numpy as np
import pandas as pd
import pytest

from core.datasets.roles import (
    apply_conversions,
    convert_numbers,
    detect_datetime_format,
    detect_number_style,
    infer_role,
    infer_roles,
    parse_datetimes,
)

N = 200
rng = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("values", "role", "words"),
    [
        (rng.normal(size=N), "numeric", "numbers from"),
        (rng.integers(0, 50, size=N), "numeric", "numbers from 0 to"),
        (rng.choice(["red", "green", "blue"], size=N), "categorical", "3 distinct values"),
        (rng.choice(["yes", "no"], size=N), "boolean", "two values (no, yes)"),
        (rng.choice(["True", "false"], size=N), "boolean", "two values"),
        (rng.choice([True, False], size=N), "boolean", "true/false"),
        (rng.choice([0, 1], size=N), "boolean", "two values (0, 1)"),
        (rng.choice([0.0, 1.0, np.nan], size=N), "boolean", "two values (0, 1)"),
        ([f"this is a fairly long sentence number {i} about things" for i in range(N)], "text", "free text"),
        ([f"short review {i} with five words" for i in range(N)], "text", "free text"),
        ([f"A{i:05d}" for i in range(N)], "identifier", "different short value on every row"),
        (["same"] * N, "constant", "only one value ('same')"),
        ([7] * N, "constant", "only one value (7)"),
        ([np.nan] * N, "constant", "every value is missing"),
        ([None] * N, "constant", "every value is missing"),
        (pd.date_range("2024-01-01", periods=N, freq="D").strftime("%Y-%m-%d"), "datetime", "dates like"),
        (pd.date_range("2024-01-01", periods=N, freq="h").strftime("%Y-%m-%d %H:%M"), "datetime", "dates and times"),
        (pd.date_range("2024-01-01", periods=N, freq="D").strftime("%d/%m/%Y"), "datetime", "day first"),
        (pd.date_range("2024-01-01", periods=N, freq="D").strftime("%m/%d/%Y"), "datetime", "month first"),
        (pd.date_range("2024-01-01", periods=N, freq="D").strftime("%d.%m.%Y"), "datetime", "day first"),
        (pd.date_range("2024-01-01", periods=N, freq="D").strftime("%d %b %Y"), "datetime", "month name"),
        (pd.date_range("2024-01-01", periods=N, freq="D"), "datetime", "dates"),
        ([f"{v:,}" for v in rng.integers(1000, 10**7, size=N)], "numeric", "converted to numbers at ingest"),
    ],
)
def test_infer_role_with_reason(values, role: str, words: str) -> None:
    inferred, reason = infer_role(pd.Series(values, name="col"))
    assert inferred == role
    assert words in reason


def test_unique_integers_are_an_identifier_only_when_named_like_one() -> None:
    assert infer_role(pd.Series(np.arange(N), name="customer_id"))[0] == "identifier"
    assert infer_role(pd.Series(np.arange(N), name="area"))[0] == "numeric"


def test_infer_roles_keeps_order_names_dtype_and_format() -> None:
    frame = pd.DataFrame(
        {
            "when": ["2024-01-31", "2024-02-29", None, "2024-03-31"] * 10,
            "amount": ["1,234.5", "12", "1,000,000", None] * 10,
            "size": [1.5, 2.5, 3.5, 4.5] * 10,
        }
    )
    roles = infer_roles(frame)
    assert [r.name for r in roles] == ["when", "amount", "size"]
    assert [r.role for r in roles] == ["datetime", "numeric", "numeric"]
    assert roles[0].format == "ISO8601" and roles[1].format == "1,234,567.5" and roles[2].format is None
    assert "format" not in roles[2].as_dict() and roles[1].as_dict()["format"] == "1,234,567.5"


@pytest.mark.parametrize(
    ("values", "style", "numbers"),
    [
        (["1,234,567", "12", "-3,000.5"], "1,234,567.5", [1234567, 12, -3000.5]),
        (["1.234.567,5", "2.000", "3,25"], "1.234.567,5", [1234567.5, 2000, 3.25]),
        (["1 234 567", "12,5", "999"], "1 234 567,5", [1234567, 12.5, 999]),
        (["1\u00a0234,5", "12"], "1 234 567,5", [1234.5, 12]),
        (["1'234'567.25", "3.5"], "1'234'567.5", [1234567.25, 3.5]),
        (["12,5", "3,25", "7"], "1234567,5", [12.5, 3.25, 7]),
    ],
)
def test_thousands_separators_are_recognised_and_converted(values, style, numbers) -> None:
    found, ambiguous = detect_number_style(values)
    assert found == style and not ambiguous
    assert convert_numbers(pd.Series(values), style).tolist() == numbers


def test_ambiguous_separators_are_left_as_text_with_the_reason() -> None:
    assert detect_number_style(["1,234", "5,678", "999"]) == (None, True)
    role, reason = infer_role(pd.Series(["1,234", "5,678", "999", "2,000"] * 10, name="x"))
    assert role == "categorical" and "ambiguous" in reason
    assert detect_number_style(["12 apples", "3"]) == (None, False)


def test_whole_numbers_with_separators_become_integers_and_missing_stays_missing() -> None:
    assert convert_numbers(pd.Series(["1,000", "2,500"]), "1,234,567.5").dtype == "int64"
    mixed = convert_numbers(pd.Series(["1,000", None, "2,500"]), "1,234,567.5")
    assert mixed.dtype == "float64" and mixed.isna().tolist() == [False, True, False]


def test_day_first_wins_when_day_and_month_cannot_be_told_apart() -> None:
    assert detect_datetime_format(pd.Series(["01/02/2024", "03/04/2024"]))[0] == "%d/%m/%Y"
    assert detect_datetime_format(pd.Series(["01/13/2024", "03/04/2024"]))[0] == "%m/%d/%Y"
    assert detect_datetime_format(pd.Series(["2024", "red"])) is None


def test_parse_datetimes_reads_formats_offsets_and_turns_junk_into_nat() -> None:
    parsed = parse_datetimes(pd.Series(["31/01/2024 10:30", "junk", None, "01/02/2024 23:00"]))
    assert parsed.dtype == "datetime64[ns]"
    assert parsed.iloc[0] == pd.Timestamp("2024-01-31 10:30") and parsed.iloc[3] == pd.Timestamp("2024-02-01 23:00")
    assert parsed.isna().tolist() == [False, True, True, False]
    utc = parse_datetimes(pd.Series(["2024-01-31T10:00:00+02:00", "2024-01-31T10:00:00Z"]))
    assert utc.tolist() == [pd.Timestamp("2024-01-31 08:00"), pd.Timestamp("2024-01-31 10:00")]


def test_a_few_values_that_are_not_dates_are_tolerated_and_kept() -> None:
    values = [*pd.date_range("2024-01-01", periods=99, freq="D").strftime("%d/%m/%Y"), "unknown"]
    frame = pd.DataFrame({"when": values})
    (role,) = infer_roles(frame)
    assert role.role == "datetime" and "1 values are not dates" in role.reason
    stored = apply_conversions(frame, [role.as_dict()])
    assert stored["when"].iloc[0] == "2024-01-01" and stored["when"].iloc[-1] == "unknown"
    assert frame["when"].iloc[0] == "01/01/2024"  # the frame read is left alone


def test_conversions_follow_the_final_role() -> None:
    frame = pd.DataFrame({"n": ["1,234", "12,000,000"], "d": ["31/01/2024 10:00", "01/02/2024 11:00"]})
    roles = [r.as_dict() for r in infer_roles(frame)]
    stored = apply_conversions(frame, roles)
    assert stored["n"].tolist() == [1234, 12_000_000]
    assert stored["d"].tolist() == ["2024-01-31 10:00:00", "2024-02-01 11:00:00"]
    kept = apply_conversions(frame, [{"name": "n", "role": "categorical"}, {"name": "d", "role": "text"}])
    assert kept["n"].tolist() == ["1,234", "12,000,000"] and kept["d"].tolist() == frame["d"].tolist()


def test_large_columns_count_exactly_where_it_matters() -> None:
    n = 300_000
    ids = pd.Series([f"k{i}" for i in range(n)], name="key")
    assert infer_role(ids)[0] == "identifier"
    almost_constant = pd.Series(["a"] * (n - 1) + ["b"], name="flag")
    assert infer_role(almost_constant)[0] == "categorical"
    many = pd.Series(rng.choice([f"city {i}" for i in range(30)], n), name="city")
    role, reason = infer_role(many)
    assert role == "categorical" and "30 distinct values in a sample of 100,000 rows" in reason
