"""The Batch page (AppTest): a file checked against the contract, scored, downloadable; past batches."""

from __future__ import annotations

import io
import time
from pathlib import Path

import palmerpenguins
import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from app.ui.state import Scope
from core.config import REPO_ROOT, get_settings
from core.db.models import Batch, DriftWindow, MonitorState, Prediction
from tests.app.two_datasets import (  # noqa: F401 (the fixtures are used by name)
    choose_dataset,
    open_page,
    two_datasets_settings,
    two_datasets_template,
)
from tests.conftest import RICE

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/batch.py"
RICE_V1 = Scope("batch", {"dataset": "rice", "version": 1})


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


def _tables(at: AppTest) -> dict[str, pd.DataFrame]:
    """The page's tables by what they hold, told apart by their leading columns (the order on the page:
    flag counts, flagged rows, rejected rows, the scored preview, past batches)."""
    found: dict[str, pd.DataFrame] = {}
    for frame in (d.value for d in at.dataframe):
        columns = list(frame.columns)
        if columns == ["flag", "rows"]:
            found["flag_counts"] = frame
        elif columns[:2] == ["row", "reason"]:
            found["rejected"] = frame
        elif columns[:1] == ["when"]:
            found["list"] = frame
        elif columns[:1] == ["prediction"]:
            found["flagged" if "flag_counts" in found and "flagged" not in found else "preview"] = frame
        else:
            found.setdefault("other", frame)
    return found


def _served(button, data: bytes, file_name: str) -> bool:
    """Whether a download button serves exactly ``data`` (the media id is a hash of the content)."""
    return button.proto.url.endswith(f"/{_calculate_file_id(data, 'text/csv', file_name)}.csv")


def test_a_file_is_checked_scored_and_downloadable(
    trained_settings, trained_sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIFT_MONITOR_AFTER_SCORING", "1")  # its windows are then measured in the background
    get_settings.cache_clear()
    at = _page()
    at.session_state[RICE_V1.key("input_path")] = str(_file(tmp_path))
    at.session_state[RICE_V1.key("input_name")] = "grains.csv"
    at.run()
    assert not at.exception and not at.error
    assert any("'note'" in i.value for i in at.info)  # the extra column is noted
    at.button(key=RICE_V1.key("score")).click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric] == ["30", "29", "1", "0", "1"]
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert {RICE_V1.key("mix"), RICE_V1.key("confidence")} <= charts
    tables = _tables(at)
    preview, listed = tables["preview"], tables["list"]
    assert len(preview) == 29 and {"prediction_id", "prediction", "confidence", "flags"} <= set(preview.columns)

    scored_path, rejected_path = tmp_path / "grains.scored.csv", tmp_path / "grains.scored.rejected.csv"
    scored_bytes, rejected_bytes = scored_path.read_bytes(), rejected_path.read_bytes()
    assert _served(at.download_button(key=RICE_V1.key("download_scored")), scored_bytes, "grains.scored.csv")
    assert _served(at.download_button(key=RICE_V1.key("download_rejected")), rejected_bytes, "grains.rejected.csv")
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
    assert at.download_button(key=RICE_V1.key("download_ledger")).label.startswith("Download its scored rows")

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not _measured(trained_sessions):
        time.sleep(0.5)
    with trained_sessions() as session:  # 29 rows: too few for drift, but each window stored with its mix
        windows = session.execute(select(DriftWindow.kind, DriftWindow.key, DriftWindow.rejected)).all()
    assert sorted(windows) == sorted([("day", windows[0][1], 1), ("batch", batch.id, 1), ("count", "1000:0", 0)])


def _measured(sessions) -> bool:
    with sessions() as session:
        state = session.get(MonitorState, "rice")
        return state is not None and state.last_finished_at is not None and state.holder is None


def test_a_file_missing_a_column_is_refused_by_name(trained_settings, trained_sessions, tmp_path: Path) -> None:
    at = _page()
    at.session_state[RICE_V1.key("input_path")] = str(_file(tmp_path, drop=["Area"]))
    at.run()
    assert not at.exception
    assert any("'Area'" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == RICE_V1.key("score")]
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == 0


def test_an_uploaded_file_is_kept_on_disk_and_scored(trained_settings, trained_sessions, tmp_path: Path) -> None:
    at = _page()
    at.file_uploader(key=RICE_V1.key("upload")).set_value(("my grains.csv", _file(tmp_path).read_bytes(), "text/csv"))
    at.run()
    assert not at.exception
    kept = Path(at.session_state[RICE_V1.key("input_path")])
    assert kept.exists() and kept.name == "my_grains.csv"
    assert at.session_state[RICE_V1.key("input_name")] == "my grains.csv"
    at.button(key=RICE_V1.key("score")).click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric][:3] == ["30", "29", "1"]
    assert at.download_button(key=RICE_V1.key("download_scored")).proto.url


def test_blank_lines_are_counted_beside_the_scored_and_rejected_rows(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    lines = _file(tmp_path).read_text().splitlines()
    path = tmp_path / "gaps.csv"
    path.write_text("\n".join([*lines[:10], "", *lines[10:], "", ""]) + "\n")  # 30 rows, 3 blank lines
    at = _page()
    at.session_state[RICE_V1.key("input_path")] = str(path)
    at.session_state[RICE_V1.key("input_name")] = "gaps.csv"
    at.run()
    at.button(key=RICE_V1.key("score")).click().run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric} == {
        "Rows": "30",
        "Scored": "29",
        "Rejected": "1",
        "Flagged": "0",
        "Blank lines": "3",
        "Model version": "1",
    }
    assert any(c.value.startswith("3 blank lines (no values at all) skipped") for c in at.caption)


# --- outcomes on screen, state tied to the dataset (issue 13) ------------------------------------


def _upload(at: AppTest, path: Path, name: str) -> AppTest:
    """Upload ``path`` as ``name`` and score it, through the widgets the analyst uses."""
    uploader = next(u for u in at.get("file_uploader") if u.label == "CSV file to score")
    uploader.set_value((name, path.read_bytes(), "text/csv")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    next(b for b in at.button if b.label == f"Score {name}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def _shown_batch(at: AppTest) -> list[str]:
    """What the page says of a batch just scored: its header and its counts."""
    return [h.value for h in at.subheader if h.value.startswith("Batch ")] + [
        m.label for m in at.metric if m.label in {"Rows", "Scored", "Rejected"}
    ]


def test_flagged_and_rejected_rows_are_counted_and_shown_with_their_reasons(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    path = _file(tmp_path)  # row 5 has Area 'a lot': rejected
    frame = pd.read_csv(path)
    frame.loc[7, "Area"] = 10**6  # far outside training: scored and flagged
    frame.to_csv(path, index=False)
    at = _upload(_page(), path, "grains.csv")

    assert {m.label: m.value for m in at.metric if m.label in {"Scored", "Rejected", "Flagged"}} == {
        "Scored": "29",
        "Rejected": "1",
        "Flagged": "1",
    }
    tables = _tables(at)
    assert tables["flag_counts"].values.tolist() == [["Area: outside training range", 1]]
    flagged = tables["flagged"]  # the key columns first: nothing important scrolled off to the right
    assert list(flagged.columns[:3]) == ["prediction", "confidence", "flags"]
    assert flagged["flags"].tolist() == ["Area: outside training range"] and flagged["Area"].tolist() == [10**6]
    rejected = tables["rejected"]
    assert rejected[["row", "reason"]].values.tolist() == [["5", "Area: 'a lot' is not a number"]]
    assert list(rejected.columns[:2]) == ["row", "reason"]
    assert list(tables["preview"].columns[:3]) == ["prediction", "confidence", "flags"]
    said = [m.value for m in at.markdown]
    assert any(s.startswith("**1 flagged row**") for s in said)
    assert any(s.startswith("**1 rejected row**") for s in said)


@pytest.mark.usefixtures("two_datasets_settings")
def test_switching_dataset_shows_nothing_of_the_other_datasets_batch(tmp_path: Path) -> None:
    penguins = tmp_path / "penguins.csv"
    palmerpenguins.load_penguins().drop(columns=["species"]).head(20).to_csv(penguins, index=False)
    at = _upload(open_page(PAGE, "rice"), _file(tmp_path), "grains.csv")
    assert _shown_batch(at) and [m.value for m in at.metric][:3] == ["30", "29", "1"]

    choose_dataset(at, "penguins")  # both champions are v1: the rice file and its result stay with rice
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not _shown_batch(at)
    assert not [b for b in at.button if b.label.startswith("Score ")]
    assert not [d for d in at.get("download_button") if d.label.startswith("Download 29 scored rows")]
    assert "Scoring with the `penguins` champion, version 1" in at.caption[0].value
    _upload(at, penguins, "penguins.csv")
    assert [m.value for m in at.metric][:3] == ["20", "20", "0"]

    choose_dataset(at, "rice")
    assert not at.exception and not at.error and not _shown_batch(at)
    assert not [b for b in at.button if b.label.startswith("Score ")]
    listed = _tables(at)["list"]  # the ledger still has rice's batch, listed under rice only
    assert listed["file"].tolist() == ["grains.csv"]
