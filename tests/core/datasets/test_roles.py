import numpy as np
import pandas as pd
import pytest

from core.datasets.roles import (
    NUMBER_STYLES,
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
    # from 100: not row numbers (0, 1, 2, ... in file order are, whatever the name: see below)
    assert infer_role(pd.Series(np.arange(N) + 100, name="area"))[0] == "numeric"


@pytest.mark.parametrize(
    ("values", "name", "words"),
    [
        (np.arange(N), "column_1", "row numbers (0, 1, 2, … in file order): the file's row index"),
        (np.arange(N), "area", "row numbers (0, 1, 2, … in file order)"),
        (np.arange(1, N + 1), "n", "row numbers (1, 2, 3, … in file order)"),
        (rng.permutation(N), "column_1", "row numbers (0 to 199 in some order, named 'column_1')"),
        (rng.permutation(N) + 1, "Unnamed: 0", "row numbers (1 to 200 in some order"),
        (rng.permutation(N), "Index", "row numbers"),
        (rng.permutation(N), "row number", "row numbers"),
        ([1, 2], "a", "row numbers (1, 2 in file order)"),
    ],
)
def test_row_numbers_are_an_identifier(values, name: str, words: str) -> None:
    role, reason = infer_role(pd.Series(values, name=name))
    assert role == "identifier" and words in reason and reason.endswith("not a pattern")


@pytest.mark.parametrize(
    ("values", "name"),
    [
        (rng.permutation(N), "area"),  # in any order only when named like an index
        (np.arange(2, N + 2), "column_1"),  # from 2
        ([0, 1, 2, 4, 5], "column_1"),  # a gap
        ([0, 0, 2], "column_1"),  # repeated
        ([5, 4, 3, 2, 1], "n"),  # backwards, not named like an index
        ([0.0, 1.0, 2.0, 3.5], "column_1"),
        ([0, 1, 2, None], "column_1"),
    ],
)
def test_numbers_that_are_not_row_numbers_stay_numeric(values, name: str) -> None:
    assert infer_role(pd.Series(values, name=name))[0] == "numeric"


def test_two_rows_numbered_0_and_1_are_still_true_false() -> None:
    assert infer_role(pd.Series([0, 1], name="column_1")) == ("boolean", "two values (0, 1)")


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


@pytest.mark.parametrize(
    ("values", "words", "numbers"),
    [
        (
            ["12%", "7.5 %", "100%", "0%"],
            "percentages like '12%': the '%' dropped, converted to numbers at ingest",
            [12, 7.5, 100, 0],
        ),
        (
            ["$1,234.56", "-$5.00", "$-3", "$ 12"],
            "amounts in '$' like '$1,234.56': the '$' dropped",
            [1234.56, -5, -3, 12],
        ),
        (["€12", "€1.234,5", "€3"], "amounts in '€' like '€12'", [12, 1234.5, 3]),
        (["12 €", "1\u202f234,50 €", "3\u00a0€"], "amounts in '€' like '12 €'", [12, 1234.5, 3]),
        (["£3", "£4.50", "-£1"], "amounts in '£'", [3, 4.5, -1]),
        (["¥100", "¥2500", "¥7"], "amounts in '¥'", [100, 2500, 7]),
    ],
)
def test_percentages_and_amounts_are_numbers_without_their_sign(values, words: str, numbers) -> None:
    frame = pd.DataFrame({"x": values * 10})
    (role,) = infer_roles(frame)
    assert role.role == "numeric" and words in role.reason
    assert role.format in NUMBER_STYLES
    assert apply_conversions(frame, [role.as_dict()])["x"].tolist()[: len(values)] == pytest.approx(numbers)


def test_a_few_values_that_are_not_numbers_count_as_missing_and_signs_are_not_mixed() -> None:
    role, reason = infer_role(pd.Series(["12%"] * 39 + ["unknown"], name="share"))
    assert role == "numeric" and "percentages like '12%'" in reason
    assert "1 value is not a number (e.g. 'unknown') and count as missing" in reason
    role, reason = infer_role(pd.Series(["$5", "€5", "$6", "€7"] * 10, name="price"))
    assert role == "categorical" and "numbers with different signs ('$', '€')" in reason
    assert infer_role(pd.Series(["50% off", "10% off", "free", "new"] * 10, name="offer"))[0] == "categorical"
    role, reason = infer_role(pd.Series([str(i) for i in range(1, 60)] + ["n.a."], name="visits", dtype=object))
    assert (role, reason.split(";")[0]) == ("numeric", "numbers from 1 to 59")  # plain numbers: no style to show


def test_convert_numbers_drops_one_unit_sign() -> None:
    values = pd.Series(["12%", "7.5 %", "-$5.00", "$-5", "+$2", "12 €", "£3", "¥1,000", "$12%", "%", None])
    converted = convert_numbers(values, "1,234,567.5").tolist()
    assert converted[:8] == [12, 7.5, -5, -5, 2, 12, 3, 1000]
    assert all(np.isnan(v) for v in converted[8:])


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


def test_a_year_is_read_as_written_in_its_reason() -> None:
    """Issue 13: penguins' year read "numbers from 2,007 to 2,009"."""
    role, reason = infer_role(pd.Series([2007, 2008, 2009] * 40, name="year"))
    assert (role, reason) == ("numeric", "numbers from 2007 to 2009")
    assert infer_role(pd.Series([12_500, 40_000, 99_000] * 40, name="income"))[1] == "numbers from 12,500 to 99,000"
