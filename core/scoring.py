"""Scoring: the input contract, single and batch prediction, and the prediction ledger.

The champion is resolved on every call (a promotion is picked up at once) and its loaded
Pipeline is cached by version.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from core import registry
from core.config import Settings
from core.datasets.reading import iter_csv
from core.db.engine import reserve_ids
from core.db.models import Batch, Prediction, utcnow
from core.errors import InputContractError, InputFileError
from core.features import coerce_inputs

CONTRACT_FILE = "input_contract.json"
MAX_CATEGORIES = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SOURCES = ("form", "batch", "api")


# --- the input contract -------------------------------------------------------------------


def build_contract(frame: pd.DataFrame, features: list[dict[str, Any]], classes: list[Any]) -> dict[str, Any]:
    """What the model was trained on: per feature its role, range or categories, a typical value."""
    typed = coerce_inputs(frame, features)
    specs = []
    for col in features:
        values = typed[col["name"]].dropna()
        spec: dict[str, Any] = {"name": col["name"], "role": col["role"]}
        if col["role"] == "numeric":
            whole = bool(len(values)) and bool((values == values.round()).all())
            spec.update(
                integer=whole,
                min=float(values.min()) if len(values) else None,
                max=float(values.max()) if len(values) else None,
                typical=float(values.median()) if len(values) else 0.0,
            )
        elif col["role"] == "text":
            spec.update(typical="")
        else:
            counts = values.value_counts()
            spec.update(
                categories=[str(c) for c in counts.index[:MAX_CATEGORIES]],
                typical=str(counts.index[0]) if len(counts) else "",
            )
        specs.append(spec)
    return {"features": specs, "classes": [_plain(c) for c in classes]}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def check_inputs(frame: pd.DataFrame, contract: dict[str, Any]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Check rows against the contract. Returns (typed features, rejection reason, flags), per row.

    A missing column is an error for the whole input; an unparsable value rejects its row;
    unseen categories and values outside the training range are scored and flagged.
    """
    features = contract["features"]
    missing = [f["name"] for f in features if f["name"] not in frame.columns]
    if missing:
        raise InputContractError(
            f"Missing column{'s' if len(missing) > 1 else ''} the model needs: {', '.join(map(repr, missing))}. "
            "Add them (a column may be empty) and try again."
        )
    typed = coerce_inputs(frame, features)
    reasons = pd.Series("", index=frame.index, dtype=object)
    flags = pd.Series("", index=frame.index, dtype=object)
    for spec in features:
        name = spec["name"]
        raw, value = frame[name], typed[name]
        if spec["role"] == "numeric":
            unparsable = raw.notna() & value.isna()
            if unparsable.any():
                reasons[unparsable] += f"{name}: not a number; "
            if spec.get("min") is not None:
                outside = (value < spec["min"]) | (value > spec["max"])
                if outside.any():
                    flags[outside] += f"{name}: outside training range; "
        elif "categories" in spec:
            unseen = value.notna() & ~value.isin(spec["categories"])
            if unseen.any():
                flags[unseen] += f"{name}: unseen category; "
    return typed, reasons.str.rstrip("; "), flags.str.rstrip("; ")


# --- the champion ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    pipeline: Any
    contract: dict[str, Any]

    @property
    def classes(self) -> list[Any]:
        return self.contract["classes"]


_models: dict[tuple[str, str, int], LoadedModel] = {}
_models_lock = threading.Lock()


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
            )
        return _models[key]


def load_champion(settings: Settings, name: str) -> LoadedModel:
    return load_version(settings, name, registry.alias_version(settings, name))


# --- scoring --------------------------------------------------------------------------------


@dataclass
class ScoredRow:
    prediction_id: int
    prediction: Any
    probabilities: dict[str, float]
    confidence: float
    model_version: int
    flags: list[str]


def _predict(model: LoadedModel, typed: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    proba = model.pipeline.predict_proba(typed)
    classes = np.asarray(model.classes, dtype=object)
    return proba, classes[np.argmax(proba, axis=1)]


def _ledger_rows(
    first_id: int,
    model: LoadedModel,
    typed: pd.DataFrame,
    proba: np.ndarray,
    predicted: np.ndarray,
    flags: pd.Series,
    source: str,
    batch_id: str | None,
) -> list[dict[str, Any]]:
    now = utcnow()
    # pandas' JSON writer is C code: far faster than json.dumps per row for big batches
    inputs = typed.to_json(orient="records", lines=True, date_format="iso").splitlines() if len(typed) else []
    probas = pd.DataFrame(proba, columns=[str(c) for c in model.classes]).round(6)
    probabilities = probas.to_json(orient="records", lines=True).splitlines() if len(typed) else []
    confidence = proba.max(axis=1)
    return [
        {
            "id": first_id + i,
            "created_at": now,
            "dataset": model.name,
            "model_name": model.name,
            "model_version": model.version,
            "inputs": inputs[i],
            "predicted_class": str(predicted[i]),
            "probabilities": probabilities[i],
            "confidence": float(confidence[i]),
            "flags": flags.iat[i],
            "source": source,
            "batch_id": batch_id,
        }
        for i in range(len(typed))
    ]


def score_row(
    *, session: Session, settings: Settings, dataset: str, values: dict[str, Any], source: str = "form"
) -> ScoredRow:
    """Score one row with the champion and record it in the ledger. The caller commits."""
    model = load_champion(settings, dataset)
    frame = pd.DataFrame([values])
    typed, reasons, flags = check_inputs(frame, model.contract)
    if reasons.iat[0]:
        raise InputContractError(f"This row cannot be scored: {reasons.iat[0]}.")
    proba, predicted = _predict(model, typed)
    first_id = reserve_ids(session, "prediction", 1)
    session.execute(insert(Prediction), _ledger_rows(first_id, model, typed, proba, predicted, flags, source, None))
    return ScoredRow(
        prediction_id=first_id,
        prediction=_plain(predicted[0]),
        probabilities={str(c): float(p) for c, p in zip(model.classes, proba[0], strict=True)},
        confidence=float(proba[0].max()),
        model_version=model.version,
        flags=[f for f in flags.iat[0].split("; ") if f],
    )


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Make text cells safe to open in a spreadsheet (OWASP CSV injection guidance).

    A text cell starting with = + - @ tab or CR gets a leading apostrophe; numbers, including
    negative ones, stay numbers.
    """
    out = frame.copy()
    for column in out.select_dtypes(include="object").columns:
        values = out[column]
        text = values.astype(str)
        risky = values.notna() & text.str.startswith(FORMULA_PREFIXES)
        if risky.any():
            numeric = pd.to_numeric(values.where(risky), errors="coerce").notna()
            out.loc[risky & ~numeric, column] = "'" + text[risky & ~numeric]
    return out


def rejected_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.rejected.csv")


def score_file(
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    dataset: str,
    input_path: str | Path,
    output_path: str | Path,
    source: str = "batch",
    chunk_size: int = 200_000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Score a CSV file in chunks with the champion; write scored and rejected rows; fill the ledger.

    Each chunk's ledger rows are written in one transaction; the batch is marked complete when
    every chunk is stored.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    model = load_champion(settings, dataset)
    fmt, chunks = iter_csv(input_path, chunksize=chunk_size)
    missing = [f["name"] for f in model.contract["features"] if f["name"] not in fmt.names]
    if missing:
        check_inputs(pd.DataFrame(columns=fmt.names), model.contract)  # raises, naming the columns
    batch_id = uuid.uuid4().hex[:16]
    rejected_file = rejected_path(output_path)
    total = scored = rejected = 0
    first = True
    try:
        for chunk in chunks:
            if first:  # the batch exists once there is a row to score
                if chunk.empty:
                    break
                with sessions.begin() as session:
                    session.add(
                        Batch(id=batch_id, dataset=dataset, model_version=model.version, source_file=input_path.name)
                    )
            typed, reasons, flags = check_inputs(chunk, model.contract)
            bad = reasons != ""
            good = ~bad
            proba, predicted = _predict(model, typed[good]) if good.any() else (np.empty((0, 0)), np.empty(0))
            n_good = int(good.sum())
            with sessions.begin() as session:
                first_id = reserve_ids(session, "prediction", n_good) if n_good else 0
                if n_good:
                    rows = _ledger_rows(first_id, model, typed[good], proba, predicted, flags[good], source, batch_id)
                    session.execute(insert(Prediction), rows)
            out = chunk[good].copy()
            out["prediction_id"] = np.arange(first_id, first_id + n_good)
            out["prediction"] = predicted
            out["confidence"] = proba.max(axis=1) if n_good else []
            for i, label in enumerate(model.classes):
                out[f"proba_{label}"] = proba[:, i] if n_good else []
            out["flags"] = flags[good]
            neutralise_formulas(out).to_csv(output_path, mode="w" if first else "a", header=first, index=False)
            rejects = chunk[bad].copy()
            rejects["reason"] = reasons[bad]
            neutralise_formulas(rejects).to_csv(rejected_file, mode="w" if first else "a", header=first, index=False)
            first = False
            total += len(chunk)
            scored += n_good
            rejected += int(bad.sum())
            if progress:
                progress(total)
    except BaseException:
        if first:
            raise
        with sessions.begin() as session:
            batch = session.get(Batch, batch_id)
            batch.status, batch.rows, batch.scored, batch.rejected = "failed", total, scored, rejected
        raise
    if first:
        raise InputFileError(f"{input_path.name} has a header but no rows. Add rows to score and try again.")
    with sessions.begin() as session:
        batch = session.get(Batch, batch_id)
        batch.status, batch.rows, batch.scored, batch.rejected = "complete", total, scored, rejected
        batch.finished_at = utcnow()
    return {
        "batch_id": batch_id,
        "rows": total,
        "scored": scored,
        "rejected": rejected,
        "model_version": model.version,
        "output": str(output_path),
        "rejected_output": str(rejected_file),
    }


def decode_prediction(row: Prediction) -> dict[str, Any]:
    return {
        "prediction_id": row.id,
        "created_at": row.created_at,
        "model_version": row.model_version,
        "prediction": row.predicted_class,
        "confidence": row.confidence,
        "source": row.source,
        "flags": row.flags,
        "inputs": json.loads(row.inputs),
        "probabilities": json.loads(row.probabilities),
    }
