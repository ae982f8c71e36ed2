"""The real app in a real browser: `streamlit run` on 127.0.0.1 and Debian's headless Chromium.

Playwright drives Chromium through its sync API; the browser is the system's (`apt-get install
chromium`), never one downloaded by `playwright install`. When a test fails, a full-page screenshot
of every page it opened, the server's log and the training jobs' logs are saved under
``test-artifacts/e2e/<test name>/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import REPO_ROOT
from tests.servers import free_port, serve

ARTIFACTS = REPO_ROOT / "test-artifacts" / "e2e"
STREAMLIT = Path(sys.executable).parent / "streamlit"  # the virtual environment's, beside this Python
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these Chromium calls home, and this machine's closed network refuses its connections
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_SECONDS = 90
PAGE_TIMEOUT_MS = 30_000

PAGES = pytest.StashKey[list]()
SERVERS = pytest.StashKey[list]()


@dataclass
class AppServer:
    url: str
    home: Path
    log: Path


def _stop_job_workers(home: Path) -> None:
    """Stop training workers the app started and left running (they run in sessions of their own)."""
    from sqlalchemy import select

    from core.config import Settings
    from core.db import open_database
    from core.db.models import JOB_ACTIVE, Job

    if not (home / "data").exists():
        return
    with open_database(Settings(home=home))() as session:
        pids = session.scalars(select(Job.pid).where(Job.status.in_(JOB_ACTIVE), Job.pid.is_not(None))).all()
    for pid in pids:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


@contextmanager
def running_app(home: Path, log: Path) -> Iterator[AppServer]:
    """`streamlit run streamlit_app.py` on a free port of 127.0.0.1 over an empty ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    # no SIFT_* setting (database, password, thresholds…) nor MLflow store from the caller's shell
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIFT_") and k != "MLFLOW_TRACKING_URI"}
    env["SIFT_HOME"] = str(home)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(STREAMLIT),
        "run",
        "streamlit_app.py",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",  # the checkout may change under it: never rerun on a source edit
        "none",
    ]
    try:
        with serve(
            command, health_url=f"{url}/_stcore/health", log=log, start_seconds=START_SECONDS, cwd=REPO_ROOT, env=env
        ):
            yield AppServer(url=url, home=home, log=log)
    finally:
        _stop_job_workers(home)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One app over an empty home for the session's tests that may share it."""
    folder = tmp_path_factory.mktemp("e2e-app")
    with running_app(folder / "home", folder / "streamlit.log") as server:
        yield server


@pytest.fixture
def app(app_server: AppServer, request: pytest.FixtureRequest) -> AppServer:
    """The shared app; its log goes with this test's artifacts if the test fails."""
    request.node.stash.setdefault(SERVERS, []).append(app_server)
    return app_server


@pytest.fixture
def fresh_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AppServer]:
    """An app of this test's own, started just now: no browser has opened any of its pages yet."""
    with running_app(tmp_path / "home", tmp_path / "streamlit.log") as server:
        request.node.stash.setdefault(SERVERS, []).append(server)
        yield server


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail(
            f"No Chromium at {path}: install Debian's chromium: apt-get install chromium "
            "(or set CHROMIUM to a Chromium binary). Never `playwright install`.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """This test's artifacts folder, emptied at its start."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def page(browser, artifacts: Path, request: pytest.FixtureRequest):
    """A page in a fresh browser context (its own cookies, so its own Streamlit session)."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    page = context.new_page()
    request.node.stash.setdefault(PAGES, []).append(page)
    yield page
    context.close()


# Streamlit scrolls inside its main container, not the document: a "full page" screenshot would
# stop at the window's height, so the window grows to the content's height for the shot
CONTENT_HEIGHT = "Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarContent]')]"
CONTENT_HEIGHT += ".map(e => e.scrollHeight), document.body.scrollHeight)"
MAX_SHOT_HEIGHT = 12_000


def save_screenshot(page, path: Path) -> None:
    """A screenshot of the whole page, however long; never raises (a crashed page must not hide a failure)."""
    with suppress(Exception):
        size = page.viewport_size
        height = min(int(page.evaluate(CONTENT_HEIGHT)), MAX_SHOT_HEIGHT)
        if height > size["height"]:
            page.set_viewport_size({"width": size["width"], "height": height})
        try:
            page.screenshot(path=str(path), full_page=True)
        finally:
            page.set_viewport_size(size)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed and report.when in ("setup", "call"):
        folder = ARTIFACTS / item.name
        folder.mkdir(parents=True, exist_ok=True)
        for i, page in enumerate(item.stash.get(PAGES, []), start=1):
            save_screenshot(page, folder / f"failure-page{i}.png")
        for i, server in enumerate(item.stash.get(SERVERS, []), start=1):
            if server.log.exists():
                shutil.copyfile(server.log, folder / f"streamlit{i}.log")
            for job_log in sorted((server.home / "artifacts" / "jobs").glob("job-*.log")):
                shutil.copyfile(job_log, folder / f"server{i}-{job_log.name}")
        report.sections.append(("e2e artifacts", f"screenshots and logs in {folder}"))
    return report
