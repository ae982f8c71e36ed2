"""Shared helpers: a temporary home, timing and peak memory of a piece of work."""

from __future__ import annotations

import os
import resource
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.config import get_settings


@contextmanager
def temporary_home() -> Any:
    with tempfile.TemporaryDirectory(prefix="sift-bench-") as folder:
        before = os.environ.get("SIFT_HOME")
        os.environ["SIFT_HOME"] = folder
        get_settings.cache_clear()
        try:
            yield Path(folder), get_settings()
        finally:
            if before is None:
                os.environ.pop("SIFT_HOME", None)
            else:
                os.environ["SIFT_HOME"] = before
            get_settings.cache_clear()


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
