"""Helpers for the command line tests: run ``python -m core`` as a real subprocess on a home of the
test's own, and read its JSON or its one-line refusal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.config import REPO_ROOT


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", "--home", str(home), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(home: Path, *args: str) -> dict:
    done = run(home, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def user_error(home: Path, *args: str) -> str:
    done = run(home, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ")
    return message
