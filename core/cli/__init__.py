"""The command line: ``python -m core [--home DIR] COMMAND ...``.

Each command prints one JSON object on stdout and exits 0, or prints a one-line message on
stderr and exits 2 for a problem the user can fix. This contract is public: extend, never break.

The commands live in one module per group (datasets, training, scoring, models, feedback,
monitoring, access, api), each adding its subcommands (``add_commands``); this module assembles
the parser and keeps the contract.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from core.cli import access, alerting, api, datasets, feedback, models, monitoring, scoring, training
from core.config import get_settings
from core.errors import SiftError

# in the order `python -m core --help` has always listed the commands
ADD_COMMANDS = (
    datasets.add_commands,
    training.add_commands,
    scoring.add_commands,
    models.add_commands,
    feedback.add_commands,
    models.add_card_commands,
    monitoring.add_commands,
    alerting.add_commands,
    datasets.add_demo_command,
    access.add_commands,
    api.add_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Sift: a classification workbench.")
    parser.add_argument("--home", type=Path, help="folder holding all state (default: $SIFT_HOME or the repo)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in ADD_COMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.home is not None:
        os.environ["SIFT_HOME"] = str(args.home.resolve())
        get_settings.cache_clear()
    try:
        result = args.func(args)
    except SiftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0
