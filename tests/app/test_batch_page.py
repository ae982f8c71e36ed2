"""The Batch page (AppTest): a file checked against the contract, scored, downloadable; past batches."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from sqlalchemy import func, select
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.db.models import Batch, Prediction
from tests.conftest import RICE

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/batch.py"


def _page() -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _file(tmp_path: Path, name: str = "grains.csv", drop: list[str] | None = None) -> Path:
    frame = pd.read_csv(RICE, nrows=30).drop(columns=["Class", *(drop or [])])
    frame["note"] = "=HYPERLINK(1)"
    if "Area" in frame:
        frame.loc[4, "Area"] = "a lot"
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _served(button, data: bytes, file_name: str) -> bool:
    """Whether a download button serves exactly ``data`` (the media id is a hash of the content)."""
    return button.proto.url.endswith(f"/{_calculate_file_id(data, 'text/csv', file_name)}.csv")


def test_a_file_is_checked_scored_and_downloadable(trained_settings, trained_sessions, tmp_path: Path) -> None:
    at = _page()
    at.session_state["batch_input_path"] = str(_file(tmp_path))
    at.session_state["batch_input_name"] = "grains.csv"
    at.run()
    assert not at.exception and not at.error
    assert any("'note'" in i.value for i in at.info)  # the extra column is noted
    at.button(key="batch_score").click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric] == ["30", "29", "1", "1"]
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert {"batch_mix", "batch_confidence"} <= charts
    preview, listed = at.dataframe[0].value, at.dataframe[1].value  # the preview, then past batches
    assert len(preview) == 29 and {"prediction_id", "prediction", "confidence", "flags"} <= set(preview.columns)

    scored_path, rejected_path = tmp_path / "grains.scored.csv", tmp_path / "grains.scored.rejected.csv"
    scored_bytes, rejected_bytes = scored_path.read_bytes(), rejected_path.read_bytes()
    assert _served(at.download_button(key="batch_download_scored"), scored_bytes, "grains.scored.csv")
    assert _served(at.download_button(key="batch_download_rejected"), rejected_bytes, "grains.rejected.csv")
    scored, rejected = pd.read_csv(io.BytesIO(scored_bytes)), pd.read_csv(io.BytesIO(rejected_bytes))
    assert len(scored) == 29 and scored["note"].eq("'=HYPERLINK(1)").all()
    assert rejected[["row", "reason"]].values.tolist() == [[5, "Area: 'a lot' is not a number"]]
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Prediction)) == 29
        batch = session.scalar(select(Batch))
    assert (batch.status, batch.source_file, batch.scored, batch.rejected) == ("complete", "grains.csv", 29, 1)
    assert set(scored["prediction_id"]) == set(range(int(scored["prediction_id"].min()), 30))

    assert listed[["file", "status", "rows", "scored", "rejected"]].values.tolist() == [
        ["grains.csv", "complete", 30, 29, 1]
    ]
    assert at.download_button(key="batch_download_ledger").label.startswith("Download its scored rows")


def test_a_file_missing_a_column_is_refused_by_name(trained_settings, trained_sessions, tmp_path: Path) -> None:
    at = _page()
    at.session_state["batch_input_path"] = str(_file(tmp_path, drop=["Area"]))
    at.run()
    assert not at.exception
    assert any("'Area'" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "batch_score"]
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 0


def test_an_uploaded_file_is_kept_on_disk_and_scored(trained_settings, trained_sessions, tmp_path: Path) -> None:
    at = _page()
    at.file_uploader(key="batch_upload").set_value(("my grains.csv", _file(tmp_path).read_bytes(), "text/csv"))
    at.run()
    assert not at.exception
    kept = Path(at.session_state["batch_input_path"])
    assert kept.exists() and kept.name == "my_grains.csv" and at.session_state["batch_input_name"] == "my grains.csv"
    at.button(key="batch_score").click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric][:3] == ["30", "29", "1"]
    assert at.download_button(key="batch_download_scored").proto.url


def test_blank_lines_are_counted_beside_the_scored_and_rejected_rows(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    lines = _file(tmp_path).read_text().splitlines()
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join([*lines[:10], "", *lines[10:], "", ""]) + "\n")  # 30 rows, 3 blank lines
    at = _page()
    at.session_state["batch_input_path"] = str(path)
    at.session_state["batch_input_name"] = "gaps.csv"
    at.run()
    at.button(key="batch_score").click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric} == {
        "Rows": "30",
        "Scored": "29",
        "Rejected": "1",
        "Blank lines": "3",
        "Model version": "1",
    }
    assert any(c.value.startswith("3 blank lines (no values at all) skipped") for c in at.caption)
