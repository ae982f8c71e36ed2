"""Every page renders on a real home; the Predict form returns a prediction (AppTest)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.db.models import Prediction

ENTRY = str(REPO_ROOT / "streamlit_app.py")
PAGES = ["app/pages/home.py", "app/pages/data.py", "app/pages/predict.py", "app/pages/models.py"]


def _app() -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.run()
    assert not at.exception
    return at


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_an_empty_home(settings, page: str) -> None:
    at = _app()
    at.switch_page(page).run()
    assert not at.exception


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_with_a_champion(trained_settings, page: str) -> None:
    at = _app()
    at.switch_page(page).run()
    assert not at.exception
    assert not at.error


def test_home_shows_the_champion(trained_settings) -> None:
    at = _app()
    assert [m.value for m in at.metric][:3] == ["1", "1", "0"]
    assert any(m.label == "Champion" and m.value == "v1" for m in at.metric)


def test_data_page_lists_versions_and_previews_rows(trained_settings) -> None:
    at = _app()
    at.switch_page("app/pages/data.py").run()
    versions, columns, preview = at.dataframe[0].value, at.dataframe[1].value, at.dataframe[2].value
    assert versions["dataset"].tolist() == ["rice"] and versions["rows"].tolist() == [3810]
    assert "numeric" in columns["role"].tolist()
    assert len(preview) == 100


def test_predict_form_returns_a_prediction_and_records_it(trained_settings, trained_sessions) -> None:
    at = _app()
    at.switch_page("app/pages/predict.py").run()
    assert len(at.number_input) == 7
    assert at.number_input[0].value > 0  # pre-filled with a typical training value
    at.button[0].click().run()
    assert not at.exception
    predicted = next(m for m in at.metric if m.label == "Predicted class")
    assert predicted.value in {"Cammeo", "Osmancik"}
    assert at.get("plotly_chart")
    with trained_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Prediction)) == 1
