"""The scoring service started for real: ``python -m core serve`` as a subprocess on a free loopback port,
over a home of its own (a copy of the trained rice home; PostgreSQL with SIFT_TEST_DB_URL)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from core.config import REPO_ROOT
from core.db import open_database
from tests.homes import copy_home, database_url, home_settings
from tests.servers import free_port, serve

RICE_ROW = {
    "Area": 15231,
    "Perimeter": 525.58,
    "Major_Axis_Length": 229.75,
    "Minor_Axis_Length": 85.09,
    "Eccentricity": 0.929,
    "Convex_Area": 15617,
    "Extent": 0.573,
}


@dataclass
class Service:
    url: str
    home: Path
    process: object

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def sessions(self):
        return open_database(home_settings(self.home))


def service_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIFT_", "MLFLOW_"))}
    env["SIFT_HOME"] = str(home)
    env["SIFT_MONITOR_AFTER_SCORING"] = os.environ.get("SIFT_MONITOR_AFTER_SCORING", "0")  # see tests/conftest.py
    if url := database_url(home):
        env["SIFT_DB_URL"] = url
    return env | extra


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator:
    """Start the service over ``home``; every service started is stopped at the end of the test."""
    stack = []

    def start(home: Path, **env: str) -> Service:
        port = free_port()
        command = [sys.executable, "-m", "core", "--home", str(home), "serve", "--port", str(port)]
        server = serve(
            command,
            health_url=f"http://127.0.0.1:{port}/health",
            log=tmp_path / f"serve-{port}.log",
            start_seconds=90,
            cwd=REPO_ROOT,
            env=service_env(home, **env),
        )
        process = server.__enter__()
        stack.append(server)
        return Service(url=f"http://127.0.0.1:{port}", home=home, process=process)

    yield start
    for server in reversed(stack):
        server.__exit__(None, None, None)


@pytest.fixture
def api_home(tmp_path: Path, trained_template: Path) -> Path:
    """A home of this test's own with rice and its champion (v1)."""
    return copy_home(trained_template, tmp_path / "home")


@pytest.fixture
def service(start_service, api_home: Path) -> Service:
    return start_service(api_home)
