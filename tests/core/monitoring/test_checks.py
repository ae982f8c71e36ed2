"""One-off drift checks of the champion against a window of the ledger or a file, with their reports."""

from __future__ import annotations

from pathlib import Path

from core.monitoring.checks import check_drift, reports_dir
from core.monitoring.ledger import Selection
from tests.core.monitoring.conftest import rice_rows, score_rows


def test_a_one_off_check_measures_a_file_or_a_window_and_keeps_its_report(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    scored = score_rows(trained_sessions, trained_settings, rice_rows(200, seed=8), tmp_path)
    rice_rows(150, seed=9).drop(columns="Class").to_csv(tmp_path / "inputs.csv", index=False)
    with trained_sessions() as session:
        window, window_report = check_drift(
            session=session, settings=trained_settings, dataset="rice", selection=Selection(batch=scored["batch_id"])
        )
        file, file_report = check_drift(
            session=session, settings=trained_settings, dataset="rice", path=tmp_path / "inputs.csv"
        )
    assert (window.current_rows, window.model_version) == (200, 1)
    assert (file.current_rows, file.window) == (150, "file inputs.csv")
    assert window_report != file_report
    assert sorted(reports_dir(trained_settings, "rice").glob("check-*.html")) == sorted([window_report, file_report])
