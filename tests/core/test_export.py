"""Exports: the MLflow model directory (loadable, servable) and ONNX (checked, or clearly refused)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from core import registry
from core.champion import load_champion
from core.config import REPO_ROOT
from core.datasets.versions import ingest
from core.errors import ExportError, ModelNotFound
from core.export import export_archive, export_model, onnx_feeds
from core.features import coerce_inputs
from core.holdout import load_holdout
from core.training.budgets import Budget

SENTENCES = REPO_ROOT / "data" / "demo" / "sentiment_sentences.csv"
REFUSAL = r"^This model cannot be exported to ONNX: .+\. Use the MLflow export\.$"


def _holdout(settings, sessions):
    model = load_champion(settings, "rice")
    with sessions() as session:
        holdout = load_holdout(session=session, settings=settings, info=registry.get_version(settings, "rice", 1))
    features = model.contract["features"]
    return model, holdout.frame[[f["name"] for f in features]], features


def test_mlflow_export_writes_a_model_that_loads_and_predicts(trained_settings, trained_sessions, tmp_path) -> None:
    output = tmp_path / "export"
    with trained_sessions() as session:
        result = export_model(session=session, settings=trained_settings, dataset="rice", output=output)
    assert (result["model"], result["version"], result["format"]) == ("rice", 1, "mlflow")
    assert {"MLmodel", "requirements.txt", "serving_input_example.json"} <= set(result["files"])
    assert "mlflow models serve -m" in result["serve"]

    loaded = registry.load_model_from_path(output)
    model, rows, features = _holdout(trained_settings, trained_sessions)
    typed = coerce_inputs(rows, features)
    assert (loaded.predict(typed) == model.pipeline.predict(typed)).all()
    np.testing.assert_allclose(loaded.predict_proba(typed), model.pipeline.predict_proba(typed))


def test_export_refusals(trained_settings, trained_sessions, tmp_path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with trained_sessions() as session:
        with pytest.raises(ExportError, match="not an empty folder"):
            export_model(session=session, settings=trained_settings, dataset="rice", output=busy)
        with pytest.raises(ExportError, match="Unknown export format 'pmml'"):
            export_model(session=session, settings=trained_settings, dataset="rice", output=tmp_path / "a", fmt="pmml")
        with pytest.raises(ModelNotFound):
            export_model(session=session, settings=trained_settings, dataset="rice", output=tmp_path / "b", version=4)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_onnx_export_of_rice_matches_scikit_learn(trained_settings, trained_sessions, tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    output = tmp_path / "onnx"
    with trained_sessions() as session:
        result = export_model(session=session, settings=trained_settings, dataset="rice", output=output, fmt="onnx")
    assert sorted(result["files"]) == ["model.json", "model.onnx"]
    assert result["check"]["holdout_rows"] == 762
    assert result["check"]["max_probability_difference"] < 1e-3
    info = json.loads((output / "model.json").read_text())
    assert info["classes"] == ["Cammeo", "Osmancik"] and info["inputs"][0]["name"] == "Area"

    model, rows, features = _holdout(trained_settings, trained_sessions)
    scorer = ort.InferenceSession(str(output / "model.onnx"), providers=["CPUExecutionProvider"])
    labels, proba = scorer.run(None, onnx_feeds(rows, features))
    expected = model.pipeline.predict_proba(coerce_inputs(rows, features))
    assert proba.shape == expected.shape and np.abs(proba - expected).max() < 1e-3
    disagreements = int((labels != model.pipeline.predict(coerce_inputs(rows, features))).sum())
    assert disagreements <= 2  # ties at exactly 0.5 (a forest's votes) may break either way


def test_archive_holds_the_export_for_download(trained_settings, trained_sessions) -> None:
    with trained_sessions() as session:
        name, data, summary = export_archive(session=session, settings=trained_settings, dataset="rice")
    assert name == "rice-v1-mlflow.zip" and summary["format"] == "mlflow"
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "rice-v1-mlflow/MLmodel" in names


def test_a_free_text_model_is_refused_for_onnx_with_the_reason(settings, sessions, tmp_path) -> None:
    from core.training.train import train

    path = tmp_path / "sentences.csv"
    pd.read_csv(SENTENCES).sample(300, random_state=0).to_csv(path, index=False)
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=path, name="talk", target="label")
    assert version.roles["text"] == "text"
    with sessions.begin() as session:
        train(session=session, settings=settings, dataset="talk", budget=Budget(trials=1))

    with sessions() as session, pytest.raises(ExportError, match=REFUSAL) as refused:
        export_model(session=session, settings=settings, dataset="talk", output=tmp_path / "onnx", fmt="onnx")
    assert "'text'" in str(refused.value)
    assert not (tmp_path / "onnx").exists()

    # the command line says the same in one line and exits 2; the MLflow export works
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "core", "--home", str(settings.home), "export", "--dataset", "talk", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = cli("--output", str(tmp_path / "cli-onnx"), "--format", "onnx")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().startswith("error: This model cannot be exported to ONNX")
    done = cli("--output", str(tmp_path / "cli-mlflow"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["format"] == "mlflow" and (tmp_path / "cli-mlflow" / "MLmodel").exists()
