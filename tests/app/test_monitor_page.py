"""The Monitor page (AppTest): drift over time, the full report, a one-off check, quality, alerts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.db.models import AlertEvent, Prediction
from core.feedback import record_label
from tests.core.monitoring import conftest as monitoring
from tests.core.monitoring.conftest import penguins_rows, rice_rows, score_rows

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGE = "app/pages/monitor.py"
# the penguins home of tests/core/monitoring, for this module too
penguins_template, penguins_settings, penguins_sessions = (
    monitoring.penguins_template,
    monitoring.penguins_settings,
    monitoring.penguins_sessions,
)


def _page() -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=180)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_monitor_renders_drift_quality_and_the_report(trained_settings, trained_sessions, tmp_path: Path) -> None:
    scored = score_rows(trained_sessions, trained_settings, rice_rows(300, seed=41), tmp_path)
    with trained_sessions.begin() as session:
        for p in session.scalars(select(Prediction).where(Prediction.batch_id == scored["batch_id"]).limit(20)):
            record_label(session=session, prediction_id=p.id, label=p.predicted_class)
    at = _page()
    assert not at.error
    assert len(_charts(at)) >= 5  # drift share, per feature, accuracy, F1, per class, class mix, confidence
    assert at.selectbox(key="monitor_window").value is not None
    assert any("measured just now" in c.value for c in at.caption)

    at.button(key="monitor_build_report").click().run()
    assert not at.exception and not at.error
    assert at.get("iframe")  # Evidently's report, in the page
    assert at.get("download_button")
    assert list((trained_settings.artifacts_dir / "reports" / "rice").glob("window-*.html"))

    at.radio(key="monitor_source").set_value("last").run()
    at.number_input(key="monitor_last").set_value(50).run()
    at.button(key="monitor_check").click().run()
    assert not at.exception
    assert any("Only 50 predictions" in w.value for w in at.warning)  # too small: said, not drawn

    at.number_input(key="monitor_last").set_value(300).run()
    at.button(key="monitor_check").click().run()
    assert not at.exception
    assert any(m.label == "Rows compared" and m.value == "300 vs 3,048" for m in at.metric)


def test_an_alert_shows_on_home_and_monitor_and_is_acknowledged(
    trained_settings, trained_sessions, tmp_path: Path
) -> None:
    moved = rice_rows(150, seed=42)
    moved[["Area", "Convex_Area"]] *= 2
    score_rows(trained_sessions, trained_settings, moved, tmp_path)
    at = _page()  # measuring the new window raises the alerts
    assert any("were flagged" in w.value for w in at.warning)
    with trained_sessions() as session:
        alert = session.scalars(select(AlertEvent).where(AlertEvent.kind == "flagged_share")).one()

    home = AppTest.from_file(ENTRY, default_timeout=60)
    home.run()
    assert not home.exception
    assert any("were flagged" in w.value for w in home.warning)
    assert home.get("page_link")

    at.button(key=f"monitor_ack_{alert.id}").click().run()
    assert not at.exception
    with trained_sessions() as session:
        assert session.get(AlertEvent, alert.id).status == "acknowledged"
    assert not any("were flagged" in w.value for w in at.warning)


def test_monitor_renders_on_an_empty_home(settings) -> None:
    at = _page()
    assert any("No dataset yet" in i.value for i in at.info)


def test_monitor_before_any_prediction(trained_settings) -> None:
    at = _page()
    assert not at.error
    assert any("No predictions yet" in i.value for i in at.info)


def _drift_tables(at: AppTest) -> list:
    """The per-feature drift tables on the page, in order (AppTest does not expose dataframe keys)."""
    return [d.value for d in at.dataframe if "data quality" in d.value.columns and "feature" in d.value.columns]


def test_monitor_shows_data_quality_apart_from_drift_on_a_table_with_a_few_valued_number(
    penguins_settings, penguins_sessions, tmp_path: Path
) -> None:
    """Issue 12: penguins' ``year`` (three values) crashed the page; an unseen island is data quality, not drift."""
    rows = penguins_rows(200, seed=7)
    rows.loc[0, "island"] = "Atlantis"
    score_rows(penguins_sessions, penguins_settings, rows, tmp_path, dataset="penguins")
    at = _page()
    assert not at.error
    table = _drift_tables(at)[0]
    year = table.set_index("feature").loc["year"]
    assert year["method"] == "chi-square p_value" and not year["drifted"]
    assert "1 unseen" in table.set_index("feature").loc["island", "data quality"]
    assert any("Data quality, not drift" in c.value and "Atlantis" in c.value for c in at.caption)
    assert not any("drift" in w.value.lower() for w in at.warning)  # no drift alert in the banner

    at.radio(key="monitor_source").set_value("last").run()
    at.number_input(key="monitor_last").set_value(200).run()
    at.button(key="monitor_check").click().run()
    assert not at.exception and not at.error
    assert any(m.label == "Features drifting" and m.value == "0%" for m in at.metric)
    check = _drift_tables(at)[1].set_index("feature")  # the window's, then the check's
    assert "1 unseen" in check.loc["island", "data quality"] and not check.loc["year", "drifted"]


def test_the_embedded_report_is_zoomed_to_fit_the_apps_column() -> None:
    """Issue 13: Evidently's tables, laid out for a full window, lost their right-hand columns in the app."""
    import html as html_module

    from app.ui.monitor import REPORT_ZOOM, sandboxed_page

    page = sandboxed_page("<html><head><title>r</title></head><body>x</body></html>")
    inner = html_module.unescape(page.split('srcdoc="', 1)[1].rsplit('"></iframe>', 1)[0])
    assert inner.startswith(f"<html><head><style>html{{zoom:{REPORT_ZOOM}}}</style><title>r</title>")
