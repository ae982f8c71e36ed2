"""A home with two datasets whose champions are both v1: rice (the trained template) and penguins.

Pages must keep everything of one apart from the other, though both champions are "version 1".
Import the fixtures into a test module to use them (``from tests.app.two_datasets import ...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT, Settings, get_settings
from tests.conftest import _use_home, add_penguins
from tests.homes import copy_home

ENTRY = str(REPO_ROOT / "streamlit_app.py")
DATASET_KEY = "sift_dataset"  # the sidebar's dataset selectbox (app/resources.py)


@pytest.fixture(scope="session")
def two_datasets_template(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Path:
    """The trained rice home plus penguins (344 rows, 3 species, missing values), trained with 2 trials."""
    home = copy_home(trained_template, tmp_path_factory.mktemp("templates") / "two-datasets")
    return add_penguins(home, tmp_path_factory.mktemp("penguins"))


@pytest.fixture
def two_datasets_settings(
    tmp_path: Path, two_datasets_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings for a home of this test's own holding rice and penguins, each with a champion v1."""
    yield _use_home(monkeypatch, copy_home(two_datasets_template, tmp_path / "home"))
    get_settings.cache_clear()


def open_page(page: str, dataset: str, timeout: float = 120) -> AppTest:
    """The app on ``page`` (a path under app/pages/) with ``dataset`` chosen in the sidebar."""
    at = AppTest.from_file(ENTRY, default_timeout=timeout)
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return choose_dataset(at, dataset)


def choose_dataset(at: AppTest, dataset: str) -> AppTest:
    """Pick ``dataset`` in the sidebar, as the analyst does."""
    at.sidebar.selectbox(key=DATASET_KEY).select(dataset).run()
    assert not at.exception, at.exception
    return at
