"""The only module that talks to MLflow: runs, registered model versions, aliases, loading.

Every call pins MLflow to the settings' tracking URI first, so several homes (tests, benchmarks)
can be used from one process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

import pandas as pd

from core.config import REPO_ROOT, Settings
from core.errors import ModelNotFound

CHAMPION = "champion"
CHALLENGER = "challenger"
DATASET_TAG, DATASET_VERSION_TAG = "sift.dataset", "sift.dataset_version"  # what a run was trained on
_RUNTIME_PACKAGES = ("mlflow", "scikit-learn", "xgboost-cpu", "pandas", "numpy", "scipy", "skops")


@dataclass
class ModelVersionInfo:
    name: str
    version: int
    run_id: str
    aliases: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created_at: pd.Timestamp | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "aliases": self.aliases, "metrics": self.metrics}


def _client(settings: Settings):
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # with a tracking server, MLflow prints each run's link on stdout, where the CLI prints its JSON
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow  # lazy: importing MLflow takes about a second
    from mlflow import MlflowClient  # lazy: importing MLflow takes about a second

    uri = settings.tracking_uri
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    if mlflow.get_tracking_uri() != uri or mlflow.get_registry_uri() != uri:
        # MLflow also writes both URIs into os.environ, where Settings would later read the tracking
        # URI as the user's override and child processes (background jobs, CLI runs) would inherit
        # them: put the environment back as it was.
        before = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_store(settings: Settings) -> None:
    """Create the tracking store's schema if needed (MLflow migrates a new SQLite store on first use)."""
    _client(settings).search_experiments(max_results=1)


def _experiment_id(settings: Settings, name: str) -> str:
    client = _client(settings)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if settings.mlflow_tracking_uri is None:  # local store: keep artifacts inside SIFT_HOME
        location = (settings.mlflow_artifacts_dir / name).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


@lru_cache(maxsize=1)
def code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _pip_requirements() -> list[str]:
    # explicit requirements: MLflow's own inference of them takes seconds per model
    pins = []
    for package in _RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def register_model(
    settings: Settings,
    *,
    name: str,
    model: Any,
    input_example: pd.DataFrame,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    documents: dict[str, Any],
    run_name: str = "train",
) -> ModelVersionInfo:
    """Log one trained model as an MLflow run and register it as a new version of ``name``.

    The first version of a model becomes ``champion``; later ones become ``challenger``.
    """
    import mlflow  # lazy: importing MLflow takes about a second
    import skops.io  # lazy: importing MLflow takes about a second
    from mlflow.models import infer_signature  # lazy: importing MLflow takes about a second

    client = _client(settings)
    experiment_id = _experiment_id(settings, name)
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    signature = infer_signature(input_example, model.predict(input_example))
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params(params)
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN-free
        mlflow.set_tags(tags | {"sift.code_version": code_version()})
        for filename, document in documents.items():
            mlflow.log_dict(document, filename)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=input_example,
            pip_requirements=_pip_requirements(),
            serialization_format="skops",
            skops_trusted_types=trusted,
        )
    if not _registered(client, name):
        client.create_registered_model(name)
    # the logged model's id: a tracking server refuses a ``models:/m-...`` source without it
    version = client.create_model_version(name, source=info.model_uri, run_id=run.info.run_id, model_id=info.model_id)
    number = int(version.version)
    try:
        client.get_model_version_by_alias(name, CHAMPION)
        alias = CHALLENGER
    except Exception:
        alias = CHAMPION
    client.set_registered_model_alias(name, alias, number)
    return get_version(settings, name, number)


def log_run(
    settings: Settings,
    *,
    name: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> str:
    """Log a run without a model (a training candidate that was not registered); returns its id.

    One batch write per run: parameters, metrics (NaN left out) and tags, code version included.
    """
    from mlflow.entities import Metric, Param, RunTag  # lazy: importing MLflow takes about a second

    client = _client(settings)
    run = client.create_run(_experiment_id(settings, name), run_name=run_name)
    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if v == v],
        params=[Param(k, str(v)) for k, v in params.items()],
        tags=[RunTag(k, str(v)) for k, v in (tags | {"sift.code_version": code_version()}).items()],
    )
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@dataclass
class RunInfo:
    run_id: str
    run_name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def list_runs(settings: Settings, name: str, *, tags: dict[str, str] | None = None) -> list[RunInfo]:
    """The runs of the dataset's experiment, oldest first; ``tags`` keeps those with these tag values."""
    client = _client(settings)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return []
    query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in (tags or {}).items())
    runs = client.search_runs([experiment.experiment_id], filter_string=query, order_by=["attributes.start_time ASC"])
    return [
        RunInfo(
            run_id=r.info.run_id,
            run_name=r.info.run_name,
            params=dict(r.data.params),
            metrics=dict(r.data.metrics),
            tags={k: v for k, v in r.data.tags.items() if not k.startswith("mlflow.")},
        )
        for r in runs
    ]


def _registered(client: Any, name: str) -> bool:
    from mlflow.exceptions import MlflowException  # lazy: importing MLflow takes about a second

    try:
        client.get_registered_model(name)
        return True
    except MlflowException:
        return False


def _aliases(client: Any, name: str) -> dict[int, list[str]]:
    by_version: dict[int, list[str]] = {}
    for alias, version in client.get_registered_model(name).aliases.items():
        by_version.setdefault(int(version), []).append(alias)
    return {v: sorted(a) for v, a in by_version.items()}


def _info(client: Any, mv: Any, aliases: dict[int, list[str]]) -> ModelVersionInfo:
    run = client.get_run(mv.run_id)
    return ModelVersionInfo(
        name=mv.name,
        version=int(mv.version),
        run_id=mv.run_id,
        aliases=aliases.get(int(mv.version), []),
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
        tags={k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        created_at=pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC"),
    )


def list_versions(settings: Settings, name: str) -> list[ModelVersionInfo]:
    """Every registered version of ``name``, newest first (empty if none)."""
    client = _client(settings)
    if not _registered(client, name):
        return []
    versions = client.search_model_versions(f"name='{name}'")
    aliases = _aliases(client, name)
    return sorted((_info(client, mv, aliases) for mv in versions), key=lambda v: v.version, reverse=True)


def get_version(settings: Settings, name: str, version: int) -> ModelVersionInfo:
    from mlflow.exceptions import MlflowException  # lazy: importing MLflow takes about a second

    client = _client(settings)
    try:
        return _info(client, client.get_model_version(name, str(version)), _aliases(client, name))
    except MlflowException as exc:
        raise ModelNotFound(f"Model {name!r} has no version {version}.") from exc


def alias_version(settings: Settings, name: str, alias: str = CHAMPION) -> int:
    """The version number holding ``alias``; raises ModelNotFound if there is none."""
    from mlflow.exceptions import MlflowException  # lazy: importing MLflow takes about a second

    client = _client(settings)
    try:
        return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise ModelNotFound(
            f"Dataset {name!r} has no {alias} model yet. Train one first (python -m core train --dataset {name})."
        ) from exc


def set_alias(settings: Settings, name: str, alias: str, version: int) -> None:
    _client(settings).set_registered_model_alias(name, alias, int(version))


def delete_alias(settings: Settings, name: str, alias: str) -> None:
    """Remove ``alias`` from whichever version holds it (nothing happens if none does)."""
    from mlflow.exceptions import MlflowException  # lazy: importing MLflow takes about a second

    client = _client(settings)
    try:
        client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return
    client.delete_registered_model_alias(name, alias)


def download_model(settings: Settings, name: str, version: int, destination: str | os.PathLike) -> str:
    """Copy the MLflow model directory (MLmodel, model file, requirements) of one version; returns its path."""
    import mlflow  # lazy: importing MLflow takes about a second

    _client(settings)
    return mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{int(version)}", dst_path=str(destination))


def load_model_from_path(path: str | os.PathLike) -> Any:
    """Load an MLflow model directory written by :func:`download_model` as a scikit-learn Pipeline."""
    import mlflow  # lazy: importing MLflow takes about a second

    return mlflow.sklearn.load_model(str(path))


def load_model(settings: Settings, name: str, version: int) -> Any:
    """The fitted scikit-learn Pipeline of one registered version."""
    import mlflow  # lazy: importing MLflow takes about a second

    _client(settings)
    return mlflow.sklearn.load_model(f"models:/{name}/{int(version)}")


def load_document(settings: Settings, run_id: str, filename: str) -> Any:
    import mlflow  # lazy: importing MLflow takes about a second

    _client(settings)
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/{filename}")


def load_documents(settings: Settings, run_id: str, filenames: list[str]) -> dict[str, Any]:
    """The JSON documents of a run among ``filenames``; those the run does not have are left out."""
    import mlflow  # lazy: importing MLflow takes about a second

    present = {a.path for a in _client(settings).list_artifacts(run_id)}
    return {f: mlflow.artifacts.load_dict(f"runs:/{run_id}/{f}") for f in filenames if f in present}


def model_uri(name: str, alias: str = CHAMPION) -> str:
    return f"models:/{name}@{alias}"


def dataset_tags(name: str, version: int) -> dict[str, str]:
    """The tags that say which dataset version a run was trained on (read back by :func:`trained_on`)."""
    return {DATASET_TAG: name, DATASET_VERSION_TAG: str(version)}


def trained_on(version: Any) -> tuple[str, int | None]:
    """(dataset, dataset version number) a model version (or a loaded one) was trained on, from its
    run's tags: the dataset is the model's own name when the tag is absent, the number None."""
    number = version.tags.get(DATASET_VERSION_TAG)
    return version.tags.get(DATASET_TAG, version.name), int(number) if number else None
