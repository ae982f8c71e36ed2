"""The feedback loop end to end on rice: score a batch, label a slice with the true classes (a CSV
through `python -m core feedback`), cross the threshold, retrain (`python -m core retrain`), decide,
and score again with whichever model is champion then. Real processes, real stores."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from core import registry
from core.db.models import AliasEvent, Prediction
from core.feedback import feedback_counts
from core.scoring.batch import score_file
from tests.cli.conftest import ok
from tests.conftest import RICE

TOLERANCE = 0.005


def _score(settings, sessions, frame: pd.DataFrame, path) -> dict:
    frame.drop(columns="Class").to_csv(path, index=False)
    return score_file(
        sessions=sessions,
        settings=settings,
        dataset="rice",
        input_path=path,
        output_path=path.with_suffix(".scored.csv"),
    )


def test_the_feedback_loop(trained_settings, trained_sessions, tmp_path) -> None:
    home = trained_settings.home
    rice = pd.read_csv(RICE).sample(frac=1.0, random_state=7).reset_index(drop=True)

    # 1. a batch is scored by champion v1
    batch = _score(trained_settings, trained_sessions, rice.iloc[:300], tmp_path / "monday.csv")
    assert (batch["scored"], batch["model_version"]) == (300, 1)
    scored = pd.read_csv(batch["output"])

    # 2. the analyst labels 60 of them with their true class, in two files; the threshold is 50
    assert ok(home, "feedback", "--dataset", "rice", "--threshold", "50")["counts"]["threshold"] == 50
    labels = pd.DataFrame({"prediction_id": scored["prediction_id"][:60], "label": rice["Class"][:60]})
    labels.iloc[:40].to_csv(tmp_path / "first.csv", index=False)
    labels.iloc[40:].assign(label=lambda f: f["label"].str.lower()).to_csv(tmp_path / "second.csv", index=False)
    first = ok(home, "feedback", "--dataset", "rice", "--input", str(tmp_path / "first.csv"), "--who", "ana")
    assert (first["accepted"], first["rejected"], first["reasons"]) == (40, 0, {})
    assert first["retrain"] == {"due": False, "auto": False, "job_id": None, "message": ""}
    assert first["counts"] | {"champion_registered": None} == {
        "dataset": "rice",
        "predictions": 300,
        "labelled": 40,
        "pending": 260,
        "since_champion": 40,
        "champion": 1,
        "champion_registered": None,
        "threshold": 50,
        "auto": False,
        "due": False,
        "next_auto_at": None,
    }

    # 3. the second file crosses the threshold: a retrain is offered
    second = ok(home, "feedback", "--dataset", "rice", "--input", str(tmp_path / "second.csv"), "--who", "ana")
    assert (second["accepted"], second["rejected"]) == (20, 0)
    assert second["retrain"]["due"] and second["retrain"]["job_id"] is None
    assert "60 labels since champion v1 (threshold 50): a retrain is due" in second["retrain"]["message"]

    # 4. the retrain: champion v1's data plus the 60 labels, judged on v1's holdout and the 12 latest labels
    decision = ok(home, "retrain", "--dataset", "rice", "--trials", "1")
    assert decision["challenger_version"] == 2 and decision["champion_version"] == 1
    assert decision["rows"] == {"holdout": 762, "recent_feedback": 12}
    assert decision["feedback"]["training_rows"] + decision["feedback"]["holdout_duplicates"] == 48
    for model in ("champion", "challenger"):
        assert set(decision[model]) == {"holdout", "recent_feedback"}
        assert set(decision[model]["holdout"]) == {"accuracy", "f1_macro", "balanced_accuracy", "roc_auc", "log_loss"}
    # judged on the holdout only: 12 recent labels are too few to weigh in (fewer than 50)
    not_worse = all(
        decision["challenger"]["holdout"][m] >= decision["champion"]["holdout"][m] - TOLERANCE
        for m in ("f1_macro", "roc_auc", "balanced_accuracy")
    )
    assert decision["promoted"] is not_worse
    assert "too few recent labels to judge (12 < 50)" in decision["reason"]
    champion = 2 if decision["promoted"] else 1
    assert registry.alias_version(trained_settings, "rice") == champion
    history = ok(home, "history", "--dataset", "rice")["history"]
    assert (history[0]["who"], history[0]["action"]) == ("retrain", "promote" if not_worse else "not promoted")
    assert history[0]["why"] == decision["reason"]

    # 5. the next batch is scored by whichever model is champion now, in this very process
    again = _score(trained_settings, trained_sessions, rice.iloc[300:400], tmp_path / "tuesday.csv")
    assert again["model_version"] == champion
    with trained_sessions() as session:
        stmt = select(Prediction.model_version).where(Prediction.batch_id == again["batch_id"])
        versions = set(session.scalars(stmt))
        assert versions == {champion}
        counts = feedback_counts(session=session, settings=trained_settings, dataset="rice")
        stored = session.scalars(select(AliasEvent).where(AliasEvent.who == "retrain")).one()
    assert stored.details["challenger"] == decision["challenger"]
    assert (counts.predictions, counts.labelled) == (400, 60)
    assert counts.since_champion == (0 if decision["promoted"] else 60)
