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
    retrain_threshold: int = Field(
        default=50, ge=1, description="Labels gathered since the champion was trained that make a retrain due."
    )
    retrain_tolerance: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="Macro F1, ROC AUC or balanced accuracy a retrained challenger may lose on a slice and still win.",
    )
    retrain_eval_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="Share of the most recent labels kept out of retraining to judge it."
    )
    retrain_min_eval_rows: int = Field(default=5, ge=1, description="Fewest recent labels kept out to judge a retrain.")
    retrain_min_recent_labels: int = Field(
        default=50,
        ge=1,
        description="Fewest recent labels for the recent-feedback slice to weigh in a retrain's decision.",
    )
    drift_min_rows: int = Field(
        default=100, ge=1, description="Fewest predictions in a window for drift to be measured (fewer is noise)."
    )
    drift_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of drifting features at which a window counts as drifted."
    )
    drift_window_rows: int = Field(default=1000, ge=1, description="Predictions per window when windows are counted.")
    alert_drift_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of drifting features in a window that raises an alert."
    )
    alert_key_features: int = Field(
        default=3,
        ge=0,
        description="Top features by permutation importance whose drift alone raises an alert (0: all).",
    )
    alert_accuracy_drop: float = Field(
        default=0.05, gt=0, lt=1, description="Drop below the champion's holdout accuracy that raises an alert."
    )
    alert_min_labels: int = Field(
        default=30, ge=1, description="Fewest labels in a window before its realised accuracy can raise an alert."
    )
    alert_flagged_share: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Share of scored rows flagged (unseen or out of range) that raises an alert.",
    )
    alert_rejected_share: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Share of a window's input rows rejected by the contract that raises an alert.",
    )
    drift_max_rows: int = Field(
        default=100_000,
        ge=1000,
        description="Largest window whose drift is measured on every row; a larger one on a seeded sample this big.",
    )
    drift_workers: int = Field(
        default=0, ge=0, description="Threads testing a window's columns in parallel (0: one per core, at most 4)."
    )

    # monitoring that runs by itself (core/monitoring/schedule.py) and where its alerts go
    monitor_after_scoring: bool = Field(
        default=True, description="Measure the new windows in the background after each scored batch or request."
    )
    monitor_every: str = Field(
        default="15m", description="How often `serve` (and `monitor --every`) measures new windows: 30s, 15m, 1h, 1d."
    )
    alert_webhook: str | None = Field(
        default=None,
        repr=False,
        description="Default alert destination for every dataset: a URL, prefixed slack: or teams: for those formats.",
    )
    public_url: str | None = Field(
        default=None, description="The app's address as people open it (https://sift.example.org): alerts link to it."
    )
    alert_retry_seconds: float = Field(
        default=2.0, gt=0, description="Wait before retrying a failed alert delivery; doubled at each try."
    )
    alert_attempts: int = Field(
        default=3, ge=1, description="Tries at a delivery in one run before it waits for the next run."
    )
    alert_timeout_seconds: float = Field(default=10.0, gt=0, description="How long one delivery waits for an answer.")

    # access control: hashes, never passwords (core/access.py); the CLI is not guarded
    password: str | None = Field(
        default=None,
        repr=False,
        description="Hash of the password every page asks for (python -m core hash-password); unset: no sign-in.",
    )
    admin_password: str | None = Field(
        default=None,
        repr=False,
        description="Hash of the password for promote, rollback, retrain, deleting versions and thresholds.",
    )

    # the scoring API (python -m core serve, core/api): hashes of its keys, never the keys
    api_keys: str | None = Field(
        default=None,
        repr=False,
        description="Comma-separated hashes of the API's keys (python -m core api-key); unset: the API is open.",
    )
    allow_open: bool = Field(
        default=False, description="Serve the API to the network without keys (SIFT_ALLOW_OPEN=1): not advised."
    )
    api_max_rows: int = Field(default=10_000, ge=1, description="Most rows one API request may score.")
    api_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="Largest API request body, in bytes.")

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
