"""Spreadsheet-safe output: formula prefixes neutralised in every file a batch writes or exports."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from core.scoring.files import neutralise_formulas, rejected_path
from core.scoring.ledger import batch_csv
from tests.core.scoring.conftest import _score


def test_neutralise_formulas_keeps_negative_numbers() -> None:
    frame = pd.DataFrame(
        {"text": ["=1+2", "+cmd", "-2.5", "@SUM", "\tx", "\rx", "plain", None, "-"], "n": range(-4, 5)}
    )
    out = neutralise_formulas(frame)
    assert out["text"].tolist()[:7] == ["'=1+2", "'+cmd", "-2.5", "'@SUM", "'\tx", "'\rx", "plain"]
    assert out["text"].iloc[7] is None and out["text"].iloc[8] == "'-"
    assert out["n"].tolist() == list(range(-4, 5))
    assert frame["text"].iloc[0] == "=1+2"  # the input is left as it was


def test_every_export_is_safe_in_a_spreadsheet(events_settings, events_sessions, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "size": [60, "=cmd()", -3, 20],
            "colour": ["@SUM(A1)", "red", "-2.5", "+red"],
            "when": ["01/02/2023"] * 4,
            "=bad header": ["-1", "=x", "ok", "\tx"],
        }
    )
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(source, index=False)
    result = _score(events_settings, events_sessions, source, output, dataset="events")
    assert (result["scored"], result["rejected"]) == (3, 1)
    text = output.read_text()
    header = text.splitlines()[0]
    assert header.startswith('"size","colour","when","\'=bad header"')
    scored = pd.read_csv(output, keep_default_na=False)
    assert scored["colour"].tolist() == ["'@SUM(A1)", "-2.5", "'+red"]
    # the cells as written: a leading tab is kept, and neutralised like any formula prefix
    assert scored["'=bad header"].astype(str).tolist() == ["-1", "ok", "'\tx"]
    assert scored["size"].tolist() == [60, -3, 20]  # numbers, negative ones included, stay numbers
    assert "\n-3," in text.replace('"', "")
    rejected = pd.read_csv(rejected_path(output), keep_default_na=False)
    assert rejected["size"].tolist() == ["'=cmd()"] and rejected["'=bad header"].tolist() == ["'=x"]
    assert rejected["reason"].tolist() == ["size: '=cmd()' is not a number"]  # the reason quotes it: safe
    with events_sessions() as session:
        again = pd.read_csv(io.BytesIO(batch_csv(session=session, batch_id=result["batch_id"])))
    assert again["colour"].fillna("").tolist() == ["'@SUM(A1)", "-2.5", "'+red"]
    assert again["size"].tolist() == [60, -3, 20]
    assert again["prediction_id"].tolist() == scored["prediction_id"].tolist()
    assert again["prediction"].tolist() == scored["prediction"].tolist()
    assert again["proba_big"].round(5).tolist() == scored["proba_big"].round(5).tolist()
