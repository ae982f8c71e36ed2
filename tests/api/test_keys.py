"""Access to the scoring service (core/api/guard.py, core/api/server.py): API keys, and the refusal to
serve open on an address others can reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from core.access import new_api_key
from core.config import REPO_ROOT
from tests.api.checks import error_of, store_state
from tests.api.conftest import RICE_ROW, service_env
from tests.servers import free_port, serve

pytestmark = pytest.mark.slow

KEYED_PATHS = ("/v1/models", "/v1/models/rice", "/metrics", "/openapi.json", "/docs")


def _serve_command(home: Path, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "core", "--home", str(home), "serve", "--host", host, "--port", str(port)]


def _refused(home: Path, host: str, **env: str) -> str:
    """``serve`` refuses to start: it exits 2 by itself with one ``error:`` line (a start would time out)."""
    done = subprocess.run(
        _serve_command(home, host, free_port()),
        cwd=REPO_ROOT,
        env=service_env(home, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_with_keys_every_endpoint_but_health_needs_one(start_service, api_home: Path) -> None:
    made, other = new_api_key(), new_api_key()
    service = start_service(api_home, SIFT_API_KEYS=f"{other['hash']}, {made['hash']}")
    with service.client() as anyone:
        assert anyone.get("/health").status_code == 200
    before = store_state(service)
    for key in (None, "sift_not-a-key", made["hash"]):
        with service.client(key) as client:
            for path in KEYED_PATHS:
                response = client.get(path)
                assert "API key" in error_of(response, 401), path
                assert response.headers["www-authenticate"] == "Bearer"
            error_of(client.post("/v1/models/rice/predict", json={"rows": [RICE_ROW]}), 401)
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Basic {made['key']}"}) as client:
        error_of(client.get("/v1/models"), 401)
    assert store_state(service) == before

    for key in (made["key"], other["key"]):
        with service.client(key) as client:
            for path in KEYED_PATHS:
                assert client.get(path).status_code == 200, path
            response = client.post("/v1/models/rice/predict", json={"rows": [RICE_ROW]})
            assert response.status_code == 200, response.text
    assert store_state(service)["predictions"] == before["predictions"] + 2


def test_serve_refuses_a_pasted_key_and_an_open_network_address(api_home: Path) -> None:
    key = new_api_key()["key"]
    message = _refused(api_home, "127.0.0.1", SIFT_API_KEYS=key)
    assert "SIFT_API_KEYS" in message and key not in message and key[5:15] not in message

    message = _refused(api_home, "0.0.0.0")
    assert "SIFT_ALLOW_OPEN" in message and "SIFT_API_KEYS" in message


def test_serve_open_on_every_address_when_allowed(tmp_path: Path, api_home: Path) -> None:
    port = free_port()
    with (
        serve(
            _serve_command(api_home, "0.0.0.0", port),
            health_url=f"http://127.0.0.1:{port}/health",
            log=tmp_path / "serve.log",
            start_seconds=90,
            cwd=REPO_ROOT,
            env=service_env(api_home, SIFT_ALLOW_OPEN="1"),
        ),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        assert client.get("/v1/models").status_code == 200  # open: no key asked
