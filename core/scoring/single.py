"""One row scored with its reasons: checked against the contract, predicted, explained, written to the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import MetaData, Table, select
from sqlalchemy.orm import Session

from core import registry
from core.champion import LoadedModel, load_champion
from core.config import Settings
from core.contract import check_inputs, prepare_inputs
from core.datasets.versions import get_version
from core.db.engine import reserve_ids
from core.db.models import utcnow
from core.errors import DatasetNotFound, InputContractError, SiftError
from core.explain import Explanation, explain_row
from core.features import coerce_inputs
from core.labels import plain
from core.scoring.ledger import LedgerRows, check_source, insert_ledger


@dataclass
class ScoredRow:
    prediction_id: int
    prediction: Any
    probabilities: dict[str, float]
    confidence: float
    model_version: int
    flags: list[str]
    explanation: Explanation | None = None
    model_name: str = ""


def _form_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def score_values(
    *, session: Session, model: LoadedModel, values: dict[str, Any], source: str = "form", explain: bool = True
) -> ScoredRow:
    """Score one row with ``model``, explain it and record it in the ledger. The caller commits."""
    check_source(source)
    frame = pd.DataFrame([{k: _form_value(v) for k, v in values.items()}])
    typed, reasons, flags = check_inputs(frame, model.contract)
    if reasons.iat[0]:
        raise InputContractError(f"This row cannot be scored: {reasons.iat[0]}. Correct the value and try again.")
    if hasattr(model.pipeline, "steps"):  # transformed once, for the prediction and its reasons
        transformed = model.pipeline[:-1].transform(typed)
        proba = np.asarray(model.pipeline[-1].predict_proba(transformed), dtype="float64")
    else:  # a calibrated model or an ensemble: no one preprocessing step to share with the reasons
        transformed = None
        proba = np.asarray(model.pipeline.predict_proba(typed), dtype="float64")
    best = int(proba[0].argmax())
    explanation = (
        explain_row(model.pipeline, typed, best, typical=model.typical, transformed=transformed) if explain else None
    )
    first_id = reserve_ids(session, "prediction", 1)
    rows = LedgerRows.build(model, typed, proba, flags)
    insert_ledger(session.connection(), first_id, rows, model=model, source=source, batch_id=None, now=utcnow())
    return ScoredRow(
        prediction_id=first_id,
        prediction=plain(model.classes[best]),
        probabilities={str(c): float(p) for c, p in zip(model.classes, proba[0], strict=True)},
        confidence=float(proba[0, best]),
        model_version=model.version,
        flags=[f for f in flags.iat[0].split("; ") if f],
        explanation=explanation,
        model_name=model.name,
    )


def score_row(
    *,
    session: Session,
    settings: Settings,
    dataset: str,
    values: dict[str, Any],
    source: str = "form",
    explain: bool = True,
) -> ScoredRow:
    """Score one row with the champion, explain it and record it in the ledger. The caller commits."""
    model = load_champion(settings, dataset, session=session)
    return score_values(session=session, model=model, values=values, source=source, explain=explain)


def typed_values(model: LoadedModel, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (a ledger row's inputs, a training row) read as the model reads them, for a form.

    Numbers as floats, dates as ``pandas.Timestamp``, other values as text; missing values and
    values that cannot be read as None. Columns the model does not use are left out.
    """
    frame = pd.DataFrame([{f["name"]: _form_value(values.get(f["name"])) for f in model.features}])
    typed = coerce_inputs(prepare_inputs(frame, model.features), model.features)
    out: dict[str, Any] = {}
    for name in typed.columns:
        value = typed[name].iloc[0]
        out[name] = None if value is None or (not isinstance(value, str) and pd.isna(value)) else plain(value)
    return out


def training_row(*, session: Session, model: LoadedModel, seed: int | None = None) -> dict[str, Any]:
    """A random row of the dataset version the model was trained on: ``{"values", "target", "row", "dataset"}``.

    ``values`` holds the model's input columns as stored (numbers, ISO dates, text).
    """
    name, number = registry.trained_on(model)
    try:
        version = get_version(session=session, name=name, version=number)
    except SiftError as exc:
        raise DatasetNotFound(
            f"The training data of {model.name} v{model.version} ({name} version {number}) is not there any more."
        ) from exc
    if version.row_count < 1:
        raise DatasetNotFound(f"{version.label} has no rows.")
    row_id = int(np.random.default_rng(seed).integers(0, version.row_count))
    table = Table(version.rows_table, MetaData(), autoload_with=session.connection())
    found = session.execute(select(table).where(table.c.row_id == row_id)).one()._mapping
    stored = {c["name"]: found[f"c{i}"] for i, c in enumerate(version.columns)}
    return {
        "values": {f["name"]: stored.get(f["name"]) for f in model.features},
        "target": stored.get(version.target),
        "row": row_id,
        "dataset": version.label,
    }
