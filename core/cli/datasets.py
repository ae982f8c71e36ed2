"""Commands on datasets: ingest, datasets, compare, delete, and demo (the bundled rice data and a first model)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core import registry
from core.cli.common import positive_int
from core.config import get_settings
from core.datasets.demo import DEMO_DATASET, load_demo
from core.datasets.leakage import version_leaks
from core.datasets.versions import (
    compare_versions,
    delete_version,
    get_version,
    ingest,
    list_versions,
    unlabelled_rows,
)
from core.db import open_database
from core.errors import ColumnError, ModelNotFound
from core.training.budgets import Budget
from core.training.train import train

DEMO_TRIALS = 10


def _roles(items: list[str] | None) -> dict[str, str]:
    roles = {}
    for item in items or []:
        column, sep, role = item.rpartition("=")
        if not sep or not column:
            raise ColumnError(f"--role {item!r}: write COLUMN=ROLE, for example --role customer_id=identifier.")
        roles[column] = role
    return roles


def _markers(text: str | None) -> list[str] | None:
    # "NA,?" -> ["", "NA", "?"]: on the command line empty cells always count as missing
    return None if text is None else ["", *text.split(",")]


def cmd_ingest(args: argparse.Namespace) -> dict[str, Any]:
    roles = _roles(args.role)
    sessions = open_database(get_settings())
    with sessions.begin() as session:
        version, created = ingest(
            session=session,
            path=args.path,
            name=args.name,
            target=args.target,
            roles=roles,
            missing_markers=_markers(args.missing_markers),
        )
        out = {
            "dataset": version.name,
            "version": version.version,
            "rows": version.row_count,
            "columns": version.roles,
            "created": created,
            "missing_markers": version.missing_markers,
            # rows with an empty target: kept in the version, left out of training
            "unlabelled_rows": unlabelled_rows(session=session, version=version),
        }
    with sessions() as session:  # the rows as committed, as the Data page and training read them
        version = get_version(session=session, name=out["dataset"], version=out["version"])
        warnings = [leak.message for leak in version_leaks(session=session, version=version)]
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return out | ({"warnings": warnings} if warnings else {})


def _version_summary(version: Any) -> dict[str, Any]:
    return {
        "dataset": version.name,
        "version": version.version,
        "rows": version.row_count,
        "columns": version.column_count,
        "target": version.target,
        "roles": version.roles,
        "missing_markers": version.missing_markers,
        "content_hash": version.content_hash,
        "source_file": version.source_file,
        "created_at": version.created_at.isoformat(),
    }


def cmd_datasets(args: argparse.Namespace) -> dict[str, Any]:
    with open_database(get_settings())() as session:
        if args.name:
            get_version(session=session, name=args.name)  # raises, listing known datasets
        return {"versions": [_version_summary(v) for v in list_versions(session=session, name=args.name)]}


def cmd_compare(args: argparse.Namespace) -> dict[str, Any]:
    with open_database(get_settings())() as session:
        return compare_versions(session=session, name=args.dataset, a=args.a, b=args.b).as_dict()


def cmd_delete(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    with open_database(settings).begin() as session:
        deleted = delete_version(session=session, name=args.dataset, version=args.version, settings=settings)
        return {"dataset": deleted.name, "version": deleted.version, "deleted": True}


def cmd_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Load the bundled rice data and train a first model, each only if missing."""
    settings = get_settings()
    sessions = open_database(settings)
    out: dict[str, Any] = {"dataset": DEMO_DATASET, "ingested": False, "trained": False}
    with sessions.begin() as session:
        if not list_versions(session=session):
            load_demo(session=session)
            out["ingested"] = True
        elif not list_versions(session=session, name=DEMO_DATASET):
            return out  # the home has the user's own data: leave it alone
    try:
        out["model_version"] = registry.alias_version(settings, DEMO_DATASET)
    except ModelNotFound:
        print("Training a first model on the demo data…", file=sys.stderr)
        with sessions.begin() as session:
            result = train(session=session, settings=settings, dataset=DEMO_DATASET, budget=Budget(trials=args.trials))
        out.update(trained=True, model_version=result.version, metrics=result.metrics)
    return out


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("ingest", help="store a CSV file as a dataset version")
    p.add_argument("path", type=Path)
    p.add_argument("--name", required=True, help="dataset name")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--role", action="append", metavar="COLUMN=ROLE", help="override an inferred role (repeatable)")
    p.add_argument(
        "--missing-markers",
        metavar="LIST",
        help="comma-separated values that mean missing, besides empty cells (default: NA,N/A,null,?)",
    )
    p.set_defaults(func=cmd_ingest)

    p = commands.add_parser("datasets", help="list dataset versions")
    p.add_argument("--name", help="only this dataset")
    p.set_defaults(func=cmd_datasets)

    p = commands.add_parser("compare", help="compare two versions of a dataset: schema and size")
    p.add_argument("--dataset", required=True)
    p.add_argument("--a", required=True, type=positive_int, help="the earlier version")
    p.add_argument("--b", required=True, type=positive_int, help="the later version")
    p.set_defaults(func=cmd_compare)

    p = commands.add_parser("delete", help="delete a dataset version no registered model was trained on")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", required=True, type=positive_int)
    p.set_defaults(func=cmd_delete)


def add_demo_command(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("demo", help="load the bundled rice data and train a first model if missing")
    p.add_argument("--trials", type=positive_int, default=DEMO_TRIALS)
    p.set_defaults(func=cmd_demo)
