"""Comparing and deleting dataset versions."""

from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest
from sqlalchemy import inspect

from core.datasets.versions import (
    compare_versions,
    delete_version,
    get_version,
    ingest,
    list_versions,
    load_frame,
    load_target,
)
from core.errors import DatasetNotFound, VersionInUse
from tests.conftest import RICE


def _rows_tables(sessions) -> list[str]:
    return sorted(t for t in inspect(sessions.kw["bind"]).get_table_names() if t.startswith("dataset_rows_"))


def _second_rice(sessions, tmp_path: Path, change) -> int:
    frame = change(pd.read_csv(RICE))
    path = tmp_path / "rice_v2.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        version, created = ingest(session=session, path=path, name="rice", target="Class")
    assert created
    return version.version


def test_compare_reports_schema_and_size_differences(trained_sessions, tmp_path: Path) -> None:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.drop(columns=["Extent"]).head(3000)
        frame["Perimeter"] = frame["Perimeter"].round().astype(int) % 3  # 3 values: still numeric
        frame["Area"] = frame["Area"].astype(str) + "x"  # numbers become text
        frame.insert(0, "batch", ["north", "south"] * 1500)
        return frame

    second = _second_rice(trained_sessions, tmp_path, change)
    with trained_sessions() as session:
        diff = compare_versions(session=session, name="rice", a=1, b=second)
    assert diff.added == [{"name": "batch", "role": "categorical"}]
    assert diff.removed == [{"name": "Extent", "role": "numeric"}]
    assert diff.role_changed == [{"name": "Area", "a": "numeric", "b": "categorical"}]
    assert diff.rows == {"a": 3810, "b": 3000, "change": -810}
    assert diff.columns == {"a": 8, "b": 8, "change": 0}
    assert diff.schema_changed and not diff.same_content
    as_dict = diff.as_dict()
    assert as_dict["schema_changed"] is True and as_dict["target"] == {"a": "Class", "b": "Class"}


def test_compare_a_version_with_itself_and_unknown_versions(trained_sessions) -> None:
    with trained_sessions() as session:
        same = compare_versions(session=session, name="rice", a=1, b=1)
        assert same.same_content and not same.schema_changed and same.rows["change"] == 0
        with pytest.raises(DatasetNotFound, match="'rice' version 9"):
            compare_versions(session=session, name="rice", a=1, b=9)


def test_delete_is_refused_while_a_model_was_trained_on_the_version(trained_settings, trained_sessions) -> None:
    tables = _rows_tables(trained_sessions)
    in_use = r"rice v1 cannot be deleted.*version\(s\) 1 \(champion\)"
    with pytest.raises(VersionInUse, match=in_use), trained_sessions.begin() as session:
        delete_version(session=session, name="rice", version=1, settings=trained_settings)
    with trained_sessions() as session:
        assert [v.version for v in list_versions(session=session, name="rice")] == [1]
    assert _rows_tables(trained_sessions) == tables


def test_delete_drops_an_unused_version_and_its_rows(trained_settings, trained_sessions, tmp_path: Path) -> None:
    second = _second_rice(trained_sessions, tmp_path, lambda f: f.head(2000))
    with trained_sessions() as session:
        table = get_version(session=session, name="rice", version=second).rows_table
    assert table in _rows_tables(trained_sessions)
    with trained_sessions.begin() as session:
        deleted = delete_version(session=session, name="rice", version=second, settings=trained_settings)
    assert deleted.version == second
    assert table not in _rows_tables(trained_sessions)
    with trained_sessions() as session:
        assert [v.version for v in list_versions(session=session, name="rice")] == [1]
        with pytest.raises(DatasetNotFound):
            delete_version(session=session, name="rice", version=second, settings=trained_settings)


def test_delete_without_any_model(settings, sessions) -> None:
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
    with sessions.begin() as session:
        delete_version(session=session, name="rice", version=1, settings=settings)
    assert _rows_tables(sessions) == []
    with sessions.begin() as session:
        version, created = ingest(session=session, path=RICE, name="rice", target="Class")
    assert created and version.version == 1


def test_the_target_alone_reads_as_in_the_whole_frame(sessions, tmp_path: Path) -> None:
    frame = palmerpenguins.load_penguins()  # 11 missing labels in `sex`, the last of its columns but one
    path = tmp_path / "penguins.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=path, name="penguins", target="sex")
    with sessions() as session:
        target = load_target(session=session, version=version)
        whole = load_frame(session=session, version=version)
    pd.testing.assert_series_equal(target, whole["sex"])
    assert target.isna().sum() == 11
