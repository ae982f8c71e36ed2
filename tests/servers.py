"""Servers the tests start for real (the app, an MLflow tracking server): a free loopback port, and a
process kept until its health URL answers, stopped afterwards whatever happened."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def serve(
    command: list[str],
    *,
    health_url: str,
    log: Path,
    start_seconds: float,
    cwd: Path,
    env: dict[str, str] | None = None,
    process_group: bool = False,
) -> Iterator[subprocess.Popen]:
    """Run ``command`` (output to ``log``) until ``health_url`` answers 200; fail with the log if it exits
    or stays unhealthy. On exit it is terminated, then killed; ``process_group`` stops its children too."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=process_group
        )
    name = Path(command[0]).name

    def stop(sig: signal.Signals) -> None:
        with suppress(ProcessLookupError):  # already gone
            if process_group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)

    try:
        deadline = time.monotonic() + start_seconds
        while not healthy(health_url):
            if process.poll() is not None:
                pytest.fail(f"{name} exited with code {process.returncode}:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not healthy after {start_seconds} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.5)
        yield process
    finally:
        stop(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop(signal.SIGKILL)
            process.wait()
