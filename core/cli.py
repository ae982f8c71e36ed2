"""The command line: ``python -m core [--home DIR] COMMAND ...``.

Each command prints one JSON object on stdout and exits 0, or prints a one-line message on
stderr and exits 2 for a problem the user can fix. This contract is public: extend, never break.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from core.errors import SiftError

DEMO_DATASET = "rice"
DEMO_FILE = "rice_cammeo_osmancik.csv"
DEMO_TARGET = "Class"
DEMO_TRIALS = 10


def _settings():
    from core.config import get_settings

    return get_settings()


def cmd_ingest(args: argparse.Namespace) -> dict[str, Any]:
    from core.datasets.versions import ingest
    from core.db import open_database

    roles = dict(item.split("=", 1) for item in args.role or [])
    with open_database(_settings()).begin() as session:
        version, created = ingest(session=session, path=args.path, name=args.name, target=args.target, roles=roles)
        return {
            "dataset": version.name,
            "version": version.version,
            "rows": version.row_count,
            "columns": version.roles,
            "created": created,
        }


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.training.train import train

    settings = _settings()
    with open_database(settings).begin() as session:
        result = train(
            session=session,
            settings=settings,
            dataset=args.dataset,
            dataset_version=args.dataset_version,
            trials=args.trials,
            timeout=args.timeout,
            seed=args.seed,
        )
    return result.as_dict()


def cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.scoring import score_file

    settings = _settings()
    result = score_file(
        sessions=open_database(settings),
        settings=settings,
        dataset=args.dataset,
        input_path=args.input,
        output_path=args.output,
    )
    return result


def cmd_models(args: argparse.Namespace) -> dict[str, Any]:
    from core import registry

    versions = registry.list_versions(_settings(), args.dataset)
    return {"model": args.dataset, "versions": [v.as_dict() for v in versions]}


def cmd_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Load the bundled rice data and train a first model, each only if missing."""
    from core import registry
    from core.config import DEMO_DIR
    from core.datasets.versions import ingest, list_versions
    from core.db import open_database
    from core.errors import ModelNotFound
    from core.training.train import train

    settings = _settings()
    sessions = open_database(settings)
    out: dict[str, Any] = {"dataset": DEMO_DATASET, "ingested": False, "trained": False}
    with sessions.begin() as session:
        if not list_versions(session=session):
            ingest(session=session, path=DEMO_DIR / DEMO_FILE, name=DEMO_DATASET, target=DEMO_TARGET)
            out["ingested"] = True
        elif not list_versions(session=session, name=DEMO_DATASET):
            return out  # the home has the user's own data: leave it alone
    try:
        out["model_version"] = registry.alias_version(settings, DEMO_DATASET)
    except ModelNotFound:
        print("Training a first model on the demo data…", file=sys.stderr)
        with sessions.begin() as session:
            result = train(session=session, settings=settings, dataset=DEMO_DATASET, trials=args.trials)
        out.update(trained=True, model_version=result.version, metrics=result.metrics)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Sift: a classification workbench.")
    parser.add_argument("--home", type=Path, help="folder holding all state (default: $SIFT_HOME or the repo)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("ingest", help="store a CSV file as a dataset version")
    p.add_argument("path", type=Path)
    p.add_argument("--name", required=True, help="dataset name")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--role", action="append", metavar="COLUMN=ROLE", help="override an inferred role (repeatable)")
    p.set_defaults(func=cmd_ingest)

    p = commands.add_parser("train", help="tune and register a model for a dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--dataset-version", type=int, help="default: the latest version")
    p.add_argument("--trials", type=_positive_int, help="Optuna trials (default: SIFT_DEFAULT_TRIALS)")
    p.add_argument("--timeout", type=float, help="stop tuning after this many seconds")
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("predict", help="score a CSV file with the dataset's champion")
    p.add_argument("--dataset", required=True)
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--output", required=True, type=Path)
    p.set_defaults(func=cmd_predict)

    p = commands.add_parser("models", help="list a dataset's registered model versions")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_models)

    p = commands.add_parser("demo", help="load the bundled rice data and train a first model if missing")
    p.add_argument("--trials", type=_positive_int, default=DEMO_TRIALS)
    p.set_defaults(func=cmd_demo)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.home is not None:
        os.environ["SIFT_HOME"] = str(args.home.resolve())
        from core.config import get_settings

        get_settings.cache_clear()
    try:
        result = args.func(args)
    except SiftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0
