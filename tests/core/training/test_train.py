from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine

from core import registry
from core.datasets.versions import ingest
from core.scoring import load_champion, score_row
from core.training.train import train
from tests.conftest import TEST_TRIALS


def test_rice_champion_is_registered_with_metrics(trained_settings) -> None:
    versions = registry.list_versions(trained_settings, "rice")
    assert [v.version for v in versions] == [1]
    champion = versions[0]
    assert champion.aliases == ["champion"]
    assert champion.metrics["accuracy"] > 0.85
    assert {"f1_macro", "roc_auc", "balanced_accuracy"} <= set(champion.metrics)
    assert champion.tags["sift.dataset_version"] == "1"
    assert len(champion.tags["sift.content_hash"]) == 64


def test_a_second_version_is_a_challenger_and_the_champion_stays(trained_settings, trained_sessions) -> None:
    with trained_sessions.begin() as session:
        result = train(session=session, settings=trained_settings, dataset="rice", trials=1)
    assert result.version == 2 and result.aliases == ["challenger"]
    assert registry.alias_version(trained_settings, "rice") == 1


def test_multiclass_string_labels_round_trip(settings, sessions, tmp_path: Path) -> None:
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        ingest(session=session, path=path, name="wine", target="cultivar")
    with sessions.begin() as session:
        result = train(session=session, settings=settings, dataset="wine", trials=TEST_TRIALS)
    assert result.metrics["accuracy"] > 0.85
    model = load_champion(settings, "wine")
    assert sorted(model.classes) == ["barbera", "barolo", "grignolino"]
    row = frame.drop(columns="cultivar").iloc[0].to_dict()
    with sessions.begin() as session:
        scored = score_row(session=session, settings=settings, dataset="wine", values=row)
    assert scored.prediction in {"barbera", "barolo", "grignolino"}
    assert set(scored.probabilities) == {"barbera", "barolo", "grignolino"}
    assert np.isclose(sum(scored.probabilities.values()), 1.0)


def test_numeric_labels_and_categorical_and_text_features(settings, sessions, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 300
    colour = rng.choice(["red", "green", "blue"], size=n)
    words = np.where(
        colour == "red", "a warm bright and lovely sunny day outside", "a cold grey and gloomy rainy day inside"
    )
    frame = pd.DataFrame(
        {
            "colour": colour,
            "note": [f"{w} number {i}" for i, w in enumerate(words)],
            "size": rng.normal(size=n),
            "label": (colour == "red").astype(int),
        }
    )
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=path, name="mixed", target="label")
    assert version.roles == {"colour": "categorical", "note": "text", "size": "numeric", "label": "target"}
    with sessions.begin() as session:
        result = train(session=session, settings=settings, dataset="mixed", trials=1)
    assert result.metrics["accuracy"] > 0.95
    model = load_champion(settings, "mixed")
    assert model.classes == [0, 1]
    with sessions.begin() as session:
        scored = score_row(
            session=session,
            settings=settings,
            dataset="mixed",
            values={"colour": "red", "note": "a warm bright day", "size": 0.1},
        )
    assert scored.prediction == 1
