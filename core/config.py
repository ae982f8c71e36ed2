"""One settings object, read from environment variables with the ``SIFT_`` prefix.

Nothing happens at import: call :func:`get_settings` (cached) where settings are needed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "data" / "demo"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIFT_", extra="ignore")

    home: Path = Field(default=REPO_ROOT, description="Folder that holds all state: data/ and artifacts/.")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under home/data.")
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "SIFT_MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; default SQLite under home/artifacts.",
    )
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    holdout_fraction: float = Field(default=0.2, gt=0.05, lt=0.5)
    default_trials: int = Field(default=20, ge=1)
    seed: int = 42

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.data_dir / 'sift.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.artifacts_dir / 'mlflow.db'}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.artifacts_dir / "mlruns"

    def ensure_folders(self) -> None:
        """Create the home's folders; called by entry points, never at import."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
