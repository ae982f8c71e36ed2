"""A deep link opened first on a freshly started server shows Sift's own navigation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import save_screenshot

pytestmark = pytest.mark.e2e

PAGE_NAMES = ["Home", "Data", "Train", "Predict", "Batch", "Feedback", "Models", "Monitor"]


def test_deep_link_on_a_fresh_server_shows_the_app_navigation(fresh_app, page, artifacts):
    page.goto(f"{fresh_app.url}/predict")

    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_be_visible(timeout=60_000)
    # Sift's pages, in its order: not Streamlit's automatic list of script files
    expect(nav.get_by_role("link")).to_have_text([re.compile(f"{name}$") for name in PAGE_NAMES])  # after the icon
    # the Predict page itself ran: its title and, on an empty home, where to start
    expect(page.get_by_role("heading", name="Predict")).to_be_visible()
    expect(page.get_by_text("No dataset yet: ingest a CSV on the Data page first.")).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    assert page.url.rstrip("/").endswith("/predict"), page.url  # still the deep link, not sent back to Home
    save_screenshot(page, artifacts / "predict.png")
