"""Feedback on a real home: labels of each kind accepted or refused, relabel history, counters,
the retrain threshold and automatic mode (one job per crossing). Nothing of ours is mocked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import event, func, select, update

from core.db.models import Feedback, FeedbackHistory, Job, Prediction
from core.errors import ColumnError, InputFileError, InvalidSetting
from core.feedback import (
    dataset_classes,
    feedback_counts,
    import_labels,
    label_history,
    record_label,
    save_labels,
    set_retrain_policy,
)
from core.jobs import queue
from core.retrain import import_label_file, label_prediction, retrain_if_due
from core.scoring.batch import score_file
from core.scoring.ledger import PredictionFilter, prediction_table
from core.training.budgets import Budget
from tests.conftest import RICE


def score_rice(settings, sessions, folder: Path, *, rows: int, skip: int = 0, name: str | None = None) -> pd.DataFrame:
    """Score ``rows`` rice rows from ``skip`` as a batch; their prediction ids with the true class."""
    frame = pd.read_csv(RICE).iloc[skip : skip + rows]
    source = folder / (name or f"rice-{skip}-{rows}.csv")
    frame.drop(columns="Class").to_csv(source, index=False)
    result = score_file(
        sessions=sessions,
        settings=settings,
        dataset="rice",
        input_path=source,
        output_path=source.with_suffix(".scored.csv"),
    )
    assert result["scored"] == rows, result
    scored = pd.read_csv(result["output"])
    return pd.DataFrame(
        {
            "prediction_id": scored["prediction_id"].to_numpy(),
            "label": frame["Class"].to_numpy(),
            "predicted": scored["prediction"].to_numpy(),
        }
    )


def write_labels(path: Path, rows: list[tuple[object, object]] | pd.DataFrame) -> Path:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=["prediction_id", "label"])
    frame[["prediction_id", "label"]].to_csv(path, index=False)
    return path


def _feedback(sessions) -> dict[int, str]:
    with sessions() as session:
        return dict(session.execute(select(Feedback.prediction_id, Feedback.label)).all())


def _count(sessions, model) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _import(sessions, source, *, settings=None, who: str = "tester"):
    """Import labels; with ``settings``, as the pages and the CLI do: then whether a retrain is due."""
    with sessions.begin() as session:
        if settings is None:
            return import_labels(session=session, dataset="rice", source=source, who=who)
        return import_label_file(session=session, settings=settings, dataset="rice", source=source, who=who)


@pytest.fixture
def scored(trained_settings, trained_sessions, tmp_path) -> pd.DataFrame:
    return score_rice(trained_settings, trained_sessions, tmp_path, rows=30)


def test_a_partly_bad_csv_keeps_the_good_rows_and_reports_every_bad_one(trained_sessions, scored, tmp_path) -> None:
    ids = scored["prediction_id"].tolist()
    with trained_sessions.begin() as session:  # a prediction of another dataset, in the same ledger
        session.add(
            Prediction(
                id=10_000,
                dataset="grains",
                model_name="grains",
                model_version=1,
                inputs="{}",
                predicted_class="A",
                probabilities='{"A": 1.0}',
                confidence=1.0,
                source="api",
            )
        )
    path = write_labels(
        tmp_path / "labels.csv",
        [
            (ids[0], "Cammeo"),
            (ids[1], "  osmancik "),  # case and spaces do not matter
            (ids[2], "CAMMEO"),
            (999_999, "Cammeo"),  # row 4: unknown prediction
            ("abc", "Cammeo"),  # row 5: not an id
            (ids[3], "Basmati"),  # row 6: a class the model does not know
            (ids[0], "Osmancik"),  # row 7: the same prediction twice
            (ids[4], ""),  # row 8: no label
            (10_000, "A"),  # row 9: another dataset's prediction
            (f"{ids[5]}.0", "Osmancik"),  # a spreadsheet's 12.0 is prediction 12
        ],
    )
    outcome = _import(trained_sessions, path)
    assert (outcome.accepted, outcome.rejected) == (4, 6)
    assert (outcome.created, outcome.replaced, outcome.unchanged) == (4, 0, 0)
    assert list(outcome.reasons) == ["row 4", "row 5", "row 6", "row 7", "row 8", "row 9"]
    assert outcome.reasons["row 4"].startswith("No prediction 999999 in the ledger.")
    assert outcome.reasons["row 5"].startswith("'abc' is not a prediction id")
    assert "'Basmati' is not a class of model rice v1" in outcome.reasons["row 6"]
    assert "new version of the dataset and retrain" in outcome.reasons["row 6"]
    assert f"Prediction {ids[0]} is labelled twice (also at row 1)" in outcome.reasons["row 7"]
    assert "The label is empty" in outcome.reasons["row 8"]
    assert "made for dataset 'grains', not 'rice'" in outcome.reasons["row 9"]
    assert outcome.as_dict()["reasons"] == outcome.reasons
    assert _feedback(trained_sessions) == {ids[0]: "Cammeo", ids[1]: "Osmancik", ids[2]: "Cammeo", ids[5]: "Osmancik"}
    assert _count(trained_sessions, FeedbackHistory) == 4


def test_a_second_label_replaces_the_first_and_keeps_the_history(trained_sessions, scored, tmp_path) -> None:
    first, other = (int(i) for i in scored["prediction_id"][:2])
    _import(trained_sessions, write_labels(tmp_path / "a.csv", [(first, "Cammeo"), (other, "Cammeo")]), who="ann")
    with trained_sessions.begin() as session:
        record_label(session=session, prediction_id=other, label="osmancik", who="form")
    again = _import(trained_sessions, write_labels(tmp_path / "b.csv", [(first, "Osmancik"), (other, "Osmancik")]))
    assert (again.accepted, again.created, again.replaced, again.unchanged) == (2, 0, 1, 1)
    assert _feedback(trained_sessions) == {first: "Osmancik", other: "Osmancik"}
    with trained_sessions() as session:
        history = [(h.old_label, h.new_label, h.who) for h in label_history(session=session, prediction_id=first)]
        assert history == [(None, "Cammeo", "ann"), ("Cammeo", "Osmancik", "tester")]
        stored = session.scalar(select(Feedback).where(Feedback.prediction_id == first))
        assert stored.who == "tester" and stored.updated_at > stored.created_at
    assert _count(trained_sessions, FeedbackHistory) == 4  # the unchanged label wrote nothing


def test_a_rejected_row_changes_nothing_already_stored(trained_sessions, scored, tmp_path) -> None:
    first = int(scored["prediction_id"][0])
    _import(trained_sessions, write_labels(tmp_path / "a.csv", [(first, "Cammeo")]))
    outcome = _import(trained_sessions, write_labels(tmp_path / "b.csv", [(first, "Jasmine")]))
    assert (outcome.accepted, outcome.rejected) == (0, 1)
    assert _feedback(trained_sessions) == {first: "Cammeo"}
    assert _count(trained_sessions, FeedbackHistory) == 1


def test_a_file_without_the_columns_or_rows_is_refused(trained_sessions, tmp_path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,class\n1,Cammeo\n")
    with pytest.raises(ColumnError, match="has no prediction_id and no label column"):
        _import(trained_sessions, wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("prediction_id,label\n")
    with pytest.raises(InputFileError, match="has a header but no rows"):
        _import(trained_sessions, empty)


def test_thousands_of_labels_are_checked_in_bulk_and_written_in_one_go(
    trained_settings, trained_sessions, tmp_path
) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=3000)
    scored.loc[10, "label"] = "Arborio"
    scored["label"] = scored["label"].str.upper()  # a scored file with a label column: other columns ignored
    path = tmp_path / "labels.csv"
    scored.to_csv(path, index=False)
    statements = []
    engine = trained_sessions.kw["bind"]

    def count(*_args) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        outcome = _import(trained_sessions, path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (outcome.accepted, outcome.rejected) == (2999, 1)
    assert list(outcome.reasons) == ["row 11"]
    assert _count(trained_sessions, Feedback) == 2999
    assert len(statements) < 40  # a few IN (...) reads per 500 ids and one write per table, not one per row


def test_the_table_of_recent_predictions_filters_and_saves_through_one_call(
    trained_settings, trained_sessions, scored, tmp_path
) -> None:
    later = score_rice(trained_settings, trained_sessions, tmp_path, rows=5, skip=100)
    with trained_sessions() as session:
        assert dataset_classes(session=session, dataset="rice") == ["Cammeo", "Osmancik"]
        table = prediction_table(session=session, dataset="rice")
        assert len(table) == 35 and table["prediction_id"].is_monotonic_decreasing
        assert table["label"].isna().all()
        batch = session.scalar(select(Prediction.batch_id).where(Prediction.id == int(later["prediction_id"][0])))
        only = prediction_table(session=session, dataset="rice", where=PredictionFilter(batch_id=batch))
        assert sorted(only["prediction_id"]) == sorted(later["prediction_id"])
        sure = prediction_table(session=session, dataset="rice", where=PredictionFilter(min_confidence=0.99))
        assert (sure["confidence"] >= 0.99).all()
        assert prediction_table(session=session, dataset="rice", where=PredictionFilter(batch_id="")).empty
        tomorrow = table["created_at"].max().to_pydatetime() + timedelta(days=1)
        assert prediction_table(session=session, dataset="rice", where=PredictionFilter(since=tomorrow)).empty
    edits = {int(later["prediction_id"][0]): "cammeo", int(later["prediction_id"][1]): "Long grain"}
    with trained_sessions.begin() as session:
        outcome = save_labels(session=session, dataset="rice", labels=edits, who="table")
    assert (outcome.accepted, outcome.rejected) == (1, 1)
    assert list(outcome.reasons) == [f"prediction {int(later['prediction_id'][1])}"]
    with trained_sessions() as session:
        labelled = prediction_table(session=session, dataset="rice", where=PredictionFilter(labelled=True))
        assert labelled[["label", "labelled_by"]].values.tolist() == [["Cammeo", "table"]]
        pending = prediction_table(session=session, dataset="rice", where=PredictionFilter(labelled=False))
        assert len(pending) == 34


def test_counters_and_the_threshold_offer_a_retrain(trained_settings, trained_sessions, scored, tmp_path) -> None:
    with trained_sessions() as session:
        counts = feedback_counts(session=session, settings=trained_settings, dataset="rice")
    assert (counts.predictions, counts.pending, counts.labelled, counts.since_champion) == (30, 30, 0, 0)
    assert (counts.threshold, counts.auto, counts.champion, counts.due) == (50, False, 1, False)

    with trained_sessions.begin() as session:
        set_retrain_policy(session=session, settings=trained_settings, dataset="rice", threshold=12)
    outcome = _import(trained_sessions, scored.head(12), settings=trained_settings)
    assert outcome.retrain.due and outcome.retrain.job_id is None
    assert "12 labels since champion v1 (threshold 12): a retrain is due" in outcome.retrain.message
    with trained_sessions() as session:
        counts = feedback_counts(session=session, settings=trained_settings, dataset="rice")
    assert (counts.pending, counts.labelled, counts.since_champion, counts.due) == (18, 12, 12, True)
    assert _count(trained_sessions, Job) == 0  # offered, not started

    with trained_sessions.begin() as session:  # labels older than the champion do not count
        session.execute(update(Feedback).values(created_at=counts.champion_registered - timedelta(seconds=5)))
    with trained_sessions() as session:
        counts = feedback_counts(session=session, settings=trained_settings, dataset="rice")
    assert (counts.labelled, counts.since_champion, counts.due) == (12, 0, False)


def test_the_threshold_must_be_a_positive_whole_number(trained_settings, trained_sessions) -> None:
    for wrong in (0, -3, 2.5):
        with pytest.raises(InvalidSetting, match="whole number of labels from 1"), trained_sessions.begin() as session:
            set_retrain_policy(session=session, settings=trained_settings, dataset="rice", threshold=wrong)


def test_automatic_mode_starts_one_retrain_per_crossing(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=40)
    with trained_sessions.begin() as session:
        set_retrain_policy(session=session, settings=trained_settings, dataset="rice", threshold=10, auto=True)

    first = _import(trained_sessions, scored.iloc[:10], settings=trained_settings)
    assert first.retrain.job_id is not None and "started automatically" in first.retrain.message
    with trained_sessions() as session:
        job = queue.get_job(session=session, job_id=first.retrain.job_id)
    assert (job.kind, job.status, job.dataset_version) == ("retrain", "queued", 1)

    # more labels while that job is queued: nothing new, even when they cross the threshold again
    below = _import(trained_sessions, scored.iloc[10:15], settings=trained_settings)
    assert below.retrain.job_id is None and below.retrain.due
    assert "started automatically at 10 labels (job 1); the next one starts at 20" in below.retrain.message
    crossed = _import(trained_sessions, scored.iloc[15:20], settings=trained_settings)
    assert crossed.retrain.job_id is None
    assert "not started: Only one training job per dataset at a time: job 1 is queued" in crossed.retrain.message
    assert _count(trained_sessions, Job) == 1

    with trained_sessions.begin() as session:  # the job ends (here: cancelled)
        queue.cancel_job(session=session, job_id=first.retrain.job_id)
    with trained_sessions.begin() as session:  # the next label starts the crossing at 20 that had to wait
        deferred = label_prediction(
            session=session, settings=trained_settings, prediction_id=int(scored["prediction_id"][0]), label="Cammeo"
        )[1]
    assert deferred.job_id not in (None, first.retrain.job_id)
    with trained_sessions.begin() as session:
        queue.cancel_job(session=session, job_id=deferred.job_id)
    later = _import(trained_sessions, scored.iloc[20:29], settings=trained_settings)  # 29 < 20 + 10
    assert later.retrain.job_id is None and "the next one starts at 30" in later.retrain.message
    last = _import(trained_sessions, scored.iloc[29:31], settings=trained_settings)
    assert last.retrain.job_id is not None
    assert _count(trained_sessions, Job) == 3


def test_automatic_mode_waits_while_another_job_runs(trained_settings, trained_sessions, tmp_path) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=12)
    with trained_sessions.begin() as session:
        set_retrain_policy(session=session, settings=trained_settings, dataset="rice", threshold=10, auto=True)
        training = queue.submit_training(session=session, dataset="rice", budget=Budget(trials=1))
    outcome = _import(trained_sessions, scored.iloc[:11], settings=trained_settings)
    assert outcome.retrain.job_id is None
    assert f"not started: Only one training job per dataset at a time: job {training.id}" in outcome.retrain.message
    assert _count(trained_sessions, Job) == 1
    with trained_sessions.begin() as session:
        queue.cancel_job(session=session, job_id=training.id)
    with trained_sessions.begin() as session:  # not recorded as a crossing: the next label starts it
        trigger = retrain_if_due(session=session, settings=trained_settings, dataset="rice")
    assert trigger.job_id is not None


def test_too_few_labels_are_reported_not_started(trained_settings, trained_sessions, scored) -> None:
    with trained_sessions.begin() as session:
        set_retrain_policy(session=session, settings=trained_settings, dataset="rice", threshold=3, auto=True)
    outcome = _import(trained_sessions, scored.head(3), settings=trained_settings)
    assert outcome.retrain.job_id is None
    assert "needs at least 10 labelled predictions" in outcome.retrain.message
