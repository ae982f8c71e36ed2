from pathlib import Path

import pytest

from core.config import Settings, get_settings


def test_home_moves_all_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIFT_DB_URL", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("SIFT_HOME", str(tmp_path))
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path}/data/sift.db"
    assert settings.tracking_uri == f"sqlite:///{tmp_path}/artifacts/mlflow.db"
    assert settings.mlflow_artifacts_dir == tmp_path / "artifacts" / "mlruns"


def test_urls_override_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_HOME", str(tmp_path))
    monkeypatch.setenv("SIFT_DB_URL", "postgresql+psycopg://sift@localhost/sift")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://sift@localhost/sift"
    assert settings.tracking_uri == "http://127.0.0.1:5000"


def test_nothing_is_created_by_reading_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIFT_HOME", str(tmp_path / "new"))
    get_settings.cache_clear()
    get_settings()
    get_settings.cache_clear()
    assert not (tmp_path / "new").exists()
