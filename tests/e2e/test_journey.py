"""The analyst's journey through the real app in a real browser, one page after another.

Home → Data (upload a CSV, choose the target, save) → Train (a two-trial model) → Predict (the
pre-filled form) → Batch (score a file, download it) → Feedback (upload labels) → Train (retrain
on them, see the decision) → Monitor (the drift chart). Each step asserts on what the analyst
reads, and saves a screenshot into the test's artifacts folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import RICE
from tests.e2e.conftest import save_screenshot

pytestmark = pytest.mark.e2e

TRAINING_ROWS = 600
BATCH_ROWS = 150  # above the 100 predictions a window needs for its drift to be measured
LABELLED_ROWS = 30  # above the 10 labels a retrain needs
TRAIN_TIMEOUT_MS = 180_000
RETRAIN_TIMEOUT_MS = 300_000  # the smallest retrain budget is "quick": up to 45 s of tuning, then the refit
MONITOR_TIMEOUT_MS = 120_000  # the first visit imports Evidently and measures the window


class Journey:
    """The browser page, the files the analyst brings, and a screenshot after each step."""

    def __init__(self, page: Page, url: str, files: Path, artifacts: Path) -> None:
        self.page, self.url, self.files, self.artifacts = page, url, files, artifacts
        self.steps = 0

    def snap(self, name: str) -> None:
        self.idle()
        self.steps += 1
        save_screenshot(self.page, self.artifacts / f"{self.steps:02d}-{name}.png")

    def idle(self, timeout: float = 60_000) -> None:
        """Wait until the script run in progress (if any) has finished drawing the page."""
        self.page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(timeout=timeout)

    def open_page(self, name: str) -> None:
        """Go to a page through the app's own navigation, as the analyst does (the session is kept)."""
        self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True).click()
        expect(self.page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        self.idle()

    def upload(self, label: str, path: Path) -> None:
        """Give a file to the file uploader named ``label`` (its hidden ``<input type=file>``)."""
        uploader = self.page.get_by_test_id("stFileUploader").filter(has_text=label)
        uploader.locator("input[type=file]").set_input_files(str(path))
        expect(uploader.get_by_text(path.name)).to_be_visible()

    def choose(self, label: str, option: str) -> None:
        """Pick ``option`` in the select box named ``label``."""
        self.idle()
        box = self.page.get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("combobox")
        wanted = self.page.get_by_role("option", name=option, exact=True)
        for _ in range(3):  # a click that lands while the page redraws can leave the list closed: open it again
            box.click()
            try:
                wanted.wait_for(timeout=5_000)
                break
            except PlaywrightTimeout:
                continue
        wanted.click()
        expect(box).to_have_value(option)

    def metric(self, label: str):
        return self.page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A training file, and a batch to score (no label, a `ref` column to find its true class again)."""
    rice = pd.read_csv(RICE).sample(frac=1.0, random_state=7).reset_index(drop=True)
    rice.iloc[:TRAINING_ROWS].to_csv(tmp_path / "rice.csv", index=False)
    batch = rice.iloc[TRAINING_ROWS : TRAINING_ROWS + BATCH_ROWS].reset_index(drop=True)
    batch.insert(0, "ref", range(len(batch)))
    batch[["ref", "Class"]].to_csv(tmp_path / "truth.csv", index=False)
    batch.drop(columns="Class").to_csv(tmp_path / "new_grains.csv", index=False)
    return tmp_path


def start_at_home(j: Journey) -> None:
    j.page.goto(j.url)
    expect(j.page.get_by_role("heading", name="Sift", exact=True)).to_be_visible(timeout=60_000)
    expect(j.page.get_by_text("This workspace is empty.")).to_be_visible()
    j.snap("home")


def add_dataset(j: Journey) -> None:
    j.open_page("Data")
    j.upload("CSV file", j.files / "rice.csv")
    expect(j.metric("Rows")).to_have_text(f"{TRAINING_ROWS:,}")
    j.choose("Target: the column to predict", "Class")
    expect(j.page.get_by_label("Dataset name", exact=True)).to_have_value("rice")
    j.snap("data-review")
    j.page.get_by_role("button", name="Save as dataset version").click()
    expect(j.page.get_by_text(re.compile(r"Saved rice\.csv as rice v1 \(600 rows, target Class\)"))).to_be_visible()
    j.snap("data-saved")


def train_first_model(j: Journey) -> None:
    j.open_page("Train")
    j.page.get_by_test_id("stRadio").get_by_text("custom", exact=True).click()
    trials = j.page.get_by_label("Trials", exact=True)
    trials.fill("2")
    trials.press("Enter")
    j.page.get_by_role("button", name="Start training").click()
    # the live panel follows the job until the model is registered
    expect(j.page.get_by_text(re.compile(r"Job 1: rice v1"))).to_be_visible()
    expect(j.page.get_by_text("Job 1: rice v1 · done")).to_be_visible(timeout=TRAIN_TIMEOUT_MS)
    expect(j.page.get_by_text("Registered rice v1. It is the champion")).to_be_visible()
    expect(j.page.get_by_role("heading", name="Leaderboard")).to_be_visible()
    j.snap("train-done")


def predict_one_row(j: Journey) -> None:
    j.open_page("Predict")
    expect(j.page.get_by_text("Scoring with the rice champion, version 1.")).to_be_visible()
    expect(j.page.get_by_label("Area", exact=True)).not_to_have_value("")  # the form starts at typical training values
    j.page.get_by_role("button", name="Predict", exact=True).click()
    expect(j.metric("Predicted class")).to_have_text(re.compile(r"^(Cammeo|Osmancik)$"))
    expect(j.metric("Confidence")).to_have_text(re.compile(r"^\d{2,3}\.\d%$"))
    expect(j.page.get_by_text(re.compile(r"Prediction #1 · model version 1"))).to_be_visible()
    # the page is drawn again with it: it is a past prediction to fill from, and one without a label
    past = j.page.get_by_test_id("stSelectbox").filter(has_text="Fill from a past prediction").get_by_role("combobox")
    expect(past).to_be_enabled()
    expect(j.page.get_by_test_id("stSidebar").get_by_text("1 prediction without a label")).to_be_visible()
    j.snap("predict")


def score_batch(j: Journey) -> pd.DataFrame:
    """Score the new grains, download the scored file and check it; returns it."""
    j.open_page("Batch")
    j.upload("CSV file to score", j.files / "new_grains.csv")
    j.page.get_by_role("button", name="Score new_grains.csv").click()
    expect(j.metric("Scored")).to_have_text(f"{BATCH_ROWS:,}", timeout=60_000)
    expect(j.metric("Rejected")).to_have_text("0")
    download_button = j.page.get_by_role("button", name=f"Download {BATCH_ROWS:,} scored rows (CSV)")
    with j.page.expect_download() as download:
        download_button.click()
    assert download.value.suggested_filename == "new_grains.scored.csv"
    saved = j.files / "downloaded.scored.csv"
    download.value.save_as(saved)
    scored = pd.read_csv(saved)
    assert len(scored) == BATCH_ROWS
    assert {"ref", "prediction_id", "prediction", "confidence"} <= set(scored.columns)
    assert set(scored["prediction"]) <= {"Cammeo", "Osmancik"}
    j.snap("batch")
    return scored


def label_predictions(j: Journey, scored: pd.DataFrame) -> None:
    """Upload the true class of some scored rows as a CSV of prediction_id,label."""
    truth = pd.read_csv(j.files / "truth.csv")
    labels = scored.merge(truth, on="ref").head(LABELLED_ROWS)
    labels_file = j.files / "labels.csv"
    labels[["prediction_id", "Class"]].rename(columns={"Class": "label"}).to_csv(labels_file, index=False)

    j.open_page("Feedback")
    expect(j.metric("Predictions without a label")).to_have_text(f"{BATCH_ROWS + 1:,}")
    j.upload("CSV of prediction_id,label", labels_file)
    j.page.get_by_role("button", name="Import labels from labels.csv").click()
    expect(
        j.page.get_by_text(f"Imported labels.csv: {LABELLED_ROWS} label(s) accepted ({LABELLED_ROWS} new")
    ).to_be_visible()
    expect(j.metric("Predictions without a label")).to_have_text(f"{BATCH_ROWS + 1 - LABELLED_ROWS:,}")
    j.snap("feedback")


def retrain(j: Journey) -> None:
    j.open_page("Train")
    expect(j.metric("Labelled predictions")).to_have_text(f"{LABELLED_ROWS}")
    j.choose("Retrain budget", "quick: up to 50 trials or 45 s")
    j.page.get_by_role("button", name="Retrain now").click()
    expect(j.page.get_by_text(re.compile(r"Retrain job 2: rice v1"))).to_be_visible()
    expect(j.page.get_by_text("Retrain job 2: rice v1 · done")).to_be_visible(timeout=RETRAIN_TIMEOUT_MS)
    expect(j.page.get_by_text("Latest decision")).to_be_visible()
    # the decision and its reason, in the retrain section and in the job's panel
    decided = re.compile(r"^(Challenger v2 (promoted|not promoted)|Champion v1 kept): ")
    expect(j.page.get_by_text(decided)).to_have_count(2)
    j.snap("retrain-decision")


def see_drift(j: Journey) -> None:
    j.open_page("Monitor")
    # one day's window: the single prediction and the batch
    expect(j.page.get_by_text(re.compile(r"Champion v\d · 1 window\(s\)"))).to_be_visible(timeout=MONITOR_TIMEOUT_MS)
    expect(j.page.get_by_role("tab", name="Drift over time", selected=True)).to_be_visible()
    share, per_feature = j.page.get_by_test_id("stPlotlyChart").nth(0), j.page.get_by_test_id("stPlotlyChart").nth(1)
    expect(share.locator(".js-plotly-plot")).to_be_visible()
    expect(share).to_contain_text("share of features drifting")
    expect(per_feature).to_contain_text("Eccentricity")  # drawn once the window's drift is measured: one row a feature
    j.snap("monitor")


def test_analyst_journey_from_upload_to_drift(app, page, files, artifacts):
    j = Journey(page, app.url, files, artifacts)
    start_at_home(j)
    add_dataset(j)
    train_first_model(j)
    predict_one_row(j)
    scored = score_batch(j)
    label_predictions(j, scored)
    retrain(j)
    see_drift(j)
