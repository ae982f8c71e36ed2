"""What a model version was trained and judged on: the reference for monitoring its predictions.

The **training part** (the dataset version's rows minus the frozen holdout of ``split.json``,
feature columns only, typed like the model's inputs) is the reference that drift compares a
window with; the **holdout** (with its true labels) calibrates the model's confidence (see
:mod:`core.monitoring.estimate`). Both are immutable per model version, so they are kept in
memory per version (:data:`CACHED_VERSIONS` of them).

A version trained before ``split.json`` existed has no known holdout: its whole dataset version
is then the reference, and it has no holdout to calibrate on.

What drift reads of the training part, its **reference profile** (:mod:`core.monitoring.profile`),
is built from it once per version, stored (:class:`~core.db.models.ReferenceProfile`) and read
from the database afterwards (:func:`reference_profile`), so a process measuring windows does not
read and type the training rows again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import registry
from core.champion import dataset_version_of
from core.config import Settings
from core.contract import CONTRACT_FILE
from core.datasets.versions import load_frame
from core.db.models import ReferenceProfile
from core.errors import DatasetNotFound
from core.features import coerce_inputs
from core.holdout import SPLIT_FILE
from core.monitoring.profile import LAYOUT, Profile, build_profile

CACHED_VERSIONS = 4


@dataclass(frozen=True)
class TrainingData:
    """The rows a model version learnt from (``train``) and was judged on (``holdout``), typed."""

    dataset: str
    model_version: int
    dataset_version: int
    run_id: str
    features: list[dict[str, Any]]  # the input contract's feature entries: name, role, ...
    classes: list[str]
    train: pd.DataFrame
    train_target: pd.Series
    holdout: pd.DataFrame
    holdout_target: pd.Series
    tags: dict[str, str]

    @property
    def names(self) -> list[str]:
        return [f["name"] for f in self.features]

    @property
    def roles(self) -> dict[str, str]:
        return {f["name"]: f["role"] for f in self.features}


_cache: OrderedDict[tuple[str, str, str, int], TrainingData] = OrderedDict()
_lock = threading.Lock()


def _holdout_ids(settings: Settings, run_id: str) -> list[int]:
    try:
        split = registry.load_document(settings, run_id, SPLIT_FILE)
    except Exception:  # an older run without the artifact: MLflow raises its own types
        return []
    return [int(i) for i in split.get("holdout_row_ids", [])]


def training_data(*, session: Session, settings: Settings, dataset: str, version: int) -> TrainingData:
    """The training part and holdout of model ``dataset`` version ``version`` (cached per version)."""
    key = (settings.database_url, settings.tracking_uri, dataset, int(version))
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    info = registry.get_version(settings, dataset, version)
    data_version = dataset_version_of(session=session, info=info)
    contract = registry.load_document(settings, info.run_id, CONTRACT_FILE)
    features = contract["features"]
    frame = load_frame(session=session, version=data_version)
    missing = [f["name"] for f in features if f["name"] not in frame.columns]
    if missing:
        raise DatasetNotFound(
            f"{data_version.label}, the training data of {dataset} v{version}, lacks the model's columns "
            f"{', '.join(map(repr, missing))}."
        )
    frame = frame[frame[data_version.target].notna()]
    held = frame.index.intersection(_holdout_ids(settings, info.run_id))
    train = frame.drop(index=held)
    holdout = frame.loc[held]
    names = [f["name"] for f in features]
    found = TrainingData(
        dataset=dataset,
        model_version=int(version),
        dataset_version=data_version.version,
        run_id=info.run_id,
        features=features,
        classes=[str(c) for c in contract["classes"]],
        train=coerce_inputs(train[names], features),
        train_target=train[data_version.target].map(str),
        holdout=coerce_inputs(holdout[names], features),
        holdout_target=holdout[data_version.target].map(str),
        tags=dict(info.tags),
    )
    with _lock:
        _cache[key] = found
        while len(_cache) > CACHED_VERSIONS:
            _cache.popitem(last=False)
    return found


def model_features(settings: Settings, dataset: str, version: int) -> list[dict[str, Any]]:
    """The input contract's feature entries of one model version (no data loaded)."""
    info = registry.get_version(settings, dataset, version)
    return registry.load_document(settings, info.run_id, CONTRACT_FILE)["features"]


def class_shares(target: pd.Series) -> dict[str, float]:
    """Share of each class among labels, largest first."""
    counts = target.value_counts()
    total = int(counts.sum())
    return {str(k): float(v) / total for k, v in counts.items()} if total else {}


_profiles: OrderedDict[tuple[str, str, int], tuple[Profile, bool]] = OrderedDict()  # (profile, stored)


def _stored_profile(session: Session, dataset: str, version: int) -> ReferenceProfile | None:
    return session.scalar(
        select(ReferenceProfile).where(ReferenceProfile.dataset == dataset, ReferenceProfile.model_version == version)
    )


def reference_profile(
    *, session: Session, settings: Settings, dataset: str, version: int, store: bool = True
) -> Profile:
    """The reference profile of model ``dataset`` version ``version``: from memory, else from the
    database, else built from its training data and (``store``) stored. The caller owns the
    transaction; when another process stores the same profile at the same moment, the first one
    stored is kept and read. ``store=False`` (a one-off check) builds it in memory only."""
    key = (settings.database_url, dataset, int(version))
    with _lock:
        cached = _profiles.get(key)
        if cached is not None and (cached[1] or not store):
            _profiles.move_to_end(key)
            return cached[0]
    row = _stored_profile(session, dataset, int(version))
    stored = row is not None and row.layout == LAYOUT
    if stored:
        found = Profile.from_bytes(row.profile)
    else:
        found = cached[0] if cached is not None else _build(session, settings, dataset, version)
        if store and row is not None:  # stored by an older layout: replaced
            row.layout, row.rows, row.profile = LAYOUT, found.rows, found.to_bytes()
            session.flush()
            stored = True
        elif store:
            found = store_profile(session=session, dataset=dataset, version=version, profile=found)
            stored = True
    with _lock:
        _profiles[key] = (found, stored)
        _profiles.move_to_end(key)
        while len(_profiles) > CACHED_VERSIONS:
            _profiles.popitem(last=False)
    return found


def store_profile(*, session: Session, dataset: str, version: int, profile: Profile) -> Profile:
    """Store ``profile`` as model ``dataset`` version ``version``'s, unless one is stored already
    (another process storing it at the same moment): returns the one kept, the first stored."""
    try:
        with session.begin_nested():
            session.add(
                ReferenceProfile(
                    dataset=dataset,
                    model_version=int(version),
                    rows=profile.rows,
                    layout=LAYOUT,
                    profile=profile.to_bytes(),
                )
            )
    except IntegrityError:
        return Profile.from_bytes(_stored_profile(session, dataset, int(version)).profile)
    return profile


def _build(session: Session, settings: Settings, dataset: str, version: int) -> Profile:
    data = training_data(session=session, settings=settings, dataset=dataset, version=version)
    return build_profile(data.train, data.features)


def forget_cached() -> None:
    """Empty the in-memory caches of training data and profiles (as a new process starts)."""
    with _lock:
        _cache.clear()
        _profiles.clear()
