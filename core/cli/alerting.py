"""Commands on alert delivery: where a dataset's alerts go, a test alert, the delivery log.

Webhook URLs are secrets: every command prints them masked (``where``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli.common import positive_int
from core.config import get_settings
from core.datasets.versions import get_version
from core.db import open_database
from core.errors import AlertDestinationError
from core.monitoring import delivery, destinations
from core.promotion import default_user


def _digest_target(session: Any, dataset: str | None) -> int:
    """The destination a lone --digest is for: the only one of that scope."""
    scope = dataset or destinations.EVERY
    own = [d for d in destinations.list_destinations(session=session, dataset=dataset) if d["scope"] == scope]
    if len(own) != 1:
        raise AlertDestinationError(
            f"--digest needs --add URL or --id ID: {len(own)} destination(s) for "
            f"{dataset or 'every dataset'} (the ids are in `python -m core alert-destinations"
            f"{f' --dataset {dataset}' if dataset else ''}`)."
        )
    return own[0]["id"]


def cmd_destinations(args: argparse.Namespace) -> dict[str, Any]:
    """List (and change) where alerts go: a dataset's own destinations, or with no --dataset every dataset's."""
    settings = get_settings()
    out: dict[str, Any] = {"dataset": args.dataset, "for": args.dataset or "every dataset"}
    who = args.who or default_user()
    with open_database(settings).begin() as session:
        if args.dataset:
            get_version(session=session, name=args.dataset)  # an unknown dataset is refused, naming the known ones
        if args.remove is not None:
            gone = destinations.remove_destination(session=session, destination_id=args.remove)
            out["removed"] = destinations.destination_as_dict(gone)
        if args.add is not None:
            added = destinations.add_destination(
                session=session, url=args.add, dataset=args.dataset, digest=args.digest, who=who, origin="cli"
            )
            out["added"] = destinations.destination_as_dict(added)
        elif args.digest is not None:
            chosen = args.id if args.id is not None else _digest_target(session, args.dataset)
            changed = destinations.set_digest(session=session, destination_id=chosen, digest=args.digest)
            out["changed"] = destinations.destination_as_dict(changed)
        out["destinations"] = destinations.list_destinations(session=session, dataset=args.dataset, settings=settings)
    return out


def cmd_test(args: argparse.Namespace) -> dict[str, Any]:
    """Send a test alert now to every destination of a dataset; each try is in the delivery log."""
    settings = get_settings()
    run = delivery.send_test(
        sessions=open_database(settings), settings=settings, dataset=args.dataset, who=args.who or default_user()
    )
    for result in run.results:
        if result["status"] != "sent":
            print(f"warning: the test alert did not reach {result['where']}: {result['error']}", file=sys.stderr)
    return {"dataset": args.dataset, **run.as_dict()}


def cmd_log(args: argparse.Namespace) -> dict[str, Any]:
    """Every try at delivering alerts, digests and tests, newest first, and what still waits for a retry."""
    settings = get_settings()
    with open_database(settings)() as session:
        if args.dataset:
            get_version(session=session, name=args.dataset)
        return {
            "dataset": args.dataset,
            "log": delivery.delivery_log(session=session, dataset=args.dataset, limit=args.limit),
            "waiting": delivery.backlog(session=session, dataset=args.dataset),
        }


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "alert-destinations",
        help="where alerts go (webhooks: URL, slack:URL, teams:URL), shown masked; --add, --remove, --digest",
    )
    p.add_argument("--dataset", help="this dataset's destinations (default: those of every dataset)")
    p.add_argument("--add", metavar="URL", help="send alerts to this webhook from now on (slack: or teams: prefix)")
    p.add_argument("--remove", type=positive_int, metavar="ID", help="stop sending to this destination (log kept)")
    p.add_argument("--digest", choices=destinations.DIGESTS, help="a daily or weekly digest for --add or --id")
    p.add_argument("--id", type=positive_int, metavar="ID", help="the destination --digest is for")
    p.add_argument("--who", help="who adds it (default: your login name)")
    p.set_defaults(func=cmd_destinations)

    p = commands.add_parser("alert-test", help="send a test alert now to every destination of a dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--who", help="who sends it (default: your login name)")
    p.set_defaults(func=cmd_test)

    p = commands.add_parser("alert-log", help="the alert delivery log, newest first: when, where, status, error")
    p.add_argument("--dataset", help="only this dataset's deliveries (and digests of every dataset)")
    p.add_argument("--limit", type=positive_int, default=200, metavar="N", help="at most N tries (default: 200)")
    p.set_defaults(func=cmd_log)
