"""Commands on scoring: predict (a file, resumed if unfinished) and batches."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from core.config import get_settings
from core.db import open_database
from core.monitoring import schedule
from core.scoring.batch import batch_as_dict, list_batches, score_file


def cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    """Score a file; an unfinished batch of the same file is resumed. Progress goes to a terminal's stderr."""
    shown = [0.0]

    def progress(done: int, expected: int) -> None:
        if sys.stderr.isatty() and time.monotonic() - shown[0] >= 2:
            shown[0] = time.monotonic()
            print(f"scored {done:,} of about {expected:,} rows", file=sys.stderr)

    settings = get_settings()
    result = score_file(
        sessions=open_database(settings),
        settings=settings,
        dataset=args.dataset,
        input_path=args.input,
        output_path=args.output,
        progress=progress,
    )
    if result.get("scored"):  # measure its drift windows in the background: the command returns now
        result["monitor_pid"] = schedule.after_scoring(settings, args.dataset)
    return result


def cmd_batches(args: argparse.Namespace) -> dict[str, Any]:
    with open_database(get_settings())() as session:
        return {
            "dataset": args.dataset,
            "batches": [batch_as_dict(b) for b in list_batches(session=session, dataset=args.dataset)],
        }


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("predict", help="score a CSV file with the dataset's champion")
    p.add_argument("--dataset", required=True)
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--output", required=True, type=Path)
    p.set_defaults(func=cmd_predict)

    p = commands.add_parser("batches", help="list a dataset's scored batches, newest first (status, counts, class mix)")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_batches)
