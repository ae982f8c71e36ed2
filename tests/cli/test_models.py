"""``promote`` and ``rollback`` through real subprocesses (core/cli/models.py)."""

from __future__ import annotations

import getpass
import json
import subprocess

from core import registry
from tests.cli.conftest import run


def _error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_cli_promote_and_rollback_print_json_and_exit_2_on_refusals(two_settings) -> None:
    home = two_settings.home
    done = run(home, "promote", "--dataset", "rice", "--version", "2", "--reason", "better F1")
    assert done.returncode == 0, done.stderr
    promoted = json.loads(done.stdout)
    assert {k: promoted[k] for k in ("model", "champion", "previous", "reason")} == {
        "model": "rice",
        "champion": 2,
        "previous": 1,
        "reason": "better F1",
    }
    assert promoted["who"] == getpass.getuser()

    assert "already the champion" in _error_line(run(home, "promote", "--dataset", "rice", "--version", "2"))

    done = run(home, "rollback", "--dataset", "rice", "--reason", "alerts")
    assert done.returncode == 0, done.stderr
    rolled = json.loads(done.stdout)
    assert (rolled["model"], rolled["champion"], rolled["previous"], rolled["reason"]) == ("rice", 1, 2, "alerts")
    assert "Nothing to roll back to" in _error_line(run(home, "rollback", "--dataset", "rice"))
    assert registry.alias_version(two_settings, "rice") == 1
