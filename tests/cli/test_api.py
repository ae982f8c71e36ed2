"""``python -m core api-key`` through real subprocesses (core/cli/api.py); ``serve`` is tested in tests/api."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

from core.config import REPO_ROOT


def _api_key() -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "core", "api-key"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_api_key_prints_a_new_long_random_key_and_its_hash() -> None:
    first, second = _api_key(), _api_key()
    for made in (first, second):
        assert set(made) == {"key", "hash"}
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", made["hash"]), made["hash"]
        assert made["hash"] == "sha256:" + hashlib.sha256(made["key"].encode()).hexdigest()
        assert len(made["key"]) >= 40 and made["key"] not in made["hash"]
    assert first["key"] != second["key"] and first["hash"] != second["hash"]
