"""Two datasets whose champions are both v1, in one real browser session: nothing carries over.

The home is prepared through the command line (rice and penguins, each trained, so both champions
are v1; penguins trained a second time, so it has a v2 to promote). In the browser the analyst
predicts on penguins (a fresh, empty true-class box for every prediction; a refilled form marks
the result out of date), switches to rice on Predict, Batch and Models (nothing of penguins shown),
promotes penguins v2 (no reason or tick left armed) and exports it (the file is v2's). Screenshots
of each step land in ``test-artifacts/e2e/<test name>/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.cli.conftest import ok
from tests.conftest import RICE
from tests.e2e.conftest import running_app
from tests.e2e.test_journey import Journey

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_datasets(tmp_path: Path, request: pytest.FixtureRequest):
    """An app over a home holding rice v1 and penguins v1 (champions) and penguins v2."""
    import palmerpenguins

    from tests.e2e.conftest import SERVERS

    home, files = tmp_path / "home", tmp_path / "files"
    files.mkdir()
    rice = pd.read_csv(RICE).sample(n=600, random_state=7)
    rice.to_csv(files / "rice.csv", index=False)
    rice.drop(columns="Class").head(120).to_csv(files / "rice_batch.csv", index=False)
    palmerpenguins.load_penguins().to_csv(files / "penguins.csv", index=False)
    for name, target in (("rice", "Class"), ("penguins", "species")):
        ok(home, "ingest", str(files / f"{name}.csv"), "--name", name, "--target", target)
        assert ok(home, "train", "--dataset", name, "--trials", "1", "--seed", "7")["version"] == 1
    assert ok(home, "train", "--dataset", "penguins", "--trials", "1", "--seed", "8")["version"] == 2
    with running_app(home, tmp_path / "streamlit.log") as server:
        request.node.stash.setdefault(SERVERS, []).append(server)
        yield server, files


def switch_dataset(j: Journey, name: str) -> None:
    j.choose("Dataset", name)
    j.idle()


def true_class_box(j: Journey):
    return j.page.get_by_test_id("stSelectbox").filter(has_text="True class").get_by_role("combobox")


def test_two_datasets_with_v1_champions_share_nothing(two_datasets, page, artifacts):
    server, files = two_datasets
    j = Journey(page, server.url, files, artifacts)
    j.page.goto(server.url)
    expect(j.page.get_by_role("heading", name="Sift", exact=True)).to_be_visible(timeout=60_000)
    switch_dataset(j, "penguins")

    # Predict on penguins: every new prediction gets an empty true-class box
    j.open_page("Predict")
    expect(j.page.get_by_text(re.compile(r"Scoring with the penguins champion, version 1\."))).to_be_visible()
    j.page.get_by_role("button", name="Predict", exact=True).click()
    expect(true_class_box(j)).to_have_value("")
    j.choose("True class", "Gentoo")
    j.snap("predict-penguins-true-class-picked")
    j.page.get_by_role("button", name="Fill with a random training row").click()
    expect(j.page.get_by_text(re.compile(r"^Out of date"))).to_be_visible()
    j.snap("predict-penguins-out-of-date")
    j.page.get_by_role("button", name="Predict", exact=True).click()
    expect(j.page.get_by_text(re.compile(r"^Out of date"))).to_have_count(0)
    expect(true_class_box(j)).to_have_value("")  # not the class picked for the previous prediction
    j.snap("predict-penguins-second-prediction")

    # the same page on rice, whose champion is v1 too: rice's own form, no penguins result or note
    switch_dataset(j, "rice")
    expect(j.page.get_by_text(re.compile(r"Scoring with the rice champion, version 1\."))).to_be_visible()
    expect(j.page.get_by_label("Area", exact=True)).not_to_have_value("")
    expect(j.page.get_by_label("bill_length_mm", exact=True)).to_have_count(0)
    expect(true_class_box(j)).to_have_count(0)
    expect(j.page.get_by_text(re.compile(r"of penguins v1"))).to_have_count(0)
    j.snap("predict-rice-after-switch")

    # Batch: rice's result is not shown under penguins
    j.open_page("Batch")
    j.upload("CSV file to score", files / "rice_batch.csv")
    j.page.get_by_role("button", name="Score rice_batch.csv").click()
    expect(j.metric("Scored")).to_have_text("120", timeout=60_000)
    j.snap("batch-rice")
    switch_dataset(j, "penguins")
    expect(j.page.get_by_text(re.compile(r"Scoring with the penguins champion, version 1\."))).to_be_visible()
    expect(j.metric("Scored")).to_have_count(0)
    expect(j.page.get_by_text("rice_batch.csv")).to_have_count(0)
    expect(j.page.get_by_text(re.compile(r"lacks the columns"))).to_have_count(0)
    j.snap("batch-penguins-after-switch")

    # Models on penguins: promote v2, nothing left armed, and the export is v2's
    j.open_page("Models")
    promote = j.page.get_by_role("button", name="Promote v2 to champion")
    expect(promote).to_be_visible()
    j.page.get_by_label("Reason", exact=True).fill("v2 saw more of the colony")
    j.page.get_by_label("Reason", exact=True).press("Enter")
    j.page.get_by_text("I confirm this change of the champion of penguins").click()
    j.idle()
    promote.click()
    expect(j.page.get_by_text(re.compile(r"^Promoted:"))).to_be_visible()
    j.idle()  # the run that drew the message has ended: the page's widgets are the new ones
    expect(j.page.get_by_label("Reason", exact=True)).to_have_value("")
    expect(j.page.get_by_role("checkbox", name=re.compile("I confirm this change"))).not_to_be_checked()
    j.snap("models-penguins-promoted")
    j.page.get_by_role("button", name="Prepare the export of v2").click()
    download_button = j.page.get_by_role("button", name=re.compile(r"^Download \S+\.zip$"))
    with j.page.expect_download(timeout=120_000) as download:
        download_button.click()
    assert "v2" in download.value.suggested_filename, download.value.suggested_filename
    j.snap("models-penguins-exported")

    # and rice's Models page shows rice's versions with nothing armed from penguins
    switch_dataset(j, "rice")
    expect(j.page.get_by_label("Reason", exact=True)).to_have_value("")
    expect(j.page.get_by_role("button", name=re.compile(r"Prepare the export of v\d"))).to_be_visible()
    expect(j.page.get_by_role("button", name=re.compile(r"^Download \S+\.zip$"))).to_have_count(0)
    j.snap("models-rice-after-switch")
