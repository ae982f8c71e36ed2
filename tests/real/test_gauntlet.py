"""The real-data gauntlet: the whole loop on public tables nobody here made, through the command line.

For each table of :mod:`tests.real.tables`: ingest -> train -> score a clean and a messy file ->
measure windows and check alerts -> label the clean predictions -> retrain -> drift on an
unshifted and a shifted sample. Every command exits 0 with no traceback and no library warning on
the terminal, every input row is accounted for, labels keep the table's own type, the unshifted
sample shows no drift, the shifted columns are flagged, and a handful of bad cells raises no alert.

Run with ``make test-real`` (``pytest -m real``); each table takes about a minute.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli.conftest import run
from tests.real.tables import TABLES, Table

pytestmark = [pytest.mark.real, pytest.mark.slow]

SAMPLE = 200  # rows in each scored file and drift sample (fewer when the table is smaller)
FEATURE_ROLES = {"numeric", "categorical", "boolean", "text", "datetime"}


def cli(home: Path, *args: str) -> dict:
    """Run a command; it must exit 0 with JSON, and print no traceback and no library warning."""
    done = run(home, *args)
    assert done.returncode == 0, f"{args[0]} exited {done.returncode}:\n{done.stderr}"
    for noise in ("Traceback", "Warning:", "RuntimeWarning", "UserWarning"):
        assert noise not in done.stderr, f"{args[0]} printed {noise!r}:\n{done.stderr}"
    return json.loads(done.stdout)


def _labels_as_written(values: pd.Series) -> list[str]:
    """The table's classes as a CSV export writes them (1 stays 1, 'yes' stays 'yes')."""
    text = values.dropna().drop_duplicates().to_frame().to_csv(index=False)
    return sorted(pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).iloc[:, 0])


def _features(roles: dict[str, str]) -> dict[str, str]:
    return {name: role for name, role in roles.items() if role in FEATURE_ROLES}


def _numeric_to_shift(frame: pd.DataFrame, features: dict[str, str]) -> str | None:
    """The numeric feature with the most distinct values (a measurement, not a count)."""
    numeric = [n for n, r in features.items() if r == "numeric"]
    spread = {n: pd.to_numeric(frame[n], errors="coerce").nunique() for n in numeric}
    best = max(spread, key=spread.get, default=None)
    return best if best is not None and spread[best] > 10 else None


def _category_to_shift(frame: pd.DataFrame, features: dict[str, str]) -> str | None:
    """The categorical feature with the most even spread of at least two categories."""
    shares = {
        n: frame[n].value_counts(normalize=True).max()
        for n, r in features.items()
        if r in ("categorical", "boolean") and frame[n].nunique() >= 2
    }
    return min(shares, key=shares.get, default=None)


def shift(frame: pd.DataFrame, features: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """A copy with one measurement moved by three standard deviations and one category made the rarest."""
    out, shifted = frame.copy(), []
    if (name := _numeric_to_shift(frame, features)) is not None:
        values = pd.to_numeric(out[name], errors="coerce")
        out[name] = values + 3 * values.std()
        shifted.append(name)
    if (name := _category_to_shift(frame, features)) is not None:
        out[name] = frame[name].value_counts().index[-1]
        shifted.append(name)
    return out, shifted


def write_messy(frame: pd.DataFrame, features: dict[str, str], path: Path) -> dict[str, int]:
    """The sample with a handful of bad cells, an empty row, a blank line and an extra column.

    Returns the row positions of what was spoiled: ``unreadable`` (a word in a number column: rejected),
    ``empty`` (every input empty: rejected), ``unseen`` (an unseen category: scored, flagged) and
    ``mostly_missing`` (one input left: scored, flagged).
    """
    messy = frame.astype(object).copy()
    numeric = [n for n, r in features.items() if r == "numeric"]
    categorical = [n for n, r in features.items() if r == "categorical"]
    spoiled: dict[str, int] = {}
    if numeric:
        messy.iat[0, messy.columns.get_loc(numeric[0])] = "not measured"
        spoiled["unreadable"] = 0
    if categorical:
        messy.iat[1, messy.columns.get_loc(categorical[0])] = "zz-never-seen"
        spoiled["unseen"] = 1
    messy.iloc[3, [messy.columns.get_loc(n) for n in features]] = None
    spoiled["empty"] = 3
    if len(features) >= 4:
        keep = next(iter(features))
        messy.iloc[4, [messy.columns.get_loc(n) for n in features if n != keep]] = None
        spoiled["mostly_missing"] = 4
    messy["analyst_note"] = "checked"
    lines = messy.to_csv(index=False).splitlines(keepends=True)
    middle = len(lines) // 2
    path.write_text("".join([*lines[:middle], "\n", *lines[middle:]]), encoding="utf-8")
    return spoiled


def _sample(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.sample(n=min(SAMPLE, len(frame)), random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
def test_the_whole_loop_on_a_real_table(table: Table, settings, tmp_path: Path) -> None:
    home, name, target = settings.home, table.name, table.target
    frame = table.load()
    source = tmp_path / f"{name}.csv"
    frame.to_csv(source, index=False)
    unlabelled = int(frame[target].isna().sum())

    # ingest: every row stored, the rows without a label counted
    ingested = cli(home, "ingest", str(source), "--name", name, "--target", target)
    assert ingested["rows"] == len(frame)
    assert ingested.get("unlabelled_rows", 0) == unlabelled
    features = _features(ingested["columns"])
    assert features, ingested["columns"]

    # train: a champion, trained on the labelled rows only, with the table's own classes
    trained = cli(home, "train", "--dataset", name, "--trials", "2", "--seed", "7")
    assert trained["version"] == 1 and trained["aliases"] == ["champion"]
    classes = _labels_as_written(frame[target])

    # score a clean sample: every row scored, predictions are the table's classes as written
    labelled = frame[frame[target].notna()]
    clean = _sample(labelled, seed=1)
    clean_path, clean_out = tmp_path / "clean.csv", tmp_path / "clean.scored.csv"
    clean.drop(columns=target).to_csv(clean_path, index=False)
    scored_clean = cli(home, "predict", "--dataset", name, "--input", str(clean_path), "--output", str(clean_out))
    assert (scored_clean["rows"], scored_clean["scored"], scored_clean["rejected"]) == (len(clean), len(clean), 0)
    out = pd.read_csv(clean_out, dtype=str, keep_default_na=False)
    assert len(out) == len(clean)
    assert set(out["prediction"]) <= set(classes), (set(out["prediction"]), classes)
    assert sorted(c.removeprefix("proba_") for c in out.columns if c.startswith("proba_")) == classes

    # score a messy file: every line accounted for, bad rows rejected with a reason, odd ones flagged
    messy_path, messy_out = tmp_path / "messy.csv", tmp_path / "messy.scored.csv"
    spoiled = write_messy(_sample(labelled, seed=3).drop(columns=target), features, messy_path)
    scored_messy = cli(home, "predict", "--dataset", name, "--input", str(messy_path), "--output", str(messy_out))
    expected_rejects = sum(1 for k in ("unreadable", "empty") if k in spoiled)
    assert scored_messy["rejected"] == expected_rejects, scored_messy
    assert scored_messy["scored"] + scored_messy["rejected"] == SAMPLE if len(labelled) >= SAMPLE else True
    assert scored_messy.get("blank_lines") == 1, scored_messy
    rejected = pd.read_csv(scored_messy["rejected_output"], dtype=str, keep_default_na=False)
    assert len(rejected) == expected_rejects and (rejected["reason"] != "").all()
    messy_scored = pd.read_csv(messy_out, dtype=str, keep_default_na=False)
    assert len(messy_scored) + len(rejected) == min(SAMPLE, len(labelled))
    flags = " ".join(messy_scored["flags"])
    if "unseen" in spoiled:
        assert "unseen" in flags
    if "mostly_missing" in spoiled:
        assert "mostly missing" in flags

    # windows per batch: measured, and a handful of bad cells raises no alert
    windows = cli(home, "drift", "--dataset", name, "--windows", "batch")
    assert windows["alerts"] == [], windows["alerts"]
    assert cli(home, "alerts", "--dataset", name)["alerts"] == []

    # feedback: the true labels of the clean sample, written as the table writes them
    labels = pd.DataFrame({"prediction_id": out["prediction_id"], "label": clean[target]})
    labels_path = tmp_path / "labels.csv"
    labels.to_csv(labels_path, index=False)
    given = cli(home, "feedback", "--dataset", name, "--input", str(labels_path))
    assert (given["accepted"], given["rejected"]) == (len(clean), 0), given

    # retrain: a challenger judged and either promoted or not; never a crash, never a stray version
    decision = cli(home, "retrain", "--dataset", name, "--trials", "1", "--seed", "7")
    assert decision["challenger_version"] == 2 and decision["champion_version"] == 1
    models = cli(home, "models", "--dataset", name)
    assert [v["version"] for v in models["versions"]] == [2, 1]
    champion = [v["version"] for v in models["versions"] if "champion" in v["aliases"]]
    assert champion == [2 if decision["promoted"] else 1]

    # drift: a fresh sample of the table shows none; the shifted columns are flagged
    unshifted = _sample(frame, seed=5).drop(columns=target)
    unshifted_path = tmp_path / "unshifted.csv"
    unshifted.to_csv(unshifted_path, index=False)
    calm = cli(home, "drift", "--dataset", name, "--input", str(unshifted_path))
    drifting = sorted(c for c, v in calm["columns"].items() if v["drifted"])
    assert drifting == [], calm["columns"]

    moved, shifted = shift(unshifted, features)
    if shifted:
        moved_path = tmp_path / "shifted.csv"
        moved.to_csv(moved_path, index=False)
        alarm = cli(home, "drift", "--dataset", name, "--input", str(moved_path))
        flagged = {c for c, v in alarm["columns"].items() if v["drifted"]}
        assert set(shifted) <= flagged, (shifted, alarm["columns"])
    assert np.isfinite(calm["drift_share"])
