"""The Monitor page (AppTest): drift over time, the full report, a one-off check, quality, alerts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT, get_settings
from core.db.models import AlertEvent, DriftWindow, Prediction
from core.feedback import record_label
from core.monitoring import schedule
from tests.app.page_text import page_text
from tests.core.monitoring import conftest as monitoring
from tests.core.monitoring.conftest import penguins_rows, rice_rows, score_rows
from tests.servers import free_port
from tests.webhooks import SECRET, url_at

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
    assert any("No windows measured yet" in i.value for i in at.info)  # viewing the page measures nothing
    assert any("Last measured never" in c.value for c in at.caption)
    at.button(key="monitor_measure_now").click().run()
    assert not at.error and not at.exception
    assert len(_charts(at)) >= 5  # drift share, per feature, accuracy, F1, per class, class mix, confidence
    assert at.selectbox(key="monitor_window").value is not None
    assert any("Last measured 0 s ago, from this page" in c.value for c in at.caption)
    assert at.toast[0].value.startswith("Measured 3 new or changed window(s)")

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
    at = _page()
    at.button(key="monitor_measure_now").click().run()  # measuring the new window raises the alerts
    assert any("were flagged" in w.value for w in at.warning)
    with trained_sessions() as session:
        flagged = session.scalars(select(AlertEvent).where(AlertEvent.kind == "flagged_share")).all()
    assert len(flagged) == 3  # one per kind of window: the day, the batch, the first 1,000 predictions

    home = AppTest.from_file(ENTRY, default_timeout=60)
    home.run()
    assert not home.exception
    assert any("were flagged" in w.value for w in home.warning)
    assert home.get("page_link")

    for alert in flagged:
        at.button(key=f"monitor_ack_{alert.id}").click().run()
        assert not at.exception
    with trained_sessions() as session:
        assert {session.get(AlertEvent, a.id).status for a in flagged} == {"acknowledged"}
    assert not any("were flagged" in w.value for w in at.warning)


def test_monitor_renders_on_an_empty_home(settings) -> None:
    at = _page()
    assert any("No dataset yet" in i.value for i in at.info)


def test_monitor_before_any_prediction(trained_settings) -> None:
    at = _page()
    assert not at.error
    assert any("No windows measured yet" in i.value for i in at.info)


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
    schedule.run(sessions=penguins_sessions, settings=penguins_settings, dataset="penguins")
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


def _fingerprints(*urls: str) -> dict[str, str]:
    """Every table of these databases, each as a hash of all its rows."""
    found = {}
    for url in urls:
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                for table in inspect(conn).get_table_names():
                    rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
                    found[f"{url}:{table}"] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        finally:
            engine.dispose()
    return found


def test_opening_the_monitor_page_writes_nothing(
    trained_settings, trained_sessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = url_at(free_port())  # the default destination: nothing listens there
    monkeypatch.setenv("SIFT_ALERT_WEBHOOK", down)
    monkeypatch.setenv("SIFT_ALERT_ATTEMPTS", "1")
    get_settings.cache_clear()
    moved = rice_rows(150, seed=43)
    moved[["Area", "Convex_Area"]] *= 2
    scored = score_rows(trained_sessions, trained_settings, moved, tmp_path, "first")
    with trained_sessions.begin() as session:
        for p in session.scalars(select(Prediction).where(Prediction.batch_id == scored["batch_id"]).limit(10)):
            record_label(session=session, prediction_id=p.id, label=p.predicted_class)
    done = schedule.run(sessions=trained_sessions, settings=get_settings(), dataset="rice")
    assert done.delivery["pending"] == len(done.datasets[0].alerts) >= 3  # not delivered, kept for the next run
    score_rows(trained_sessions, trained_settings, rice_rows(120, seed=44), tmp_path, "second")  # not measured yet
    urls = (trained_settings.database_url, trained_settings.tracking_uri)
    before = _fingerprints(*urls)
    assert any("alert_events" in k for k in before)

    at = _page()
    with trained_sessions() as session:
        stored = session.execute(select(DriftWindow.id, DriftWindow.kind)).all()
    for kind in ("batch", "count", "day"):
        at.radio(key="monitor_kind").set_value(kind).run()
        for window_id in [i for i, k in stored if k == kind]:
            at.selectbox(key="monitor_window").set_value(window_id).run()
            assert not at.exception and not at.error
    at.radio(key="monitor_kind").set_value("count").run()
    at.number_input(key="monitor_size").set_value(50).run()  # a size never measured: shown as such, not measured
    assert not at.exception
    assert any("No windows measured yet" in i.value for i in at.info)
    assert _fingerprints(*urls) == before
    log = next(d.value for d in at.dataframe if "HTTP status" in d.value.columns)
    assert log["status"].tolist() == ["failed"]  # one try: a destination that is down is not tried again this run
    assert SECRET not in page_text(at) and down.split("/hooks")[0] in page_text(at)  # shown masked only
