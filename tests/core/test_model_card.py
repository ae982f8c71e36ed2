"""Model cards: data section, holdout metrics with intervals, Markdown and escaped HTML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import registry
from core.datasets.versions import get_version, ingest
from core.errors import ModelNotFound
from core.model_card import _top_features, build_card, holdout_metrics, md_text, wilson_interval
from tests.conftest import RICE

SCRIPT = "<script>alert(1)</script>"
FEATURES = ["Area", "Perimeter", "Major_Axis_Length", "Minor_Axis_Length", "Eccentricity", "Convex_Area", "Extent"]


def test_card_has_the_data_section_and_holdout_metrics_with_intervals(trained_settings, trained_sessions) -> None:
    with trained_sessions() as session:
        card = build_card(session=session, settings=trained_settings, dataset="rice", version=1)
        stored = get_version(session=session, name="rice", version=1)
    assert card.data == {
        "dataset": "rice",
        "version": 1,
        "content_hash": stored.content_hash,
        "target": "Class",
        "rows": 3810,
        "unlabelled_rows": 0,
        "source_file": stored.source_file,
    }
    assert {c["name"]: c["role"] for c in card.columns}["Area"] == "numeric"
    assert card.holdout_rows == 762 and card.aliases == ["champion"]

    logged = registry.get_version(trained_settings, "rice", 1).metrics
    by_key = {m.key: m for m in card.metrics}
    assert list(by_key) == ["accuracy", "f1_macro", "balanced_accuracy", "roc_auc"]
    for key, metric in by_key.items():
        assert metric.value == pytest.approx(logged[key])  # rescoring the holdout gives the logged figure
        assert metric.low < metric.value < metric.high
    assert by_key["accuracy"].method == "Wilson, n=762"
    assert by_key["f1_macro"].method == "bootstrap, 200 resamples"
    assert card.budget["trials"] == "2" and card.hyperparameters
    # from the training report: the candidates, the tuning trials and the permutation importance
    assert sum(r["winner"] for r in card.leaderboard) == 1 and len(card.tuning) >= 1
    assert {f["feature"] for f in card.top_features} <= set(FEATURES) and card.top_features
    assert card.code_version and card.created_at is not None

    markdown = card.markdown()
    assert "# Model card: rice v1" in markdown
    assert stored.content_hash in markdown and "**Target:** Class" in markdown
    assert f"{by_key['accuracy'].value:.3f} | {by_key['accuracy'].low:.3f} – {by_key['accuracy'].high:.3f}" in markdown
    assert "| Area | numeric |" in markdown and "## Top features" in markdown and "Permutation importance" in markdown

    page = card.html()
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page and "<h2>Holdout metrics</h2>" in page
    assert "<script" not in page


def test_card_of_an_unknown_version_raises(trained_settings, trained_sessions) -> None:
    with trained_sessions() as session, pytest.raises(ModelNotFound):
        build_card(session=session, settings=trained_settings, dataset="rice", version=7)


def test_user_content_is_escaped_in_markdown_and_html(settings, sessions, tmp_path: Path) -> None:
    from core.training.train import train

    frame = (
        pd.read_csv(RICE).sample(400, random_state=0).rename(columns={"Extent": SCRIPT, "Area": "Area | <b>bold</b>"})
    )
    path = tmp_path / "odd.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        ingest(session=session, path=path, name="odd", target="Class")
    with sessions.begin() as session:
        train(session=session, settings=settings, dataset="odd", trials=1)
    with sessions() as session:
        card = build_card(session=session, settings=settings, dataset="odd", version=1, resamples=50)
    assert SCRIPT in [c["name"] for c in card.columns]

    markdown = card.markdown()
    assert SCRIPT not in markdown and "\\<script\\>" in markdown
    assert "Area \\| \\<b\\>bold\\</b\\>" in markdown  # a pipe cannot split the table row

    page = card.html()
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>Area | &lt;b&gt;bold&lt;/b&gt;</td>" in page


def test_wilson_interval_matches_known_values() -> None:
    low, high = wilson_interval(90, 100)
    assert low == pytest.approx(0.8256, abs=1e-4) and high == pytest.approx(0.9448, abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    y = rng.choice(["a", "b", "c"], 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    proba[np.arange(300), np.searchsorted(["a", "b", "c"], y)] += 0.5  # better than chance
    proba /= proba.sum(axis=1, keepdims=True)
    first = holdout_metrics(y, proba, np.array(["a", "b", "c"]), resamples=100, seed=3)
    again = holdout_metrics(y, proba, np.array(["a", "b", "c"]), resamples=100, seed=3)
    assert [m.as_dict() for m in first] == [m.as_dict() for m in again]
    for metric in first:
        assert metric.low <= metric.value <= metric.high


def test_top_features_read_common_report_shapes() -> None:
    rows = [{"feature": "b", "importance": 0.1, "std": 0.01}, {"feature": "a", "importance": 0.3, "std": 0.02}]
    assert [f["feature"] for f in _top_features({"importance": rows})] == ["a", "b"]
    assert _top_features({"permutation_importance": {"x": 0.2, "y": 0.5}})[0] == {
        "feature": "y",
        "importance": 0.5,
        "std": None,
    }
    assert _top_features(None) == [] and _top_features({"importance": "n/a"}) == []


def test_md_text_keeps_user_text_on_one_inert_line() -> None:
    assert md_text("a\n# b | *c*") == "a \\# b \\| \\*c\\*"


def test_the_card_says_how_many_rows_had_no_label(settings, sessions, tmp_path: Path) -> None:
    from palmerpenguins import load_penguins

    from core.training.train import train

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)  # 344 rows, 11 without `sex`
    with sessions.begin() as session:
        ingest(session=session, path=path, name="penguins", target="sex")
    with sessions.begin() as session:
        train(session=session, settings=settings, dataset="penguins", trials=1)
    with sessions() as session:
        card = build_card(session=session, settings=settings, dataset="penguins", version=1, resamples=50)
    assert card.data["rows"] == 344 and card.data["unlabelled_rows"] == 11
    assert "- **Rows:** 344, 11 without a label left out" in card.markdown()
