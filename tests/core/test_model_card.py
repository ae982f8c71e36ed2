"""Model cards: data section, holdout metrics with intervals, Markdown and escaped HTML."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core import model_card, registry
from core.datasets.versions import get_version, ingest
from core.errors import ModelNotFound
from core.model_card import _top_features, build_card, md_text
from core.training.budgets import Budget
from core.training.factories import LABELS, estimator_params, make_xgboost
from core.training.train import prepare_tuning, train
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
        "feedback_rows": 0,
    }
    assert {c["name"]: c["role"] for c in card.columns}["Area"] == "numeric"
    assert card.holdout_rows == 762 and card.aliases == ["champion"]

    logged = registry.get_version(trained_settings, "rice", 1).metrics
    by_key = {m.key: m for m in card.metrics}
    assert list(by_key) == ["accuracy", "f1_macro", "balanced_accuracy", "roc_auc", "log_loss"]
    for key, metric in by_key.items():
        assert metric.value == pytest.approx(logged[key])  # rescoring the holdout gives the logged figure
        assert metric.low < metric.value < metric.high
    assert by_key["accuracy"].method == "Wilson, n=762"
    assert by_key["f1_macro"].method == "bootstrap, 200 resamples"
    assert card.budget["XGBoost trials asked for"] == "2" and card.budget["share of rows held out"] == "20%"
    assert card.hyperparameters
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

    frame = (
        pd.read_csv(RICE).sample(400, random_state=0).rename(columns={"Extent": SCRIPT, "Area": "Area | <b>bold</b>"})
    )
    path = tmp_path / "odd.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        ingest(session=session, path=path, name="odd", target="Class")
    with sessions.begin() as session:
        train(session=session, settings=settings, dataset="odd", budget=Budget(trials=1))
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

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)  # 344 rows, 11 without `sex`
    with sessions.begin() as session:
        ingest(session=session, path=path, name="penguins", target="sex")
    with sessions.begin() as session:
        train(session=session, settings=settings, dataset="penguins", budget=Budget(trials=1))
    with sessions() as session:
        card = build_card(session=session, settings=settings, dataset="penguins", version=1, resamples=50)
    assert card.data["rows"] == 344 and card.data["unlabelled_rows"] == 11
    assert "- **Rows:** 344, 11 without a label left out" in card.markdown()


def _penguins(sessions, tmp_path: Path) -> Path:
    from palmerpenguins import load_penguins

    path = tmp_path / "penguins.csv"
    load_penguins().to_csv(path, index=False)  # three species
    with sessions.begin() as session:
        ingest(session=session, path=path, name="penguins", target="species")
    return path


def test_the_objective_is_the_one_the_fitted_model_used(settings, sessions, tmp_path: Path) -> None:
    _penguins(sessions, tmp_path)
    with sessions() as session:
        tuning = prepare_tuning(session=session, dataset="penguins", dataset_version=None, holdout_fraction=0.2, seed=0)
    pipeline = make_xgboost(tuning.data.features, {"n_estimators": 5}).fit(tuning.data.X_train, tuning.data.y_train)
    # what training logs for the run: the unfitted estimator's settings, whose objective is XGBoost's default
    logged = {k: str(v) for k, v in estimator_params(pipeline).items()} | {"estimator": "xgboost"}
    assert logged["objective"] == "binary:logistic"

    settings_shown = model_card.describe_params(logged, pipeline)[1]
    assert settings_shown["objective"] == "multi:softprob"  # three classes
    assert "objective" not in model_card.describe_params(logged)[1]  # nothing to read it from: not shown wrong
    assert not set(settings_shown) & {"estimator", "n_jobs", "verbosity", "random_state", "missing"}

    two_classes = tuning.data.y_train != "Gentoo"
    binary = make_xgboost(tuning.data.features, {"n_estimators": 5}).fit(
        tuning.data.X_train[two_classes], tuning.data.y_train[two_classes]
    )
    assert model_card.describe_params(logged, binary)[1]["objective"] == "binary:logistic"


def test_a_retrained_card_shows_rows_from_feedback_and_no_internal_keys(settings, sessions, tmp_path: Path) -> None:
    path = _penguins(sessions, tmp_path)
    feedback = pd.read_csv(path).sample(25, random_state=1)  # labelled predictions, as a retrain adds them
    with sessions.begin() as session:
        first = train(session=session, settings=settings, dataset="penguins", budget=Budget(trials=1))
    holdout = registry.load_document(settings, first.run_id, "split.json")["holdout_row_ids"]
    with sessions.begin() as session:  # as core.retrain trains a challenger
        train(
            session=session,
            settings=settings,
            dataset="penguins",
            budget=Budget(trials=1),
            extra_rows=feedback,
            holdout_row_ids=holdout,
        )
    with sessions() as session:
        card = build_card(session=session, settings=settings, dataset="penguins", version=2, resamples=50)
        before = build_card(session=session, settings=settings, dataset="penguins", version=1, resamples=50)
    # nothing of Sift's bookkeeping or a library's placeholders, in the card or its tables
    for shown in (card, before):
        text = shown.markdown()
        for internal in ("extra\\_rows", "extra_rows", "holdout = given", "| given |", "deprecated", "study\\_name"):
            assert internal not in text, internal
        assert not set(shown.hyperparameters) & model_card.HIDDEN_PARAMS
        assert "binary:logistic" not in text  # three classes
        assert shown.estimator in LABELS.values()  # in words: "logistic regression", not logistic_regression

    assert card.data["rows"] == 344 and card.data["feedback_rows"] == 25
    assert before.data["feedback_rows"] == 0
    markdown = card.markdown()
    assert "- **Rows:** 344 from the file" in markdown
    assert "- **Rows from feedback:** 25 labelled predictions, added to training only" in markdown
    assert "Rows from feedback" not in before.markdown()
    assert card.budget["holdout"].startswith("the champion's holdout rows")
