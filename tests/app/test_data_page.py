"""The Data page (AppTest): adding a file, exploring a version, comparing and deleting versions.

AppTest cannot drive ``st.file_uploader``; the page keeps the uploaded file's temporary path in
session state, so these tests put a file's path there, as an upload would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from app.resources import DATASET_KEY
from core.config import REPO_ROOT
from core.datasets.versions import ingest, list_versions
from core.db.models import DatasetVersion
from tests.conftest import RICE

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/data.py"
UPLOAD_PATH, UPLOAD_NAME = "data_upload_path", "data_upload_name"


def _data_page(**state) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _open_tab(at: AppTest, label: str) -> AppTest:
    at.session_state["data_tab"] = label
    at.run()
    assert not at.exception
    return at


def _versions(sessions) -> list[tuple[str, int, str]]:
    with sessions() as session:
        return [(v.name, v.version, v.source_file) for v in list_versions(session=session)]


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def _shop_csv(path: Path, rows: int = 120) -> Path:
    rng = np.random.default_rng(0)
    spend = rng.uniform(0, 100, rows).round(2)
    pd.DataFrame(
        {
            "id": np.arange(rows),
            "region": rng.choice(["north", "south"], rows),
            "spend": spend,
            "visits": rng.integers(0, 9, rows),
            "Churned": np.where(spend > 40, "no", "yes"),
            "note": ["n/a"] * rows,
        }
    ).to_csv(path, index=False, sep=";")
    return path


# -- exploring --------------------------------------------------------------------------------------


def test_rice_overview_counts_and_charts(trained_settings) -> None:
    at = _data_page()
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "3,810" and metrics["Columns"] == "8"
    assert metrics["Missing cells"] == "0" and metrics["Duplicate rows"] == "0"
    assert _charts(at) == 1  # class balance; no missing cells to chart
    assert any("No missing cells" in s.value for s in at.success)
    assert not at.warning  # rice is balanced enough


def test_rice_columns_and_relations_tabs(trained_settings) -> None:
    at = _open_tab(_data_page(), "Columns")
    assert not at.error
    assert at.selectbox(key="data_column").value == "Area"
    assert _charts(at) == 2  # distribution, and by class
    assert any("Computed on all 3,810 rows" in c.value for c in at.caption)
    at.selectbox(key="data_column").set_value("Class").run()
    assert not at.exception and _charts(at) == 1

    at = _open_tab(at, "Relations")
    assert not at.error
    assert _charts(at) == 2  # correlation heatmap, association ranking
    ranking = at.dataframe[-1].value
    assert len(ranking) == 7 and ranking["mutual information"].is_monotonic_decreasing


def test_a_heavily_imbalanced_target_is_flagged(settings, sessions, tmp_path: Path) -> None:
    path = tmp_path / "skewed.csv"
    pd.DataFrame({"x": np.arange(300) % 11, "y": ["rare"] * 12 + ["common"] * 288}).to_csv(path, index=False)
    with sessions.begin() as session:
        ingest(session=session, path=path, name="skewed", target="y")
    at = _data_page()
    assert any("Heavy class imbalance" in w.value and "`rare`" in w.value for w in at.warning)


def test_free_text_is_explored_by_its_length(settings, tmp_path: Path) -> None:
    sentences = REPO_ROOT / "data" / "demo" / "sentiment_sentences.csv"
    at = _data_page(**{UPLOAD_PATH: str(sentences), UPLOAD_NAME: sentences.name})
    assert at.data_editor[0].value.set_index("column")["role"]["text"] == "text"
    at.button(key="data_save").click().run()
    assert not at.exception and not at.error
    at = _open_tab(at, "Columns")
    assert at.selectbox(key="data_column").value == "text"
    assert not at.error and _charts(at) == 2
    assert any("mean length" in m.value for m in at.markdown)
    at = _open_tab(at, "Relations")
    assert not at.error
    assert at.dataframe[-1].value["used as"].tolist() == ["text length"]


def test_switching_dataset_keeps_the_page_working(settings, sessions, tmp_path: Path) -> None:
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
        ingest(session=session, path=_shop_csv(tmp_path / "shop.csv"), name="shop", target="Churned")
    at = _open_tab(_data_page(), "Columns")
    assert at.selectbox(key=DATASET_KEY).value == "rice"
    at.selectbox(key="data_column").set_value("Extent").run()
    at.selectbox(key=DATASET_KEY).set_value("shop").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="data_column").value == "region"
    assert {m.label: m.value for m in at.metric}["Role"] == "categorical"


# -- adding a file ----------------------------------------------------------------------------------


def test_an_uploaded_file_is_read_and_saved_as_a_version(settings, sessions, tmp_path: Path) -> None:
    path = _shop_csv(tmp_path / "upload.csv")
    at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "Shop export (May).csv"})
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Encoding": "utf-8", "Delimiter": "semicolon", "Rows": "120", "Columns": "6"}
    roles = at.data_editor[0].value
    assert roles.set_index("column")["role"].to_dict()["id"] == "identifier"
    assert at.selectbox(key="data_target_0").value == "Churned"
    assert at.text_input(key="data_name_0").value == "Shop_export_May"

    at.button(key="data_save").click().run()
    assert not at.exception and not at.error
    assert _versions(sessions) == [("Shop_export_May", 1, "Shop export (May).csv")]
    assert any("Saved Shop export (May).csv as **Shop_export_May v1**" in s.value for s in at.success)
    # the next step is one click away
    assert [str(link.proto.label) for link in at.get("page_link")].count("Train a model") == 1
    # the new dataset is selected in the sidebar and explored
    assert at.session_state[DATASET_KEY] == "Shop_export_May"
    assert {m.label: m.value for m in at.metric}["Rows"] == "120"
    assert UPLOAD_PATH not in at.session_state
    assert path.exists()  # a file the page did not create is left alone


def test_the_same_file_again_is_recognised(settings, sessions, tmp_path: Path) -> None:
    path = _shop_csv(tmp_path / "shop.csv")
    for _ in range(2):
        at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "shop.csv"})
        at.button(key="data_save").click().run()
        assert not at.exception and not at.error
    assert any("already **shop v1**: nothing new was stored" in s.value for s in at.success)
    assert _versions(sessions) == [("shop", 1, "shop.csv")]


def test_missing_markers_are_editable_and_stored(settings, sessions, tmp_path: Path) -> None:
    path = tmp_path / "markers.csv"
    values = [str(v) for v in range(40)] + ["unknown"] * 5
    pd.DataFrame({"size": values, "y": ["a", "b", "c"] * 15}).to_csv(path, index=False)
    at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "markers.csv"})
    assert at.data_editor[0].value.set_index("column")["role"]["size"] == "categorical"
    markers = at.multiselect(key="data_markers_0")
    markers.set_value([*markers.value, "unknown"]).run()
    assert not at.exception and not at.error
    assert at.data_editor[0].value.set_index("column")["role"]["size"] == "numeric"
    at.button(key="data_save").click().run()
    assert not at.exception and not at.error
    with sessions() as session:
        version = session.scalars(select(DatasetVersion)).one()
        assert "unknown" in version.missing_markers and version.roles["size"] == "numeric"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("x,label\n" + "1,same\n" * 30, "at least two"),
        ("x,label\n" + "1,a\n" * 30 + "2,b\n", "too few rows"),
    ],
)
def test_a_refused_save_shows_the_reason_and_stores_nothing(settings, sessions, tmp_path: Path, content, words) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "bad.csv"})
    at.selectbox(key="data_target_0").set_value("label").run()  # one class or too few rows: not suggested
    at.button(key="data_save").click().run()
    assert not at.exception
    assert any(words in e.value for e in at.error)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(DatasetVersion)) == 0
    assert UPLOAD_PATH in at.session_state  # the analyst can fix the choice and save again


def test_an_invalid_name_is_refused(settings, sessions, tmp_path: Path) -> None:
    at = _data_page(**{UPLOAD_PATH: str(_shop_csv(tmp_path / "shop.csv")), UPLOAD_NAME: "shop.csv"})
    at.text_input(key="data_name_0").set_value("no spaces please").run()
    at.button(key="data_save").click().run()
    assert not at.exception
    assert any("not a valid dataset name" in e.value for e in at.error)
    assert _versions(sessions) == []


def test_an_unreadable_file_shows_the_reason(settings, tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"PK\x03\x04 a zipped workbook")
    at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "book.xlsx"})
    assert any("Excel workbook" in e.value for e in at.error)
    assert "data_save" not in [b.key for b in at.button]  # nothing to save


# -- versions -----------------------------------------------------------------------------------------


def test_compare_and_delete_versions(settings, sessions, tmp_path: Path) -> None:
    fewer = tmp_path / "rice.csv"
    fewer.write_text("".join(RICE.read_text().splitlines(keepends=True)[:-10]))
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
    with sessions.begin() as session:
        ingest(session=session, path=fewer, name="rice", target="Class", roles={"Extent": "constant"})
    at = _open_tab(_data_page(), "Versions")
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows in v2"] == "3,800" and metrics["Same file content"] == "no"
    changes = at.dataframe[-1].value
    assert changes.to_dict("records") == [
        {"column": "Extent", "change": "role changed", "v1": "numeric", "v2": "constant"}
    ]

    assert at.button(key="data_delete").disabled  # not before confirming
    at.checkbox(key="data_delete_confirm_rice_2").check().run()
    at.button(key="data_delete").click().run()
    assert not at.exception and not at.error
    assert any("Deleted rice v2" in s.value for s in at.success)
    assert [v[:2] for v in _versions(sessions)] == [("rice", 1)]


def test_a_version_a_model_was_trained_on_cannot_be_deleted(trained_settings, trained_sessions) -> None:
    at = _open_tab(_data_page(), "Versions")
    at.checkbox(key="data_delete_confirm_rice_1").check().run()
    at.button(key="data_delete").click().run()
    assert not at.exception
    assert any("cannot be deleted" in e.value for e in at.error)
    assert [v[:2] for v in _versions(trained_sessions)] == [("rice", 1)]


def test_rows_without_a_label_are_counted_before_and_after_saving(settings, sessions, tmp_path: Path) -> None:
    from palmerpenguins import load_penguins

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)  # 11 of its 344 rows have no `sex`
    at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "penguins.csv"})
    at.selectbox(key="data_target_0").set_value("sex").run()
    assert any("11 rows have no label in `sex`" in i.value for i in at.info)
    at.button(key="data_save").click().run()
    assert not at.exception and not at.error
    assert any("(344 rows, target `sex`). 11 rows have no label" in s.value for s in at.success)
    assert any("11 rows have no label in `sex` (3.2%)" in i.value for i in at.info)  # the version's overview


def _penguins_csv(tmp_path: Path) -> Path:
    from palmerpenguins import load_penguins

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)  # year is the last column
    return path


def test_the_target_is_suggested_by_evidence_and_an_odd_choice_is_warned_about(settings, tmp_path: Path) -> None:
    at = _data_page(**{UPLOAD_PATH: str(_penguins_csv(tmp_path)), UPLOAD_NAME: "penguins.csv"})
    assert not at.error
    target = at.selectbox(key="data_target_0")
    assert target.value == "species"  # not `year`, the last column
    assert any(c.value.startswith("Suggested `species`: named like a label, 3 text values") for c in at.caption)
    assert not at.warning

    target.set_value("year").run()
    assert not at.exception
    assert [w.value for w in at.warning] == ["`year` is a number with 3 values: is it really what you want to predict?"]
    assert not at.button(key="data_save").disabled  # a warning, not a refusal
    at.selectbox(key="data_target_0").set_value("island").run()
    assert not at.warning


def test_a_file_without_a_likely_label_asks_for_the_target(settings, sessions, tmp_path: Path) -> None:
    path = tmp_path / "readings.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"sensor": [f"S{i:04d}" for i in range(60)], "reading": rng.normal(0, 1, 60)}).to_csv(
        path, index=False
    )
    at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "readings.csv"})
    assert at.selectbox(key="data_target_0").value is None
    assert at.button(key="data_save").disabled
    assert any("Pick the column to predict." in c.value for c in at.caption)
    at.selectbox(key="data_target_0").set_value("sensor").run()
    assert any("Almost every row has its own value of `sensor`" in w.value for w in at.warning)
    assert not at.button(key="data_save").disabled


def _leak_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "alone predicts" in w.value]


def test_a_column_that_gives_the_target_away_is_warned_about_until_left_out(settings, sessions, tmp_path: Path) -> None:
    from palmerpenguins import load_penguins

    path = tmp_path / "penguins.csv"
    penguins = load_penguins()
    penguins.assign(genus=penguins["species"].str[:3]).to_csv(path, index=False)
    at = _data_page(**{UPLOAD_PATH: str(path), UPLOAD_NAME: "penguins.csv"})
    assert at.selectbox(key="data_target_0").value == "species"
    [warning] = _leak_warnings(at)
    assert warning.startswith("`genus` alone predicts `species` perfectly") and "set its role to identifier" in warning

    editor = at.data_editor[0]
    row = editor.value["column"].tolist().index("genus")
    at.session_state[editor.key] = {"edited_rows": {row: {"role": "identifier"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and _leak_warnings(at) == []  # left out of training, as the warning advises

    with sessions.begin() as session:  # the file stored with genus as read: its overview warns
        ingest(session=session, path=path, name="coded", target="species")
    at = _data_page(**{DATASET_KEY: "coded"})
    assert not at.exception
    assert _leak_warnings(at) == [warning]
