"""Commands on access: hash-password (a hash for SIFT_PASSWORD or SIFT_ADMIN_PASSWORD)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from core.access import hash_password
from core.errors import AccessSetupError


def cmd_hash_password(args: argparse.Namespace) -> dict[str, Any]:
    """Hash a password for SIFT_PASSWORD or SIFT_ADMIN_PASSWORD: typed twice at a terminal (not shown), or
    the first line of stdin when it is a pipe. The password itself is never printed or stored."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Same password again: ") != password:
            raise AccessSetupError("The two passwords differ; nothing was hashed. Run the command again.")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    return {"hash": hash_password(password)}


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "hash-password", help="hash a password for SIFT_PASSWORD or SIFT_ADMIN_PASSWORD (read from stdin, not echoed)"
    )
    p.set_defaults(func=cmd_hash_password)
