"""Every page renders on a real home; the Predict form returns a prediction (AppTest)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from core.datasets.versions import ingest
from core.db.models import Prediction
from core.status import dataset_names
from tests.conftest import RICE

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


# ---- first run (issue 13) -----------------------------------------------------------------------


def _link_labels(block) -> list[str]:
    return [str(link.proto.label) for link in block.get("page_link")]


def test_an_empty_home_offers_upload_and_the_demo_instead_of_a_command(settings, sessions) -> None:
    at = _app()
    texts = " ".join(str(e.value) for kind in ("markdown", "info", "caption") for e in at.get(kind))
    assert "python -m core" not in texts
    assert "Upload a CSV" in _link_labels(at.main) and "Upload a CSV" in _link_labels(at.sidebar)
    assert [b.label for b in at.main.button] == ["Load a demo dataset"]
    assert not at.sidebar.button  # Home has the demo button: the sidebar does not repeat it

    at.button(key="home_demo").click().run()
    assert not at.exception and not at.error
    with sessions() as session:
        assert dataset_names(session=session) == ["rice"]
    assert at.sidebar.selectbox[0].value == "rice"
    # a dataset without a model offers the training, not a command
    assert at.warning[0].value == "No model yet: train one to start predicting."
    at.button(key="home_train_rice").click().run()
    assert not at.exception
    assert at.title[0].value == "Train" and at.selectbox(key="train_version").value == 1

    at.switch_page("app/pages/home.py").run()
    assert not [b for b in at.main.button if b.label == "Load a demo dataset"]


def test_other_pages_of_an_empty_home_offer_the_demo_in_the_sidebar(settings, sessions) -> None:
    at = _app()
    at.switch_page("app/pages/data.py").run()
    assert not at.exception
    at.sidebar.button(key="sidebar_demo").click().run()
    assert not at.exception
    with sessions() as session:
        assert dataset_names(session=session) == ["rice"]
    assert at.sidebar.selectbox[0].value == "rice"


def test_each_card_acts_on_its_own_dataset(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        ingest(session=session, path=RICE, name="grains", target="Class")
    at = _app()
    assert at.sidebar.selectbox[0].value == "grains"  # the first dataset: not the one with a champion
    at.button(key="home_predict_rice").click().run()
    assert not at.exception
    assert at.title[0].value == "Predict" and at.sidebar.selectbox[0].value == "rice"
    at.switch_page("app/pages/home.py").run()
    at.button(key="home_train_grains").click().run()
    assert not at.exception
    assert at.title[0].value == "Train" and at.sidebar.selectbox[0].value == "grains"
