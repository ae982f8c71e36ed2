"""Commands on monitoring: drift (of a window, a file, or over time), alerts, and the monitor run."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

from core.cli.common import positive_int
from core.config import get_settings
from core.datasets.versions import get_version
from core.db import open_database
from core.errors import DriftOptionError, MonitorFailed
from core.monitoring import checks, schedule, windows
from core.monitoring.alerts import acknowledge, alert_as_dict, list_alerts
from core.monitoring.ledger import Selection
from core.promotion import default_user


def _column_choices(methods: list[str] | None, thresholds: list[str] | None) -> dict[str, dict[str, Any]]:
    chosen: dict[str, dict[str, Any]] = {}
    for option, items in (("method", methods), ("threshold", thresholds)):
        for item in items or []:
            column, sep, value = item.rpartition("=")
            if not sep or not column or not value:
                raise DriftOptionError(f"--{option} {item!r}: write COLUMN=VALUE, for example --{option} Area=ks.")
            chosen.setdefault(column, {})[option] = value
    return chosen


def _dates(text: str | None) -> tuple[Any, Any]:
    if not text:
        return None, None
    start, sep, end = text.partition(":")
    try:
        return (date.fromisoformat(start) if start else None, date.fromisoformat(end) if sep and end else None)
    except ValueError:
        raise DriftOptionError(f"--dates {text!r}: write START:END as ISO dates, e.g. 2025-01-01:2025-01-31.") from None


def cmd_drift(args: argparse.Namespace) -> dict[str, Any]:
    """Drift of a window of inputs against the champion's training data; or, with --windows, drift over time."""
    settings = get_settings()
    sessions = open_database(settings)
    if args.windows:
        return windows.refresh(
            sessions=sessions, settings=settings, dataset=args.dataset, kind=args.windows, size=args.size
        ).as_dict()
    options = _column_choices(args.method, args.threshold)
    with sessions() as session:
        if args.input is not None:
            result = checks.measure_file(
                session=session, settings=settings, dataset=args.dataset, path=args.input, options=options
            )
        else:
            start, end = _dates(args.dates)
            selection = Selection(
                last=args.last or (None if (args.batch or start or end) else settings.drift_window_rows),
                start=start,
                end=end,
                batch=args.batch,
            )
            result = checks.measure_selection(
                session=session, settings=settings, dataset=args.dataset, selection=selection, options=options
            )
    out = result.as_dict()
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(result.html(), encoding="utf-8")
        out["report"] = str(args.report)
    return out


def cmd_alerts(args: argparse.Namespace) -> dict[str, Any]:
    """A dataset's monitoring alerts, newest first; --ack acknowledges one first."""
    out: dict[str, Any] = {"dataset": args.dataset}
    with open_database(get_settings()).begin() as session:
        get_version(session=session, name=args.dataset)  # an unknown dataset is refused
        if args.ack is not None:
            alert = acknowledge(
                session=session, alert_id=args.ack, who=args.who or default_user(), dataset=args.dataset
            )
            out["acknowledged"] = alert_as_dict(alert)
        out["alerts"] = [
            alert_as_dict(a) for a in list_alerts(session=session, dataset=args.dataset, status=args.status)
        ]
    return out


def _failed(run: schedule.MonitorRun) -> MonitorFailed:
    errors = "; ".join(f"{name}: {why}" for name, why in run.errors.items())
    return MonitorFailed(f"Measuring failed for {errors}. The other datasets were measured.")


def cmd_monitor(args: argparse.Namespace) -> dict[str, Any]:
    """Measure every dataset's new windows once and deliver the alerts; with --every, keep doing it.

    With --every each run prints one JSON line; SIGTERM or Ctrl-C ends the loop after the run under way."""
    settings = get_settings()
    sessions = open_database(settings)
    if args.every is None:
        run = schedule.run(sessions=sessions, settings=settings, dataset=args.dataset, trigger=args.trigger)
        if run.errors:
            raise _failed(run)
        return run.as_dict()
    every = schedule.parse_duration(args.every)
    if args.dataset is not None:
        with sessions() as session:
            get_version(session=session, name=args.dataset)  # an unknown dataset is refused before the loop
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def report(run: schedule.MonitorRun) -> None:
        print(json.dumps(run.as_dict(), default=str), flush=True)
        for name, why in run.errors.items():
            print(f"error: {name}: {why}", file=sys.stderr, flush=True)

    schedule.run_every(
        sessions=sessions, settings=settings, every=every, dataset=args.dataset, stop=stop, report=report
    )
    return {"stopped": True, "every": every}


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("drift", help="drift of recent inputs against the champion's training data (Evidently)")
    p.add_argument("--dataset", required=True)
    window = p.add_mutually_exclusive_group()
    window.add_argument("--input", type=Path, help="a CSV file of inputs to compare")
    window.add_argument("--last", type=positive_int, metavar="N", help="the last N predictions (default: 1000)")
    window.add_argument("--batch", metavar="ID", help="the predictions of one scored batch")
    window.add_argument("--dates", metavar="START:END", help="predictions made from START to END (ISO dates)")
    window.add_argument(
        "--windows",
        choices=("day", "batch", "count"),
        help="drift over time: measure and store the new windows of this kind, then check alerts",
    )
    p.add_argument("--size", type=positive_int, metavar="N", help="predictions per window with --windows count")
    p.add_argument("--method", action="append", metavar="COLUMN=METHOD", help="drift method for a column (repeatable)")
    p.add_argument("--threshold", action="append", metavar="COLUMN=VALUE", help="drift threshold for a column")
    p.add_argument("--report", type=Path, metavar="PATH", help="also write Evidently's full report as HTML")
    p.set_defaults(func=cmd_drift)

    p = commands.add_parser("alerts", help="a dataset's monitoring alerts, newest first; --ack ID acknowledges one")
    p.add_argument("--dataset", required=True)
    p.add_argument("--ack", type=positive_int, metavar="ID", help="acknowledge this alert")
    p.add_argument("--who", help="who acknowledges (default: your login name)")
    p.add_argument("--status", choices=("open", "acknowledged"), help="only alerts in this state")
    p.set_defaults(func=cmd_alerts)

    p = commands.add_parser(
        "monitor",
        help="measure every dataset's new drift windows and deliver alerts (for cron); --every keeps doing it",
    )
    p.add_argument("--dataset", help="only this dataset (default: every dataset with predictions)")
    p.add_argument(
        "--every",
        metavar="DURATION",
        help="run now and then every DURATION (30s, 15m, 1h, 1d) until stopped, one JSON line per run",
    )
    p.add_argument("--trigger", default="command", help=argparse.SUPPRESS)  # what started it: scoring, page, ...
    p.set_defaults(func=cmd_monitor)
