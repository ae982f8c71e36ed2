"""A request's rows scored against the champion's input contract, as the Batch page scores a file.

A value that cannot be read (text for a number, a JSON list or object, an unparsable date)
rejects its row with the reason; unseen categories and values outside the training range are
scored and flagged; fields the model does not use are ignored. A row without a field the model
needs refuses the whole request (nothing is scored or written), naming the field: send ``null``
for a value that is not known. The request's rows for the ledger carry the count of rows it
rejected (:class:`~core.api.ledger.RequestRows`), so the ledger writer records them as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.api.ledger import RequestRows
from core.champion import LoadedModel
from core.contract import check_inputs
from core.errors import InputContractError
from core.explain import Explanation, Reason, contributions

MAX_EXPLAIN_ROWS = 1_000  # rows one request may have explained (each costs a prediction per input)
TOP_REASONS = 5
HUGE = 1e308  # beyond this an integer cannot be a float


@dataclass
class ScoredRequest:
    """A request's rows scored, before the ledger gives them ids."""

    model: LoadedModel
    rows: RequestRows
    scored: np.ndarray  # positions of the scored rows in the request
    proba: np.ndarray
    rejected: list[dict[str, Any]]
    reasons: list[dict[str, Any]] | None = None  # per scored row: method, unit and top reasons

    def predictions(self, first_id: int | None) -> list[dict[str, Any]]:
        classes, names = self.model.classes, self.model.class_labels.tolist()
        best = self.proba.argmax(axis=1)
        rounded = np.round(self.proba, 6).tolist()
        out = []
        for k, (row, b, p, f) in enumerate(
            zip(self.scored.tolist(), best.tolist(), rounded, self.rows.flags, strict=True)
        ):
            item = {
                "row": row,
                "prediction_id": first_id + k,
                "prediction": classes[b],
                "confidence": p[b],
                "probabilities": dict(zip(names, p, strict=True)),
                "flags": f.split("; ") if f else [],
            }
            if self.reasons is not None:
                item["reasons"] = self.reasons[k]
            out.append(item)
        return out


def _needed_fields(rows: list[dict[str, Any]], needed: list[str]) -> None:
    wanted = frozenset(needed)
    for i, row in enumerate(rows):
        if not wanted.issubset(row.keys()):
            missing = [n for n in needed if n not in row]
            raise InputContractError(
                f"rows[{i}] lacks the input{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} the model "
                "needs. Send every input the model needs (null for a value that is not known); "
                "GET /v1/models/{dataset} lists them."
            )


def _booleans_as_text(frame: pd.DataFrame, numeric: list[str]) -> None:
    """JSON true and false in a numeric input are not numbers (pandas would read them as 1 and 0)."""
    for name in numeric:
        column = frame[name]
        if column.dtype == bool or column.dtype == object:
            flags = np.fromiter((type(v) is bool for v in column), bool, len(column))
            if flags.any():
                frame[name] = column.astype(object).where(~flags, column[flags].map({True: "true", False: "false"}))


def _nested(frame: pd.DataFrame) -> np.ndarray | None:
    """Per row, the reason a value is a JSON list or object (not a value), else ''; None when there is none."""
    reasons = None
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        bad = np.fromiter((isinstance(v, (dict, list)) for v in column), bool, len(column))
        if bad.any():
            frame.loc[bad, name] = None
            note = f"{name}: a JSON list or object is not a value"
            reasons = np.full(len(frame), "", dtype=object) if reasons is None else reasons
            reasons[bad] = np.where(reasons[bad] == "", note, reasons[bad] + "; " + note)
    return reasons


def _checked(model: LoadedModel, rows: list[dict[str, Any]]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(typed inputs, rejection reason, flags) per row; one plain row skips pandas (:class:`RowCheck`)."""
    if len(rows) == 1 and (fast := model.row_check.check(rows[0])) is not None:
        typed, reason, flags = fast
        return typed, np.array([reason], dtype=object), np.array([flags], dtype=object)
    needed = [f["name"] for f in model.features]
    try:
        frame = pd.DataFrame.from_records(rows, columns=needed)
    except OverflowError:  # an integer too large for a float: as text, the contract rejects its row
        rows = [{k: str(v) if type(v) is int and abs(v) > HUGE else v for k, v in row.items()} for row in rows]
        frame = pd.DataFrame.from_records(rows, columns=needed)
    _booleans_as_text(frame, [f["name"] for f in model.features if f["role"] == "numeric"])
    nested = _nested(frame)
    typed, reasons, flags = check_inputs(frame, model.contract)
    reasons = reasons.to_numpy()
    if nested is not None:
        reasons = np.where(nested == "", reasons, np.where(reasons == "", nested, nested + "; " + reasons))
    return typed, reasons, flags.to_numpy()


def score_rows(model: LoadedModel, rows: list[dict[str, Any]], *, explain: bool = False) -> ScoredRequest:
    """Check ``rows`` against ``model``'s contract and predict the readable ones (nothing is written)."""
    _needed_fields(rows, [f["name"] for f in model.features])
    if explain and len(rows) > MAX_EXPLAIN_ROWS:
        raise InputContractError(
            f"explain=true takes at most {MAX_EXPLAIN_ROWS:,} rows per request, not {len(rows):,}: "
            "send fewer rows, or leave explain off."
        )
    typed, reasons, flags = _checked(model, rows)
    good = reasons == ""
    scored = np.flatnonzero(good)
    rejected = [{"row": int(i), "reason": reasons[i]} for i in np.flatnonzero(~good)]
    if not good.all():
        typed, flags = typed[good], flags[good]
    if len(scored):
        proba = np.asarray(model.pipeline.predict_proba(typed), dtype="float64")
    else:
        proba = np.empty((0, len(model.classes)))
    explained = None
    if explain and len(scored):
        values, _, method = contributions(model.pipeline, typed, proba.argmax(axis=1), typical=model.typical)
        explained = []
        for i, row in enumerate(values.to_numpy()):
            top = np.argsort(-np.abs(row), kind="stable")[:TOP_REASONS]
            reasons_ = [Reason(str(values.columns[j]), typed.iat[i, j], round(float(row[j]), 6)) for j in top]
            explained.append(Explanation(method=method, reasons=reasons_).as_dict())
    ledger_rows = RequestRows.build(model, typed, proba, flags)
    ledger_rows.rejected = len(rejected)
    return ScoredRequest(
        model=model,
        rows=ledger_rows,
        scored=scored,
        proba=proba,
        rejected=rejected,
        reasons=explained,
    )
