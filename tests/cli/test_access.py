"""``python -m core hash-password`` through real subprocesses (core/cli/access.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from core.access import verify_password
from core.config import REPO_ROOT


def _hash_password_command(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", "hash-password"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


def test_the_command_hashes_the_first_line_of_stdin() -> None:
    done = _hash_password_command("correct horse\nsecond line\n")
    assert done.returncode == 0, done.stderr
    hashed = json.loads(done.stdout)["hash"]
    assert verify_password("correct horse", hashed)
    assert "correct horse" not in done.stdout + done.stderr


def test_the_command_refuses_an_empty_password() -> None:
    done = _hash_password_command("\n")
    assert done.returncode == 2 and not done.stdout
    assert done.stderr.startswith("error:") and len(done.stderr.splitlines()) == 1
