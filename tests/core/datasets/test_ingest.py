from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.datasets.versions import get_version, ingest, list_versions, load_frame
from core.db.models import DatasetVersion
from core.errors import ColumnError, InputFileError, TargetError
from tests.conftest import RICE


def _count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(DatasetVersion))


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
        (b"PK\x03\x04rest-of-a-zip", InputFileError, "Excel workbook"),
        (b"a,Class\n" + b"1,x\n" * 20, TargetError, "at least two"),
        (b"a,Class\n" + b"1,x\n" * 20 + b"2,y\n", TargetError, "too few rows"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(sessions, tmp_path: Path, content, error, words) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(error, match=words), sessions.begin() as session:
        ingest(session=session, path=path, name="bad", target="Class")
    assert _count(sessions) == 0


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
