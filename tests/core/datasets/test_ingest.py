from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, inspect, select

from core.config import DEMO_DIR
from core.contract import build_contract, check_inputs
from core.datasets.reading import DEFAULT_MISSING_MARKERS
from core.datasets.versions import get_version, ingest, list_versions, load_frame
from core.db.models import DatasetVersion
from core.errors import ColumnError, InputFileError, InvalidName, TargetError
from tests.conftest import RICE


def _count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(DatasetVersion))


def _stored(sessions) -> tuple[int, list[str]]:
    """How many versions, and which rows tables, the database holds."""
    tables = [t for t in inspect(sessions.kw["bind"]).get_table_names() if t.startswith("dataset_rows_")]
    return _count(sessions), sorted(tables)


def _ingest(sessions, path: Path, name: str = "data", target: str = "Class", **kwargs):
    with sessions.begin() as session:
        version, created = ingest(session=session, path=path, name=name, target=target, **kwargs)
    with sessions() as session:
        frame = load_frame(session=session, version=version)
    return version, created, frame


def test_rice_ingests_with_numeric_features_and_rows_round_trip(sessions) -> None:
    with sessions.begin() as session:
        version, created = ingest(session=session, path=RICE, name="rice", target="Class")
    assert created and version.version == 1 and version.row_count == 3810
    assert version.roles["Class"] == "target"
    assert {r for c, r in version.roles.items() if c != "Class"} == {"numeric"}
    with sessions() as session:
        frame = load_frame(session=session, version=get_version(session=session, name="rice"))
    assert frame.shape == (3810, 8)
    assert frame["Class"].value_counts().to_dict() == {"Osmancik": 2180, "Cammeo": 1630}
    assert frame["Area"].dtype.kind == "i"


def test_same_file_twice_is_one_version_and_a_changed_file_is_a_new_one(sessions, tmp_path: Path) -> None:
    with sessions.begin() as session:
        first, _ = ingest(session=session, path=RICE, name="rice", target="Class")
    with sessions.begin() as session:
        again, created = ingest(session=session, path=RICE, name="rice", target="Class")
    assert not created and again.id == first.id
    changed = tmp_path / "rice.csv"
    changed.write_text("".join(RICE.read_text().splitlines(keepends=True)[:-1]))
    with sessions.begin() as session:
        second, created = ingest(session=session, path=changed, name="rice", target="Class")
    assert created and second.version == 2 and second.row_count == 3809
    with sessions() as session:
        assert [v.version for v in list_versions(session=session, name="rice")] == [2, 1]


def test_role_override_is_stored_with_the_version(sessions) -> None:
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=RICE, name="rice", target="Class", roles={"Extent": "constant"})
    entry = next(c for c in version.columns if c["name"] == "Extent")
    assert entry["role"] == "constant" and "set by you" in entry["reason"]


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"", InputFileError, "is empty"),
        (b"a,b,Class\n", InputFileError, "no rows"),
        (b"a,a,Class\n1,2,x\n", ColumnError, "duplicate column"),
        (b"a, a ,Class\n1,2,x\n", ColumnError, "duplicate column"),
        (b"PK\x03\x04rest-of-a-zip", InputFileError, "Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, InputFileError, r"Excel workbook \(\.xls\)"),
        (b"a,b\n\x00\x01\x02,\x03\n", InputFileError, "not a text file"),
        (b"a,b\n" + b"1,x\n" * 20, ColumnError, "'Class' is not in the file"),
        (b"a,Class\n" + b"1,x\n" * 20, TargetError, "at least two"),
        (b"a,Class\n" + b"1,\n" * 20, TargetError, "at least two"),
        (b"a,Class\n" + b"1,x\n" * 20 + b"2,y\n", TargetError, "too few rows"),
        (
            b"id,Class\n" + b"".join(b"%d,%s\n" % (i, b"xy"[i % 2 : i % 2 + 1]) for i in range(20)),
            ColumnError,
            "No column",
        ),
        (b"a,b,Class\n,,\n,,\n", InputFileError, "header but no rows"),
        (
            b"# exported 2024-01-01\n# source: crm\na,b,Class\n1,2,x\n",
            InputFileError,
            "2 lines that look like comments",
        ),
    ],
    ids=[
        "empty",
        "header only",
        "duplicate names",
        "duplicate after stripping",
        "xlsx",
        "xls",
        "binary",
        "target missing",
        "one class",
        "target all missing",
        "rare class",
        "no feature",
        "only empty rows",
        "comment lines",
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(sessions, tmp_path: Path, content, error, words) -> None:
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
    before = _stored(sessions)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    for name in ("bad", "rice"):  # a new dataset, and a new version of an existing one
        with pytest.raises(error, match=words), sessions.begin() as session:
            ingest(session=session, path=path, name=name, target="Class")
    assert _stored(sessions) == before


def test_bad_names_and_roles_are_refused(sessions, tmp_path: Path) -> None:
    with pytest.raises(InvalidName, match="not a valid dataset name"), sessions.begin() as session:
        ingest(session=session, path=RICE, name="../etc", target="Class")
    with pytest.raises(ColumnError, match=r"'Areaa'.*Columns are"), sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class", roles={"Areaa": "numeric"})
    with pytest.raises(ColumnError, match="Unknown roles"), sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class", roles={"Area": "number"})
    assert _stored(sessions) == (0, [])


def test_missing_file_and_wrong_target_are_refused(sessions, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"), sessions.begin() as session:
        ingest(session=session, path=tmp_path / "nope.csv", name="x", target="Class")
    with pytest.raises(ColumnError, match="'Klass' is not in the file"), sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Klass")
    assert _count(sessions) == 0


def test_a_refusal_leaves_earlier_versions_untouched(sessions, tmp_path: Path) -> None:
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputFileError), sessions.begin() as session:
        ingest(session=session, path=empty, name="rice", target="Class")
    with sessions() as session:
        assert [v.version for v in list_versions(session=session)] == [1]
        assert len(load_frame(session=session, version=get_version(session=session, name="rice"))) == 3810


def test_hostile_column_names_round_trip(sessions, tmp_path: Path) -> None:
    names = ['quote"d', "semi;colon", "DROP TABLE predictions", "ünïcödé", "Class"]
    path = tmp_path / "hostile.csv"
    header = ",".join('"' + n.replace('"', '""') + '"' for n in names)
    rows = "\n".join(f"{i},{i % 3},{i * 2},{i % 5},{'ab'[i % 2]}" for i in range(40))
    path.write_text(header + "\n" + rows + "\n")
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=path, name="hostile", target="Class")
    with sessions() as session:
        frame = load_frame(session=session, version=version)
    assert list(frame.columns) == names
    assert len(frame) == 40


def test_hostile_header_with_a_line_break_and_a_sql_comment_round_trips(sessions, tmp_path: Path) -> None:
    names = ["line\nbreak", "x -- comment", "'; DROP TABLE dataset_versions; --", "c0", "row_id", "Class"]
    header = ",".join('"' + n.replace('"', '""') + '"' for n in names)
    rows = "\n".join(f"{i},{i % 3},v{i % 4},{i * 2},{i},{'ab'[i % 2]}" for i in range(40))
    path = tmp_path / "hostile.csv"
    path.write_text(header + "\n" + rows + "\n")
    version, _, frame = _ingest(sessions, path, name="hostile")
    assert list(frame.columns) == names and list(version.roles) == names
    assert frame["row_id"].tolist() == list(range(40)) and frame["c0"].tolist() == [i * 2 for i in range(40)]
    assert _count(sessions) == 1


@pytest.mark.parametrize(
    ("demo", "target", "expected"),
    [
        ("rice_cammeo_osmancik.csv", "Class", {"numeric": 7}),
        ("mushrooms.csv", "class", {"categorical": 20, "boolean": 1, "constant": 1}),
        ("sentiment_sentences.csv", "label", {"text": 1}),
    ],
)
def test_bundled_demo_datasets_ingest_with_the_right_roles(sessions, demo: str, target: str, expected) -> None:
    version, created, frame = _ingest(sessions, DEMO_DIR / demo, name=demo.split("_")[0].split(".")[0], target=target)
    assert created and version.roles[target] == "target"
    counts = pd.Series([r for c, r in version.roles.items() if c != target]).value_counts().to_dict()
    assert counts == expected
    if demo == "mushrooms.csv":
        assert version.roles["veil-type"] == "constant" and version.roles["bruises"] == "boolean"
        # '?' marks a missing stalk root
        assert frame["stalk-root"].isna().sum() == 2480 and "?" not in set(frame["stalk-root"].dropna())
        assert len(frame) == 8124
    if demo == "sentiment_sentences.csv":
        assert version.roles["text"] == "text" and len(frame) == 3000


def test_missing_markers_are_stored_and_a_changed_list_is_a_new_version(sessions, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "n,c,Class\n"
        + "".join(f"{'-' if i % 5 == 0 else i},{'?' if i % 3 else 'x'},{'ab'[i % 2]}\n" for i in range(40))
    )
    first, created, frame = _ingest(sessions, path)
    assert created and first.missing_markers == list(DEFAULT_MISSING_MARKERS)
    assert frame["c"].isna().sum() == 26 and first.roles["n"] == "categorical"  # '-' is a value here
    again, created, _ = _ingest(sessions, path)
    assert not created and again.id == first.id
    changed, created, frame = _ingest(sessions, path, missing_markers=["", "-"])
    assert created and changed.version == 2 and changed.missing_markers == ["", "-"]
    assert changed.roles["n"] == "numeric" and frame["n"].isna().sum() == 8
    assert frame["c"].isna().sum() == 0 and set(frame["c"]) == {"?", "x"}


def test_thousands_and_dates_are_converted_at_ingest_and_the_reason_says_so(sessions, tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    frame = pd.DataFrame(
        {
            "amount": [f"{v:,}" for v in np.arange(40) * 250_000 + 1000],
            "eu_amount": [
                f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for v in np.arange(40) * 1234.5
            ],
            "day": days.strftime("%d/%m/%Y"),
            "stamp": (days + pd.Timedelta(hours=9, minutes=30)).strftime("%Y-%m-%d %H:%M"),
            "Class": ["a", "b"] * 20,
        }
    )
    path = tmp_path / "conv.csv"
    frame.to_csv(path, index=False, sep=";")
    version, _, stored = _ingest(sessions, path)
    entries = {c["name"]: c for c in version.columns}
    assert entries["amount"]["role"] == "numeric" and "converted to numbers at ingest" in entries["amount"]["reason"]
    assert entries["amount"]["format"] == "1,234,567.5" and entries["amount"]["dtype"] == "int64"
    assert stored["amount"].tolist()[:2] == [1000, 251_000]
    assert entries["eu_amount"]["format"] == "1.234.567,5" and stored["eu_amount"].iloc[3] == pytest.approx(3703.5)
    assert entries["day"]["role"] == "datetime" and "day first" in entries["day"]["reason"]
    assert stored["day"].tolist()[:2] == ["2024-01-01", "2024-01-02"]
    assert stored["stamp"].iloc[0] == "2024-01-01 09:30:00"


def test_overrides_are_stored_and_change_conversions(sessions, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "amount,code,when,Class\n"
        + "".join(f'"{i},{i:03d},000",{i % 7},2024-01-{i % 28 + 1:02d},{"ab"[i % 2]}\n' for i in range(1, 41))
    )
    version, _, stored = _ingest(
        sessions, path, roles={"amount": "categorical", "code": "categorical", "when": "datetime"}
    )
    entries = {c["name"]: c for c in version.columns}
    assert entries["amount"]["role"] == "categorical" and "format" not in entries["amount"]
    assert "set by you (inferred: numeric" in entries["amount"]["reason"]
    assert stored["amount"].iloc[0] == "1,001,000"
    assert entries["code"]["reason"].startswith("set by you (inferred: numeric")
    assert "set by you" not in entries["when"]["reason"]  # same as inferred
    again, created, _ = _ingest(sessions, path, roles={"amount": "categorical", "code": "categorical"})
    assert not created and again.id == version.id
    other, created, _ = _ingest(sessions, path)
    assert created and other.version == 2 and other.roles["amount"] == "numeric"


def test_override_to_datetime_converts_the_dates(sessions, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    dates = pd.date_range("2024-03-01", periods=40, freq="D").strftime("%d.%m.%Y")
    pd.DataFrame({"when": dates, "Class": ["a", "b"] * 20}).to_csv(path, index=False)
    version, _, stored = _ingest(sessions, path, roles={"when": "datetime"})
    assert version.roles["when"] == "datetime" and stored["when"].iloc[0] == "2024-03-01"


def test_progress_goes_from_zero_to_one(sessions, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    pd.DataFrame({"x": np.arange(120_000), "y": np.arange(120_000) % 7, "Class": ["a", "b", "c"] * 40_000}).to_csv(
        path, index=False
    )
    seen: list[float] = []
    _, _, frame = _ingest(sessions, path, progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and len(seen) > 3
    assert seen == sorted(seen)
    assert len(frame) == 120_000 and frame["y"].sum() == (np.arange(120_000) % 7).sum()


def test_a_wide_file_with_a_thousand_columns(sessions, tmp_path: Path) -> None:
    values = np.random.default_rng(1).normal(size=(300, 1000)).round(3)
    frame = pd.DataFrame(values, columns=[f"feature {i}" for i in range(1000)])
    frame["Class"] = ["a", "b", "c"] * 100
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    version, _, stored = _ingest(sessions, path)
    assert version.column_count == 1001 and list(stored.columns) == list(frame.columns)
    assert np.allclose(stored.iloc[:, :1000].to_numpy(), values)


def test_booleans_and_missing_values_round_trip(sessions, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        "flag,n,Class\n"
        + "".join(f"{'true' if i % 2 else 'false'},{'' if i % 4 == 0 else i},{'ab'[i % 2]}\n" for i in range(40))
    )
    version, _, stored = _ingest(sessions, path)
    assert version.roles["flag"] == "boolean" and stored["flag"].dtype == bool
    assert stored["n"].isna().sum() == 10 and stored["n"].dtype == "float64"


def _refused(sessions, tmp_path: Path, frame: pd.DataFrame, target: str) -> str:
    """The refusal of ``frame`` as a file, checking that nothing was stored."""
    path = tmp_path / "refused.csv"
    frame.to_csv(path, index=False)
    before = _stored(sessions)
    with pytest.raises(TargetError) as refusal, sessions.begin() as session:
        ingest(session=session, path=path, name="refused", target=target)
    assert _stored(sessions) == before
    return str(refusal.value)


def test_a_continuous_target_is_refused_in_a_few_words(sessions, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    prices = pd.DataFrame({"size": rng.normal(size=120), "price": rng.uniform(10, 500, 120).round(2)})
    message = _refused(sessions, tmp_path, prices, "price")
    assert message.startswith("Target column 'price' has 120 different numbers in 120 rows: it looks like a quantity")
    assert "regression" in message and "group the values into bands" in message and len(message) < 400
    names = pd.DataFrame({"size": rng.normal(size=120), "name": [f"person {i}" for i in range(120)]})
    message = _refused(sessions, tmp_path, names, "name")
    assert "has 120 different values in 120 rows" in message and len(message) < 400
    # 21 classes in 40 rows: more than 20 and more than half the rows
    few = pd.DataFrame({"size": np.arange(40) % 3, "grade": [i % 21 for i in range(40)]})
    assert "21 different numbers in 40 rows" in _refused(sessions, tmp_path, few, "grade")


def test_rare_classes_are_listed_up_to_five(sessions, tmp_path: Path) -> None:
    labels = ["common"] * 100 + ["other"] * 100 + [f"rare {i}" for i in range(30) for _ in range(1 + i % 3)]
    frame = pd.DataFrame({"size": np.arange(len(labels)) % 7, "kind": labels})
    message = _refused(sessions, tmp_path, frame, "kind")
    assert message.startswith("Target classes with too few rows: 'rare 0' (1 rows), 'rare 3' (1 rows)")
    assert message.count("(1 rows)") == 5 and "and 25 more." in message and len(message) < 400


def test_a_pandas_export_with_its_index_and_empty_last_rows(sessions, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 120),
            "income": rng.normal(3000, 500, 120).round(2),
            "city": rng.choice(["Lyon", "Paris", "Nantes"], 120),
            "bought": rng.choice(["yes", "no"], 120),
        }
    )
    path = tmp_path / "export.csv"
    frame.to_csv(path)  # with the index, under an empty header
    path.write_text(path.read_text() + ",,,,\n,,,,\n")  # the empty rows spreadsheets leave
    version, _, stored = _ingest(sessions, path, target="bought")
    entries = {c["name"]: c for c in version.columns}
    assert entries["column_1"]["role"] == "identifier"
    assert (
        entries["column_1"]["reason"] == "row numbers (0, 1, 2, … in file order): the file's row index, not a pattern"
    )
    assert version.row_count == 120 and len(stored) == 120
    assert entries["age"]["role"] == "numeric" and stored["age"].dtype == "int64"
    assert stored["age"].tolist() == frame["age"].tolist()


def test_percentages_and_amounts_are_numbers_at_ingest_and_when_scoring(sessions, tmp_path: Path) -> None:
    from core.features.preprocess import feature_columns

    rng = np.random.default_rng(6)
    share = rng.integers(0, 100, 40)
    amount = rng.integers(100, 900_000, 40) / 100 * np.where(np.arange(40) % 5 == 0, -1, 1)
    frame = pd.DataFrame(
        {
            "share": [f"{v}%" if i % 2 else f"{v} %" for i, v in enumerate(share)],
            "amount": [f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}" for v in amount],
            "fee": [f"{v} €" for v in share],
            "Class": ["a", "b"] * 20,
        }
    )
    frame.loc[3, "share"] = "unknown"
    path = tmp_path / "units.csv"
    frame.to_csv(path, index=False)
    version, _, stored = _ingest(sessions, path)
    entries = {c["name"]: c for c in version.columns}
    assert [entries[c]["role"] for c in ("share", "amount", "fee")] == ["numeric"] * 3
    assert entries["share"]["reason"].startswith("percentages like ")
    assert "the '%' dropped, converted to numbers at ingest; 1 value is not a number" in entries["share"]["reason"]
    assert entries["amount"]["reason"].startswith("amounts in '$' like ")
    assert entries["fee"]["reason"].startswith("amounts in '€' like ")
    assert stored["share"].isna().tolist() == [i == 3 for i in range(40)]
    assert stored["share"].drop(index=3).tolist() == np.delete(share, 3).tolist()  # 12% is 12
    assert stored["amount"].tolist() == pytest.approx(amount.tolist())
    assert stored["fee"].tolist() == share.tolist() and stored["fee"].dtype == "int64"

    # a file to score, in the training file's style: read alike
    features = feature_columns(version.columns)
    contract = build_contract(stored, features, ["a", "b"])
    rows = pd.DataFrame({"share": ["12%", "7.5 %"], "amount": ["$1,234.50", "-$5"], "fee": ["3 €", "4"]})
    typed, reasons, _ = check_inputs(rows, contract)
    assert reasons.tolist() == ["", ""]
    assert typed["share"].tolist() == [12, 7.5] and typed["amount"].tolist() == [1234.5, -5]
    assert typed["fee"].tolist() == [3, 4]


def test_rows_without_a_label_are_kept_and_counted(sessions, tmp_path: Path) -> None:
    from palmerpenguins import load_penguins

    from core.datasets.versions import unlabelled_rows

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)  # 11 of its 344 rows have no `sex`
    version, created, frame = _ingest(sessions, path, name="penguins", target="sex")
    assert created and version.row_count == 344 and len(frame) == 344  # kept: they may be labelled later
    assert version.unlabelled_rows == 11 and int(frame["sex"].isna().sum()) == 11
    with sessions() as session:
        assert unlabelled_rows(session=session, version=version) == 11
    with sessions.begin() as session:  # a version ingested before the count was kept: counted in its rows
        stored = get_version(session=session, name="penguins")
        stored.columns = [{k: v for k, v in c.items() if k != "unlabelled"} for c in stored.columns]
    with sessions() as session:
        stored = get_version(session=session, name="penguins")
        assert stored.unlabelled_rows is None and unlabelled_rows(session=session, version=stored) == 11
