"""Commands on the scoring API: serve (the HTTP service) and api-key (a new key and its hash)."""

from __future__ import annotations

import argparse
from typing import Any

from core.access import new_api_key
from core.api.server import serve
from core.config import get_settings


def cmd_serve(args: argparse.Namespace) -> dict[str, Any]:
    """Serve the champions over HTTP until stopped (Ctrl-C or SIGTERM); prints where it served."""
    serve(get_settings(), host=args.host, port=args.port)
    return {"served": f"http://{args.host}:{args.port}", "stopped": True}


def cmd_api_key(_args: argparse.Namespace) -> dict[str, Any]:
    """A new random key, shown this once, and the hash to put in SIFT_API_KEYS (or api_keys in secrets.toml)."""
    return new_api_key()


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return value


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "serve", help="serve the champions over HTTP: predict, feedback, health, metrics (FastAPI on uvicorn)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=port_number, default=8000, help="port to listen on (default: 8000)")
    p.set_defaults(func=cmd_serve)

    p = commands.add_parser("api-key", help="make a new API key: prints the key (once) and the hash to configure")
    p.set_defaults(func=cmd_api_key)
