"""Issue 12, failure classes 2 and 7, on real tables (scikit-learn's breast cancer and wine sets) in a
real home with a real MLflow store: labels of the table's own type through feedback and retraining,
a retrain that registers nothing until it has succeeded, and promotion on evidence (every judged
metric on the same rows, a recent-feedback slice only when it is large enough). Nothing of ours is
mocked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy import select

from core import registry
from core.champion import load_champion
from core.datasets.versions import ingest
from core.db.models import AliasEvent, Feedback
from core.feedback import import_labels, record_label, save_labels
from core.retrain import (
    STAGE_COMPARING,
    decide,
    decision_table,
    feedback_split,
    retrain,
    retrain_decisions,
)
from core.scoring.batch import score_file
from core.training.budgets import Budget
from core.training.evaluate import classification_metrics
from core.training.progress import STAGE_EVALUATING, STAGE_REGISTERING
from core.training.train import train
from tests.core.test_feedback_loop import write_labels

TRIALS = 1
ROWS = 180  # rows of each table: small, so a retrain takes seconds


def _cancer(rows: int = ROWS) -> pd.DataFrame:
    """Breast cancer measurements with their integer diagnosis (0 malignant, 1 benign), a stratified sample."""
    frame = load_breast_cancer(as_frame=True).frame
    columns = ["mean radius", "mean texture", "mean smoothness", "worst concavity", "worst symmetry", "target"]
    sample, _ = train_test_split(frame[columns], train_size=rows, stratify=frame["target"], random_state=0)
    return sample.reset_index(drop=True)


def _wine(rows: int = ROWS) -> pd.DataFrame:
    """Wine measurements with their integer cultivar (0, 1, 2): three integer classes."""
    frame = load_wine(as_frame=True).frame
    columns = ["alcohol", "malic_acid", "flavanoids", "color_intensity", "proline", "target"]
    return frame[columns].sample(n=min(rows, len(frame)), random_state=0).reset_index(drop=True)


TABLES = {
    "integer": lambda: _cancer(),
    "boolean": lambda: _cancer().assign(target=lambda f: f["target"] == 1),  # written True/False
    "yes-no": lambda: _cancer().assign(target=lambda f: np.where(f["target"] == 1, "yes", "no")),
    "three-integers": lambda: _wine(),
    # a few rows without a label: the column reads as decimals (1.0), the classes must stay 0 and 1
    "integers-with-gaps": lambda: _cancer().assign(
        target=lambda f: f["target"].astype(object).where(f.index % 30 != 7)
    ),
}


def _champion(settings, sessions, folder: Path, frame: pd.DataFrame, name: str) -> Path:
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        ingest(session=session, path=path, name=name, target="target")
    with sessions.begin() as session:
        train(session=session, settings=settings, dataset=name, budget=Budget(trials=TRIALS))
    return path


def _score(settings, sessions, folder: Path, frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Score ``frame`` (without its target) as a batch; the prediction ids beside the true labels."""
    source = folder / f"{name}-batch.csv"
    frame.drop(columns="target").to_csv(source, index=False)
    result = score_file(
        sessions=sessions, settings=settings, dataset=name, input_path=source, output_path=folder / f"{name}-out.csv"
    )
    assert result["scored"] == len(frame), result
    scored = pd.read_csv(result["output"], dtype={"prediction": str})
    return pd.DataFrame({"prediction_id": scored["prediction_id"], "label": frame["target"].to_numpy()}).assign(
        predicted=scored["prediction"].to_numpy()
    )


def _registry_state(settings, sessions, name: str) -> tuple:
    """Versions with their aliases, and the alias history: what a failed retrain must leave alone."""
    versions = [(v.version, tuple(v.aliases)) for v in registry.list_versions(settings, name)]
    with sessions() as session:
        history = session.execute(
            select(AliasEvent.alias, AliasEvent.action, AliasEvent.from_version, AliasEvent.to_version).where(
                AliasEvent.model_name == name
            )
        ).all()
    return versions, [tuple(h) for h in history]


# --- (a) integer classes, labelled from a CSV and from the API functions --------------------------


def test_a_retrain_with_integer_classes_and_integer_labels_succeeds(settings, sessions, tmp_path) -> None:
    table = _cancer()
    _champion(settings, sessions, tmp_path, table, "cancer")
    champion = load_champion(settings, "cancer")
    assert champion.classes == [0, 1] and all(type(c) is int for c in champion.classes)

    scored = _score(settings, sessions, tmp_path, table.iloc[:60], "cancer")
    assert set(scored["predicted"]) <= {"0", "1"}  # the ledger writes the class as it is: 0 or 1
    from_file = write_labels(tmp_path / "labels.csv", scored.iloc[:30])  # prediction_id,label with 0 and 1
    assert set(pd.read_csv(from_file, dtype=str)["label"]) == {"0", "1"}
    with sessions.begin() as session:
        outcome = import_labels(session=session, dataset="cancer", source=from_file, who="file")
        assert outcome.rejected == 0, outcome.reasons
        # the API functions, given labels as a program would: numbers, numpy integers, text
        api = scored.iloc[30:]
        for i, (pid, label) in enumerate(zip(api["prediction_id"][:15], api["label"][:15], strict=True)):
            given = [int(label), np.int64(label), str(label)][i % 3]
            record_label(session=session, prediction_id=int(pid), label=given, who="api")
        rest = api.iloc[15:]
        outcome = save_labels(
            session=session,
            dataset="cancer",
            labels={int(p): int(v) for p, v in zip(rest["prediction_id"], rest["label"], strict=True)},
        )
        assert outcome.rejected == 0, outcome.reasons
    with sessions() as session:
        stored = dict(session.execute(select(Feedback.prediction_id, Feedback.label)).all())
    assert stored == {int(p): str(v) for p, v in zip(scored["prediction_id"], scored["label"], strict=True)}

    before = _registry_state(settings, sessions, "cancer")
    with sessions.begin() as session:
        result = retrain(session=session, settings=settings, dataset="cancer", budget=Budget(trials=TRIALS))
    assert result.challenger_version == 2 and result.rows["recent_feedback"] == 12
    versions, history = _registry_state(settings, sessions, "cancer")
    assert [v for v, _ in versions] == [2, 1] and len(history) == len(before[1]) + 2  # initial + the decision
    challenger = registry.get_version(settings, "cancer", 2)
    contract = registry.load_document(settings, challenger.run_id, "input_contract.json")
    assert contract["classes"] == [0, 1]  # still integers, not "0"/"1"
    for role in ("champion", "challenger"):
        for key in ("holdout", "recent_feedback"):
            assert result.as_dict()[role][key]["f1_macro"] is not None
    # (d) on real data: 12 recent labels do not weigh in, and the reason says so
    assert "on recent feedback (12 labels): too few recent labels to judge (12 < 50)" in result.reason
    # two classes: the champion was chosen on ROC AUC, which leads the judgement alone
    assert result.as_dict()["judged_metrics"] == ["roc_auc"]
    assert result.as_dict()["verdicts"]["recent_feedback"] == {"roc_auc": "not judged"}

    # the stored decision, as the Train page shows it (decision_table), with each figure's verdict
    with sessions() as session:
        stored = retrain_decisions(session=session, dataset="cancer")[0]
    assert stored["reason"] == result.reason and stored["verdicts"] == result.as_dict()["verdicts"]
    shown = decision_table(stored)
    verdict = dict(zip(shown["slice"] + " / " + shown["metric"], shown["verdict"], strict=True))
    assert verdict["the champion's holdout (36 rows) / accuracy"] == "shown, not judged"
    assert verdict["the champion's holdout (36 rows) / roc_auc"] in ("not worse", "worse beyond the tolerance")
    assert verdict["recent feedback (12 rows) / roc_auc"] == (
        "not judged: too few recent labels to judge (12 < 50); the decision rests on the holdout"
    )
    assert verdict["recent feedback (12 rows) / f1_macro"] == "shown, not judged"  # not the metric chosen on
    old = {k: v for k, v in stored.items() if k not in ("verdicts", "notes")}  # a decision stored before verdicts
    assert set(decision_table(old)["verdict"]) == {""}

    # a spreadsheet's 1.0 (a CSV cell, a JSON number) names class 1 too: the same labels, unchanged
    decimals = scored.iloc[:6].assign(label=lambda f: f["label"].astype(float))
    with sessions.begin() as session:
        outcome = import_labels(
            session=session, dataset="cancer", source=write_labels(tmp_path / "decimals.csv", decimals), who="file"
        )
        assert (outcome.rejected, outcome.unchanged) == (0, 6), outcome.reasons
        pid, label = int(scored["prediction_id"][6]), float(scored["label"][6])
        assert record_label(session=session, prediction_id=pid, label=label, who="api").label == str(int(label))


@pytest.mark.parametrize("kind", ["boolean", "yes-no", "three-integers", "integers-with-gaps"])
def test_labels_of_the_tables_own_type_round_trip_through_feedback_and_retraining(
    settings, sessions, tmp_path, kind
) -> None:
    table = TABLES[kind]()
    _champion(settings, sessions, tmp_path, table, "table")
    labelled = table[table["target"].notna()].reset_index(drop=True)
    classes = sorted(pd.unique(labelled["target"]).tolist())
    champion = load_champion(settings, "table")
    assert champion.classes == classes and [type(c) for c in champion.classes] == [type(c) for c in classes]

    scored = _score(settings, sessions, tmp_path, labelled.iloc[:60], "table")
    assert set(scored["predicted"]) <= {str(c) for c in classes}
    labels = write_labels(tmp_path / "labels.csv", scored)  # the table's own labels, as pandas writes them
    with sessions.begin() as session:
        outcome = import_labels(session=session, dataset="table", source=labels, who="file")
    assert outcome.rejected == 0, outcome.reasons
    with sessions() as session:
        stored = set(session.scalars(select(Feedback.label)))
        holdout = pd.DataFrame(columns=list(table.columns))
        split = feedback_split(
            session=session,
            settings=settings,
            dataset="table",
            features=champion.features,
            target="target",
            classes=champion.classes,
            holdout=holdout,
        )
    assert stored <= {str(c) for c in classes}
    assert split.recent["target"].tolist() == scored["label"].tolist()[-12:]  # typed like the table's target
    assert split.recent["target"].dtype == pd.Series(classes).dtype

    with sessions.begin() as session:
        result = retrain(session=session, settings=settings, dataset="table", budget=Budget(trials=TRIALS))
    contract = registry.load_document(
        settings, registry.get_version(settings, "table", result.challenger_version).run_id, "input_contract.json"
    )
    assert contract["classes"] == json.loads(json.dumps(champion.classes))
    table_shown = decision_table(result.as_dict())
    assert table_shown["challenger"].notna().any() and "verdict" in table_shown.columns


# --- (b) a failure after fitting registers nothing ------------------------------------------------


def test_a_retrain_that_fails_after_fitting_leaves_registry_aliases_and_history(settings, sessions, tmp_path) -> None:
    """The worker loses its database while the fitted challenger is being compared with the champion."""
    table = _cancer()
    _champion(settings, sessions, tmp_path, table, "cancer")
    scored = _score(settings, sessions, tmp_path, table.iloc[:40], "cancer")
    with sessions.begin() as session:
        assert import_labels(session=session, dataset="cancer", source=scored, who="tester").rejected == 0
    before = _registry_state(settings, sessions, "cancer")
    stages: list[str] = []

    def progress(update) -> None:
        stages.append(update["stage"])
        if update["stage"] == STAGE_COMPARING:
            raise RuntimeError("the worker lost its database")

    with pytest.raises(RuntimeError, match="lost its database"), sessions.begin() as session:
        retrain(session=session, settings=settings, dataset="cancer", budget=Budget(trials=TRIALS), progress=progress)
    assert _registry_state(settings, sessions, "cancer") == before
    assert STAGE_EVALUATING in stages and STAGE_REGISTERING not in stages, stages  # past fitting, not registered
    assert registry.alias_version(settings, "cancer") == 1
    with pytest.raises(registry.ModelNotFound):
        registry.alias_version(settings, "cancer", registry.CHALLENGER)

    # the same labels then retrain fine: exactly one new version, explained by its decision
    with sessions.begin() as session:
        result = retrain(session=session, settings=settings, dataset="cancer", budget=Budget(trials=TRIALS))
    versions, _ = _registry_state(settings, sessions, "cancer")
    assert [v for v, _ in versions] == [2, 1] and result.challenger_version == 2
    with sessions() as session:
        assert [d["challenger_version"] for d in retrain_decisions(session=session, dataset="cancer")] == [2]


# --- (c) and (d) promotion on evidence ------------------------------------------------------------


def _both(holdout: dict, recent: dict) -> dict:
    return {"holdout": holdout, "recent_feedback": recent}


def test_a_challenger_level_on_macro_f1_but_ranking_worse_is_not_promoted() -> None:
    """Same predicted classes (so the same macro F1 and balanced accuracy), probabilities that rank worse."""
    data = load_breast_cancer()
    x_train, x_hold, y_train, y_hold = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=0
    )
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x_train, y_train)
    sharp = model.predict_proba(x_hold)
    blunt = np.where(sharp >= 0.5, 0.55, 0.45)  # the same class for every row, but no ranking within a class
    champion = classification_metrics(y_hold, sharp, model.classes_)
    challenger = classification_metrics(y_hold, blunt, model.classes_)
    assert challenger["f1_macro"] == champion["f1_macro"]
    assert challenger["balanced_accuracy"] == champion["balanced_accuracy"]
    assert challenger["roc_auc"] < champion["roc_auc"] - 0.01
    rows = {"holdout": len(y_hold), "recent_feedback": 60}
    promoted, reason = decide(
        _both(champion, champion),
        _both(challenger, challenger),
        tolerance=0.005,
        champion_version=1,
        challenger_version=2,
        rows=rows,
    )
    assert not promoted
    auc = f"ROC AUC {challenger['roc_auc']:.4f} vs {champion['roc_auc']:.4f}"
    assert reason.startswith("Champion v1 kept: challenger v2 is worse beyond the tolerance of 0.005 on the ")
    assert "the champion's holdout in ROC AUC" in reason and auc in reason
    assert f"macro F1 {challenger['f1_macro']:.4f} vs {champion['f1_macro']:.4f} (+0.0000)" in reason


def test_the_issues_challenger_is_not_promoted_and_twelve_recent_labels_do_not_weigh_in() -> None:
    """Holdout ROC AUC 0.757 -> 0.704 and balanced accuracy 0.661 -> 0.611 with macro F1 level; 12 recent labels
    scored 1.0 against 0.45."""
    champion = _both(
        {"accuracy": 0.70, "f1_macro": 0.640, "roc_auc": 0.757, "balanced_accuracy": 0.661},
        {"accuracy": 0.50, "f1_macro": 0.45, "roc_auc": 0.45, "balanced_accuracy": 0.45},
    )
    challenger = _both(
        {"accuracy": 0.69, "f1_macro": 0.637, "roc_auc": 0.704, "balanced_accuracy": 0.611},
        {"accuracy": 1.0, "f1_macro": 1.0, "roc_auc": 1.0, "balanced_accuracy": 1.0},
    )
    rows = {"holdout": 69, "recent_feedback": 12}
    common = {"tolerance": 0.005, "champion_version": 1, "challenger_version": 2, "rows": rows}
    promoted, reason = decide(champion, challenger, **common)
    assert not promoted
    assert reason == (
        "Champion v1 kept: challenger v2 is worse beyond the tolerance of 0.005 on the champion's holdout in "
        "ROC AUC (-0.0530) and balanced accuracy (-0.0500). Challenger vs champion on the champion's holdout "
        "(69 rows): macro F1 0.6370 vs 0.6400 (-0.0030), ROC AUC 0.7040 vs 0.7570 (-0.0530), balanced accuracy "
        "0.6110 vs 0.6610 (-0.0500); on recent feedback (12 labels): too few recent labels to judge (12 < 50); "
        "the decision rests on the holdout."
    )


def test_a_recent_slice_under_the_minimum_does_not_weigh_in_and_the_reason_says_so() -> None:
    level = {"accuracy": 0.9, "f1_macro": 0.9, "roc_auc": 0.95, "balanced_accuracy": 0.9}
    poor = {"accuracy": 0.45, "f1_macro": 0.45, "roc_auc": 0.45, "balanced_accuracy": 0.45}
    common = {"tolerance": 0.005, "champion_version": 1, "challenger_version": 2}
    promoted, reason = decide(
        _both(level, level), _both(level, poor), rows={"holdout": 762, "recent_feedback": 12}, **common
    )
    assert promoted
    assert reason.startswith("Challenger v2 promoted: not worse than champion v1 beyond the tolerance of 0.005")
    assert "on recent feedback (12 labels): too few recent labels to judge (12 < 50); the decision rests on" in reason
    assert "macro F1 0.9000 vs 0.9000 (+0.0000), ROC AUC 0.9500 vs 0.9500 (+0.0000)" in reason

    promoted, reason = decide(
        _both(level, level), _both(level, poor), rows={"holdout": 762, "recent_feedback": 50}, **common
    )
    assert not promoted and "on recent feedback in macro F1 (-0.4500)" in reason  # 50 labels: it counts
    promoted, _ = decide(
        _both(level, level),
        _both(level, poor),
        rows={"holdout": 762, "recent_feedback": 12},
        min_recent_labels=10,
        **common,
    )
    assert not promoted  # the minimum is a setting (retrain_min_recent_labels)
