"""Which registered version serves: load a version, the champion lookup and its short cache.

**Which model scores.** The version holding the ``champion`` alias. Looking it up in MLflow costs
about 3 ms, the largest part of scoring one row, so the answer is kept for :data:`CHAMPION_TTL`
seconds per dataset, and looked up again at once whenever Sift's alias history
(``alias_events``) has an entry newer than the one seen with it. So a promotion or rollback made
through Sift (page or CLI, in any process) is picked up by the very next prediction, and an alias
moved behind Sift's back (the MLflow UI, :func:`core.registry.set_alias`) within
:data:`CHAMPION_TTL` seconds. :func:`forget_champions` drops the cache. Loaded Pipelines are kept
by version.

**The dataset a version was trained on** is read from its run's tags ``sift.dataset`` and
``sift.dataset_version`` by :func:`core.registry.trained_on`, the one place of that rule.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import registry
from core.config import Settings
from core.contract import CONTRACT_FILE, RowCheck, prepare_inputs
from core.datasets.versions import get_version
from core.db.models import AliasEvent, DatasetVersion
from core.errors import DatasetNotFound
from core.features import coerce_inputs

CHAMPION_TTL = 1.0  # seconds an alias lookup is trusted (see the module docstring)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    pipeline: Any
    contract: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def classes(self) -> list[Any]:
        return self.contract["classes"]

    @property
    def features(self) -> list[dict[str, Any]]:
        return self.contract["features"]

    @cached_property
    def typical(self) -> pd.DataFrame:
        """One row of typical training values, typed like the model's inputs."""
        values = {f["name"]: f.get("typical") for f in self.features}
        return coerce_inputs(prepare_inputs(pd.DataFrame([values]), self.features), self.features)

    @cached_property
    def row_check(self) -> RowCheck:
        """The contract's one-row check (the API's fast path)."""
        return RowCheck(self.contract)

    @cached_property
    def class_labels(self) -> np.ndarray:
        return np.asarray([str(c) for c in self.classes], dtype=object)


_models: dict[tuple[str, str, int], LoadedModel] = {}
_models_lock = threading.Lock()
_champions: dict[tuple[str, str], tuple[int, float, int | None]] = {}
_champions_lock = threading.Lock()


def load_version(settings: Settings, name: str, version: int) -> LoadedModel:
    key = (settings.tracking_uri, name, int(version))
    with _models_lock:
        if key not in _models:
            info = registry.get_version(settings, name, version)
            _models[key] = LoadedModel(
                name=name,
                version=int(version),
                pipeline=registry.load_model(settings, name, version),
                contract=registry.load_document(settings, info.run_id, CONTRACT_FILE),
                tags=dict(info.tags),
            )
        return _models[key]


def _latest_alias_event(session: Session, name: str) -> int | None:
    return session.scalar(select(func.max(AliasEvent.id)).where(AliasEvent.model_name == name))


def champion_version(settings: Settings, name: str, *, session: Session | None = None) -> int:
    """The version holding ``champion`` (cached as the module docstring says; ``session`` lets a
    promotion recorded in Sift's alias history be seen at once)."""
    key = (settings.tracking_uri, name)
    event = _latest_alias_event(session, name) if session is not None else None
    now = time.monotonic()
    with _champions_lock:
        cached = _champions.get(key)
    if cached is not None and now - cached[1] < CHAMPION_TTL and (session is None or cached[2] == event):
        return cached[0]
    version = registry.alias_version(settings, name)
    with _champions_lock:
        _champions[key] = (version, now, event)
    return version


def forget_champions() -> None:
    """Forget every cached champion lookup: the next call asks MLflow."""
    with _champions_lock:
        _champions.clear()


def load_champion(settings: Settings, name: str, *, session: Session | None = None) -> LoadedModel:
    return load_version(settings, name, champion_version(settings, name, session=session))


# --- the dataset a version was trained on -----------------------------------------------------


def dataset_version_of(*, session: Session, info: registry.ModelVersionInfo) -> DatasetVersion:
    """The dataset version a model version was trained on (its run's tags)."""
    name, number = registry.trained_on(info)
    if number is None:
        raise DatasetNotFound(f"Model {info.name!r} version {info.version} does not record its dataset version.")
    return get_version(session=session, name=name, version=number)
