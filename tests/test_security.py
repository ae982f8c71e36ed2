"""Security properties checked on the code and configuration as shipped: the Streamlit settings, no
user text rendered as HTML, and models loaded only from Sift's own registry."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.champion import load_version
from core.config import REPO_ROOT
from core.errors import ModelNotFound
from tests.servers import free_port

APP_SOURCES = sorted([REPO_ROOT / "streamlit_app.py", *(REPO_ROOT / "app").rglob("*.py")])
SOURCES = sorted([*APP_SOURCES, *(REPO_ROOT / "core").rglob("*.py"), *(REPO_ROOT / "bench").rglob("*.py")])
HOSTILE = "</script><script>top.document.title=String.fromCharCode(112)</script><img src=x onerror=alert(1)>"


def _calls(path: Path) -> list[tuple[ast.Call, str]]:
    """Every call in a file with its callee written out (``st.iframe``, ``mlflow.sklearn.load_model``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Call):
            found.append((node, ast.unparse(node.func)))
    return found


def _where(path: Path, call: ast.Call) -> str:
    return f"{path.relative_to(REPO_ROOT)}:{call.lineno}"


# -- .streamlit/config.toml ----------------------------------------------------------------------


def test_streamlit_settings_are_deliberate() -> None:
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"].get("enableCORS", True) is True  # Streamlit turns XSRF off when CORS is off
    assert 1 <= config["server"]["maxUploadSize"] <= 500  # MB: set on purpose, bounded
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"  # tracebacks stay in the server log
    assert config["runner"]["magicEnabled"] is False  # a bare expression never writes to the page


def test_every_setting_in_config_toml_is_one_streamlit_knows() -> None:
    from streamlit import config as streamlit_config

    known = streamlit_config.get_config_options()
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    written = [f"{section}.{key}" for section, options in config.items() for key in options]
    assert written and not [option for option in written if option not in known]  # a typo is silently ignored
    assert known["client.showErrorDetails"].type is str  # "none" is a value of 1.67's string option


# -- no user text as HTML ------------------------------------------------------------------------------


NOT_RENDERED = {"card.html"}  # the model card's HTML is offered as a download, never shown in the page


def test_no_page_renders_html_except_the_sandboxed_report() -> None:
    """``unsafe_allow_html``, ``st.html`` and components are not used; ``st.iframe`` only shows a page built
    by ``sandboxed_page``, whose frame has no origin (so a hostile name in a report cannot reach the app)."""
    offending = []
    for path in APP_SOURCES:
        for call, callee in _calls(path):
            unsafe = [k for k in call.keywords if k.arg == "unsafe_allow_html"]
            if any(not (isinstance(k.value, ast.Constant) and k.value.value is False) for k in unsafe):
                offending.append(f"{_where(path, call)} {callee}(unsafe_allow_html=...)")
            name = callee.rsplit(".", 1)[-1]
            if (name == "html" and callee not in NOT_RENDERED) or "components" in callee:
                offending.append(f"{_where(path, call)} {callee}")
            if name == "iframe":
                content = call.args[0] if call.args else None
                sandboxed = isinstance(content, ast.Call) and ast.unparse(content.func).endswith("sandboxed_page")
                if not sandboxed:
                    offending.append(f"{_where(path, call)} {callee} without sandboxed_page")
    assert not offending, "HTML from data could reach the page:\n" + "\n".join(offending)


def test_the_sandboxed_page_escapes_the_report_and_gives_it_no_origin() -> None:
    from app.ui.monitor import sandboxed_page

    report = f"<html><body><script>var names = ['{HOSTILE}'];</script></body></html>"
    page = sandboxed_page(report)
    assert page.count("<iframe") == 1 and 'sandbox="allow-scripts"' in page
    assert "allow-same-origin" not in page
    assert HOSTILE not in page and "<script" not in page and "<img" not in page  # all inside srcdoc, escaped
    srcdoc = page.split('srcdoc="', 1)[1].rsplit('"></iframe>', 1)[0]
    assert '"' not in srcdoc  # the attribute cannot be closed from inside


# -- models only from the registry ---------------------------------------------------------------------


def test_only_the_registry_deserialises_models() -> None:
    offending = []
    for path in SOURCES:
        for call, callee in _calls(path):
            is_loader = callee.startswith(("mlflow.", "skops.", "pickle.", "joblib.", "cloudpickle.")) and (
                callee.rsplit(".", 1)[-1] in {"load_model", "load", "loads"}
            )
            if is_loader and path != REPO_ROOT / "core" / "registry.py":
                offending.append(f"{_where(path, call)} {callee}")
            if callee.endswith("load_model_from_path"):  # any folder: only for tests of an export
                offending.append(f"{_where(path, call)} {callee}")
    assert not offending, "a model is loaded outside core/registry.py:\n" + "\n".join(offending)


def test_scoring_loads_only_registered_versions(trained_settings) -> None:
    for name in ("runs:/0123456789abcdef/model", "file:///etc/passwd", "models:/rice@champion", "../rice", "rice/1"):
        with pytest.raises(ModelNotFound):
            load_version(trained_settings, name, 1)  # a URI or path in place of a name reaches no file
    assert load_version(trained_settings, "rice", 1).version == 1  # while the registered model loads


# -- Dockerfile (no Docker engine here to build it: its promises are read from the file) ---------------


def _instructions() -> list[str]:
    text = (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")  # join continued lines
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_image_runs_as_a_user_on_a_pinned_base_with_a_healthcheck_and_a_state_volume() -> None:
    instructions = _instructions()
    base = next(line for line in instructions if line.startswith("FROM "))
    assert ":" in base and not base.endswith(":latest")  # a pinned tag (or digest), never floating
    users = [line for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in ("USER root", "USER 0")  # the app never runs as root
    assert any(line.startswith("HEALTHCHECK ") and "/_stcore/health" in line for line in instructions)
    exposed = {port for line in instructions if line.startswith("EXPOSE ") for port in line.split()[1:]}
    assert {"8501", "8000"} <= exposed  # the app and the scoring API
    home = next(line for line in instructions if "SIFT_HOME=" in line).split("SIFT_HOME=")[1].split()[0]
    assert any(line.startswith("VOLUME ") and home in line for line in instructions)
    assert not any(line.startswith("COPY --chown") and line.endswith(" . .") for line in instructions)  # code read-only
    ignored = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".venv", ".git", ".streamlit/secrets.toml"} <= set(ignored)


@contextmanager
def _answering(path: str, status: int) -> Iterator[int]:
    """A loopback HTTP server answering ``status`` on ``path`` (404 elsewhere); yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == path else 404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_health_check_passes_when_the_app_or_the_api_answers() -> None:
    (check,) = [line.split(" CMD ", 1)[1] for line in _instructions() if line.startswith("HEALTHCHECK ")]
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def passes(app_port: int, api_port: int) -> bool:
        command = check.replace("127.0.0.1:8501", f"127.0.0.1:{app_port}").replace(
            "127.0.0.1:8000", f"127.0.0.1:{api_port}"
        )
        assert command != check
        return subprocess.run(["sh", "-c", command], env=env, timeout=60).returncode == 0

    nothing = free_port()  # nobody listens there
    assert not passes(nothing, nothing)
    with _answering("/_stcore/health", 200) as app:
        assert passes(app, nothing)
    with _answering("/health", 200) as api:
        assert passes(nothing, api)
    with _answering("/health", 503) as api:  # the API without its database
        assert not passes(nothing, api)
