"""``python -m core serve``: the scoring service on uvicorn, refused when it would be open to the network."""

from __future__ import annotations

import ipaddress
import sys

from core.api.guard import configured_keys
from core.api.service import create_app
from core.config import Settings
from core.errors import AccessSetupError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_open(settings: Settings, host: str) -> None:
    """Refuse to serve without keys on an address others can reach, unless SIFT_ALLOW_OPEN=1."""
    if configured_keys(settings) or is_loopback(host) or settings.allow_open:
        return
    raise AccessSetupError(
        f"The API would answer anyone who can reach {host} without a key. Set SIFT_API_KEYS to the hash printed "
        "by `python -m core api-key` (clients then send 'Authorization: Bearer KEY'), or SIFT_ALLOW_OPEN=1 to "
        "serve it open anyway."
    )


def serve(settings: Settings, *, host: str, port: int) -> None:
    import uvicorn  # lazy: only this command needs the server

    check_open(settings, host)
    app = create_app(settings)
    print(f"Sift scoring API on http://{host}:{port} (docs at /docs, Ctrl-C stops it)", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=10)
