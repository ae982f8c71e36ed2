"""A remote MLflow tracking server: set MLFLOW_TRACKING_URI, and training and scoring go through it."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.datasets.versions import ingest
from tests.cli.conftest import ok
from tests.conftest import RICE
from tests.servers import free_port, serve

STARTUP_SECONDS = 120


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``mlflow server`` on loopback with its own store and artifacts; its URI and its folder. Stopped after."""
    folder = tmp_path / "server"
    folder.mkdir()
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
    ]
    uri = f"http://127.0.0.1:{port}"
    # a process group: stopping the server stops its uvicorn worker too
    with serve(
        command,
        health_url=f"{uri}/health",
        log=folder / "server.log",
        start_seconds=STARTUP_SECONDS,
        cwd=folder,
        process_group=True,
    ):
        yield uri, folder


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_train_and_predict_through_a_tracking_server(
    settings, sessions, tracking_server, monkeypatch, tmp_path
) -> None:
    from mlflow import MlflowClient

    uri, server_folder = tracking_server
    with sessions.begin() as session:
        ingest(session=session, path=RICE, name="rice", target="Class")
    local_store = settings.artifacts_dir / "mlflow.db"
    before = _digest(local_store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # what a user sets; the CLI processes inherit it

    trained = ok(settings.home, "train", "--dataset", "rice", "--trials", "2")
    assert trained["version"] == 1 and trained["aliases"] == ["champion"]

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("rice", "champion")
    assert champion.version == "1"
    assert client.get_run(champion.run_id).data.tags["sift.dataset"] == "rice"
    assert any((server_folder / "artifacts").rglob("MLmodel"))  # the model files went to the server

    rows = tmp_path / "rows.csv"
    pd.read_csv(RICE).drop(columns=["Class"]).head(5).to_csv(rows, index=False)
    scored = ok(
        settings.home, "predict", "--dataset", "rice", "--input", str(rows), "--output", str(tmp_path / "out.csv")
    )
    assert scored["model_version"] == 1 and scored["scored"] == 5  # the champion, loaded from the server

    assert _digest(local_store) == before  # nothing went to the home's own MLflow store
    assert not settings.mlflow_artifacts_dir.exists()
