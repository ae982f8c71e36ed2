"""`python -m core drift` and `python -m core alerts` through real subprocesses on a trained rice home
(core/cli/monitoring.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import ok, run, user_error
from tests.core.monitoring import conftest as monitoring
from tests.core.monitoring.conftest import FEATURES, penguins_rows, rice_rows, score_rows

# the penguins home of tests/core/monitoring, for this module too
penguins_template, penguins_settings, penguins_sessions = (
    monitoring.penguins_template,
    monitoring.penguins_settings,
    monitoring.penguins_sessions,
)


def test_drift_of_a_scored_batch_prints_the_contract(trained_settings, trained_sessions, tmp_path: Path) -> None:
    home = trained_settings.home
    shifted = rice_rows(400, seed=31)
    shifted["Area"] *= 1.3
    batch = score_rows(trained_sessions, trained_settings, shifted, tmp_path)["batch_id"]

    out = ok(home, "drift", "--dataset", "rice", "--batch", batch, "--report", str(tmp_path / "r.html"))
    assert set(out) >= {"drift_share", "dataset_drift", "rows", "columns"}
    assert out["rows"] == {"reference": 3048, "current": 400}
    assert list(out["columns"]) == FEATURES
    for column in out["columns"].values():
        assert set(column) == {"drifted", "score", "method", "threshold", "effect"}
        assert isinstance(column["drifted"], bool) and isinstance(column["score"], float)
    assert out["columns"]["Area"]["drifted"] and out["columns"]["Area"]["method"] == "ks"
    assert out["drift_share"] == sum(c["drifted"] for c in out["columns"].values()) / 7
    assert isinstance(out["dataset_drift"], bool)
    assert (tmp_path / "r.html").stat().st_size > 10_000

    message = user_error(home, "drift", "--dataset", "rice", "--last", "20")
    assert "Only 20 predictions in this window" in message and "at least 100" in message
    assert "does not suit" in user_error(home, "drift", "--dataset", "rice", "--method", "Area=chisquare")


def test_windows_then_alerts_listed_and_acknowledged(trained_settings, trained_sessions, tmp_path: Path) -> None:
    home = trained_settings.home
    moved = rice_rows(150, seed=32)
    moved[["Area", "Convex_Area"]] *= 2
    score_rows(trained_sessions, trained_settings, moved, tmp_path)
    refreshed = ok(home, "drift", "--dataset", "rice", "--windows", "batch")
    assert refreshed["measured"] == 1 and refreshed["windows"][0]["rows"] == 150
    assert {"flagged_share", "feature_drift"} <= {a["kind"] for a in refreshed["alerts"]}

    listed = ok(home, "alerts", "--dataset", "rice", "--status", "open")["alerts"]
    first = listed[-1]
    done = ok(home, "alerts", "--dataset", "rice", "--ack", str(first["id"]), "--who", "ana")
    assert done["acknowledged"]["status"] == "acknowledged" and done["acknowledged"]["acknowledged_by"] == "ana"
    assert first["id"] not in [a["id"] for a in ok(home, "alerts", "--dataset", "rice", "--status", "open")["alerts"]]
    assert "No alert 999" in user_error(home, "alerts", "--dataset", "rice", "--ack", "999")


def test_drift_on_a_small_window_with_a_few_valued_number_exits_0(
    penguins_settings, penguins_sessions, tmp_path: Path
) -> None:
    """Issue 12: palmerpenguins' ``year`` (three values) on a 200-row window crashed `drift` with a traceback."""
    home = penguins_settings.home
    batch = score_rows(penguins_sessions, penguins_settings, penguins_rows(200, seed=3), tmp_path, dataset="penguins")

    done = run(home, "drift", "--dataset", "penguins", "--batch", batch["batch_id"])
    assert done.returncode == 0 and "Traceback" not in done.stderr and "RuntimeWarning" not in done.stderr, done.stderr
    out = json.loads(done.stdout)
    assert out["rows"]["current"] == 200 and out["drift_share"] == 0.0 and out["data_quality"] == {}
    year = out["columns"]["year"]
    assert year["method"] == "chisquare" and year["drifted"] is False and year["score"] > 0.05
    assert set(year) == {"drifted", "score", "method", "threshold", "effect"}

    windows = ok(home, "drift", "--dataset", "penguins", "--windows", "batch")
    assert [w["status"] for w in windows["windows"]] == ["measured"] and windows["alerts"] == []
    assert windows["windows"][0]["columns"]["year"]["tested_as"] == "categorical"
