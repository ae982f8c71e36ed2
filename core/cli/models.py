"""Commands on registered models: models, promote, rollback, history, card, export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core import registry
from core.cli.common import positive_int
from core.config import get_settings
from core.db import open_database
from core.export import export_model
from core.model_card import build_card
from core.promotion import alias_history, history_rows, promote, rollback


def cmd_models(args: argparse.Namespace) -> dict[str, Any]:
    versions = registry.list_versions(get_settings(), args.dataset)
    return {"model": args.dataset, "versions": [v.as_dict() for v in versions]}


def cmd_promote(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    with open_database(settings).begin() as session:
        change = promote(
            session=session, settings=settings, dataset=args.dataset, version=args.version, reason=args.reason
        )
    return change.as_dict()


def cmd_rollback(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    with open_database(settings).begin() as session:
        change = rollback(session=session, settings=settings, dataset=args.dataset, reason=args.reason)
    return change.as_dict()


def cmd_history(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    with open_database(settings).begin() as session:
        events = alias_history(session=session, dataset=args.dataset, settings=settings)
        return {"model": args.dataset, "history": history_rows(events)}


def cmd_card(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    version = args.version or registry.alias_version(settings, args.dataset)
    with open_database(settings)() as session:
        card = build_card(session=session, settings=settings, dataset=args.dataset, version=version)
    out: dict[str, Any] = card.as_dict()
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        markdown, page = args.output / f"{card.filename}.md", args.output / f"{card.filename}.html"
        markdown.write_text(card.markdown(), encoding="utf-8")
        page.write_text(card.html(), encoding="utf-8")
        out["files"] = [str(markdown), str(page)]
    return out


def cmd_export(args: argparse.Namespace) -> dict[str, Any]:
    settings = get_settings()
    with open_database(settings)() as session:
        return export_model(
            session=session,
            settings=settings,
            dataset=args.dataset,
            output=args.output,
            fmt=args.format,
            version=args.version,
        )


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("models", help="list a dataset's registered model versions")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_models)

    p = commands.add_parser("promote", help="make a model version the champion (recorded in the alias history)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", required=True, type=positive_int)
    p.add_argument("--reason", default="", help="why, for the alias history")
    p.set_defaults(func=cmd_promote)

    p = commands.add_parser("rollback", help="make the previous champion the champion again")
    p.add_argument("--dataset", required=True)
    p.add_argument("--reason", default="", help="why, for the alias history")
    p.set_defaults(func=cmd_rollback)

    p = commands.add_parser("history", help="a model's alias history (who moved champion, when, why)")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_history)


def add_card_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("card", help="a model version's card; --output writes it as Markdown and HTML")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", type=positive_int, help="default: the champion")
    p.add_argument("--output", type=Path, help="folder for model_card_NAME_vN.md and .html")
    p.set_defaults(func=cmd_card)

    p = commands.add_parser("export", help="export a model version (default: the champion) into a new folder")
    p.add_argument("--dataset", required=True)
    p.add_argument("--output", required=True, type=Path, help="a new (or empty) folder")
    p.add_argument("--format", choices=("mlflow", "onnx"), default="mlflow")
    p.add_argument("--version", type=positive_int, help="default: the champion")
    p.set_defaults(func=cmd_export)
