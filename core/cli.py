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

from core.errors import ColumnError, SiftError

DEMO_TRIALS = 10


def _settings():
    from core.config import get_settings

    return get_settings()


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
    from core.datasets.versions import ingest, unlabelled_rows
    from core.db import open_database

    roles = _roles(args.role)
    with open_database(_settings()).begin() as session:
        version, created = ingest(
            session=session,
            path=args.path,
            name=args.name,
            target=args.target,
            roles=roles,
            missing_markers=_markers(args.missing_markers),
        )
        return {
            "dataset": version.name,
            "version": version.version,
            "rows": version.row_count,
            "columns": version.roles,
            "created": created,
            "missing_markers": version.missing_markers,
            # rows with an empty target: kept in the version, left out of training
            "unlabelled_rows": unlabelled_rows(session=session, version=version),
        }


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
    from core.datasets.versions import get_version, list_versions
    from core.db import open_database

    with open_database(_settings())() as session:
        if args.name:
            get_version(session=session, name=args.name)  # raises, listing known datasets
        return {"versions": [_version_summary(v) for v in list_versions(session=session, name=args.name)]}


def cmd_compare(args: argparse.Namespace) -> dict[str, Any]:
    from core.datasets.versions import compare_versions
    from core.db import open_database

    with open_database(_settings())() as session:
        return compare_versions(session=session, name=args.dataset, a=args.a, b=args.b).as_dict()


def cmd_delete(args: argparse.Namespace) -> dict[str, Any]:
    from core.datasets.versions import delete_version
    from core.db import open_database

    settings = _settings()
    with open_database(settings).begin() as session:
        deleted = delete_version(session=session, name=args.dataset, version=args.version, settings=settings)
        return {"dataset": deleted.name, "version": deleted.version, "deleted": True}


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    """Train in the foreground, recorded as a job so one job per dataset holds across CLI and pages."""
    from core.db import open_database
    from core.jobs import queue, runner
    from core.workloads import WORKLOADS

    settings = _settings()
    sessions = open_database(settings)
    with sessions.begin() as session:
        job = queue.submit_training(
            session=session, dataset=args.dataset, dataset_version=args.dataset_version, budget=_budget(args)
        )
    print(f"Training job {job.id} for {job.dataset} v{job.dataset_version}…", file=sys.stderr)
    print(f"Other machines can help: {_worker_command(job.dataset, job.study_name)}", file=sys.stderr)
    return _training_result(runner.run_job(sessions=sessions, settings=settings, job_id=job.id, workloads=WORKLOADS))


def _training_result(job: Any) -> dict[str, Any]:
    """A done job's result, its warnings (e.g. no better than chance) also on stderr, with one line
    each for the rows left out and the library warnings written to the job's log."""
    from core.jobs import queue

    result = queue.training_result(job)
    for warning in result.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    left_out = (result.get("rows") or {}).get("without_label")
    if left_out:
        print(f"note: {left_out:,} rows without a label were left out of training.", file=sys.stderr)
    caught = result.get("library_warnings")
    if caught:
        print(f"{caught['count']:,} library warnings written to {caught['log']}", file=sys.stderr)
    return result


def _worker_command(dataset: str, study: str | None) -> str:
    return f"python -m core tune-worker --dataset {dataset} --study {study}"


def cmd_tune_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Join a training job's tuning study (same database) and run trials until it needs no more."""
    from core.db import open_database
    from core.jobs.worker import join_study

    settings = _settings()
    print(f"Joining study {args.study} of {args.dataset}…", file=sys.stderr)
    result = join_study(
        sessions=open_database(settings), settings=settings, dataset=args.dataset, study_name=args.study
    )
    return result.as_dict()


def _budget(args: argparse.Namespace) -> Any:
    """The budget of the flags: a named budget fills in the limits not given; explicit limits alone apply as given."""
    from core.training import Budget

    return Budget(args.budget, trials=args.trials, timeout=args.timeout, seed=args.seed)


def cmd_run_job(args: argparse.Namespace) -> dict[str, Any]:
    """Run a queued job (what ``core.jobs.runner.start_job`` launches in the background)."""
    from core.db import open_database
    from core.jobs import queue, runner
    from core.workloads import WORKLOADS

    settings = _settings()
    job = runner.run_job(sessions=open_database(settings), settings=settings, job_id=args.job_id, workloads=WORKLOADS)
    queue.training_result(job)  # a job that did not end done exits 2 with the reason
    return queue.job_as_dict(job)


def cmd_jobs(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.jobs import queue

    with open_database(_settings())() as session:
        return {
            "dataset": args.dataset,
            "jobs": [queue.job_as_dict(j) for j in queue.list_jobs(session=session, dataset=args.dataset)],
        }


def cmd_cancel(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.jobs import queue

    with open_database(_settings()).begin() as session:
        return queue.job_as_dict(queue.cancel_job(session=session, job_id=args.job))


def cmd_resume(args: argparse.Namespace) -> dict[str, Any]:
    """Resume an interrupted or failed job in the foreground, continuing its Optuna study."""
    from core.db import open_database
    from core.jobs import queue, runner
    from core.workloads import WORKLOADS

    settings = _settings()
    sessions = open_database(settings)
    with sessions.begin() as session:
        job = queue.resume_job(session=session, job_id=args.job)
    return _training_result(runner.run_job(sessions=sessions, settings=settings, job_id=job.id, workloads=WORKLOADS))


def cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    """Score a file; an unfinished batch of the same file is resumed. Progress goes to a terminal's stderr."""
    import time

    from core.db import open_database
    from core.scoring.batch import score_file

    shown = [0.0]

    def progress(done: int, expected: int) -> None:
        if sys.stderr.isatty() and time.monotonic() - shown[0] >= 2:
            shown[0] = time.monotonic()
            print(f"scored {done:,} of about {expected:,} rows", file=sys.stderr)

    settings = _settings()
    result = score_file(
        sessions=open_database(settings),
        settings=settings,
        dataset=args.dataset,
        input_path=args.input,
        output_path=args.output,
        progress=progress,
    )
    return result


def cmd_batches(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.scoring.batch import batch_as_dict, list_batches

    with open_database(_settings())() as session:
        return {
            "dataset": args.dataset,
            "batches": [batch_as_dict(b) for b in list_batches(session=session, dataset=args.dataset)],
        }


def cmd_models(args: argparse.Namespace) -> dict[str, Any]:
    from core import registry

    versions = registry.list_versions(_settings(), args.dataset)
    return {"model": args.dataset, "versions": [v.as_dict() for v in versions]}


def cmd_promote(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.promotion import promote

    settings = _settings()
    with open_database(settings).begin() as session:
        change = promote(
            session=session, settings=settings, dataset=args.dataset, version=args.version, reason=args.reason
        )
    return change.as_dict()


def cmd_rollback(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.promotion import rollback

    settings = _settings()
    with open_database(settings).begin() as session:
        change = rollback(session=session, settings=settings, dataset=args.dataset, reason=args.reason)
    return change.as_dict()


def cmd_history(args: argparse.Namespace) -> dict[str, Any]:
    from core.db import open_database
    from core.promotion import alias_history, history_rows

    settings = _settings()
    with open_database(settings).begin() as session:
        events = alias_history(session=session, dataset=args.dataset, settings=settings)
        return {"model": args.dataset, "history": history_rows(events)}


def cmd_feedback(args: argparse.Namespace) -> dict[str, Any]:
    """Record true labels from a CSV of prediction_id,label and/or set the retrain policy; print the counters.

    When the dataset retrains automatically and the labels cross its threshold, the retrain job
    is started in the background (``retrain.job_id``).
    """
    from core.datasets.versions import get_version
    from core.db import open_database
    from core.feedback import feedback_counts, set_retrain_policy
    from core.jobs import runner
    from core.promotion import default_user
    from core.retrain import import_label_file, retrain_if_due

    settings = _settings()
    sessions = open_database(settings)
    out: dict[str, Any] = {"dataset": args.dataset}
    with sessions.begin() as session:
        get_version(session=session, name=args.dataset)  # an unknown dataset is refused
        if args.threshold is not None or args.auto is not None:
            auto = None if args.auto is None else args.auto == "on"
            set_retrain_policy(
                session=session, settings=settings, dataset=args.dataset, threshold=args.threshold, auto=auto
            )
        if args.input is not None:
            outcome = import_label_file(
                session=session,
                settings=settings,
                dataset=args.dataset,
                source=args.input,
                who=args.who or default_user(),
            )
            out |= outcome.as_dict()
        elif args.auto == "on":
            out["retrain"] = retrain_if_due(session=session, settings=settings, dataset=args.dataset).as_dict()
        out["counts"] = feedback_counts(session=session, settings=settings, dataset=args.dataset).as_dict()
    job_id = (out.get("retrain") or {}).get("job_id")
    if job_id is not None:
        out["retrain"]["pid"] = runner.start_job(settings, job_id)
        print(f"Retrain job {job_id} started in the background.", file=sys.stderr)
    return out


def cmd_retrain(args: argparse.Namespace) -> dict[str, Any]:
    """Retrain the champion with the labelled feedback in the foreground (a job, like train), then decide."""
    from core.db import open_database
    from core.jobs import runner
    from core.retrain import submit_retrain
    from core.workloads import WORKLOADS

    settings = _settings()
    sessions = open_database(settings)
    with sessions.begin() as session:
        job = submit_retrain(session=session, settings=settings, dataset=args.dataset, budget=_budget(args))
    print(f"Retrain job {job.id} for {job.dataset}…", file=sys.stderr)
    return _training_result(runner.run_job(sessions=sessions, settings=settings, job_id=job.id, workloads=WORKLOADS))


def cmd_card(args: argparse.Namespace) -> dict[str, Any]:
    from core import registry
    from core.db import open_database
    from core.model_card import build_card

    settings = _settings()
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
    from core.db import open_database
    from core.export import export_model

    settings = _settings()
    with open_database(settings)() as session:
        return export_model(
            session=session,
            settings=settings,
            dataset=args.dataset,
            output=args.output,
            fmt=args.format,
            version=args.version,
        )


def _column_choices(methods: list[str] | None, thresholds: list[str] | None) -> dict[str, dict[str, Any]]:
    from core.errors import DriftOptionError

    chosen: dict[str, dict[str, Any]] = {}
    for option, items in (("method", methods), ("threshold", thresholds)):
        for item in items or []:
            column, sep, value = item.rpartition("=")
            if not sep or not column or not value:
                raise DriftOptionError(f"--{option} {item!r}: write COLUMN=VALUE, for example --{option} Area=ks.")
            chosen.setdefault(column, {})[option] = value
    return chosen


def _dates(text: str | None) -> tuple[Any, Any]:
    from datetime import date

    from core.errors import DriftOptionError

    if not text:
        return None, None
    start, sep, end = text.partition(":")
    try:
        return (date.fromisoformat(start) if start else None, date.fromisoformat(end) if sep and end else None)
    except ValueError:
        raise DriftOptionError(f"--dates {text!r}: write START:END as ISO dates, e.g. 2025-01-01:2025-01-31.") from None


def cmd_drift(args: argparse.Namespace) -> dict[str, Any]:
    """Drift of a window of inputs against the champion's training data; or, with --windows, drift over time."""
    from core.db import open_database
    from core.monitoring import drift, windows
    from core.monitoring.ledger import Selection

    settings = _settings()
    sessions = open_database(settings)
    if args.windows:
        return windows.refresh(
            sessions=sessions, settings=settings, dataset=args.dataset, kind=args.windows, size=args.size
        ).as_dict()
    options = _column_choices(args.method, args.threshold)
    with sessions() as session:
        if args.input is not None:
            result = drift.measure_file(
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
            result = drift.measure_selection(
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
    from core.datasets.versions import get_version
    from core.db import open_database
    from core.monitoring.alerts import acknowledge, alert_as_dict, list_alerts
    from core.promotion import default_user

    out: dict[str, Any] = {"dataset": args.dataset}
    with open_database(_settings()).begin() as session:
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


def cmd_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Load the bundled rice data and train a first model, each only if missing."""
    from core import registry
    from core.datasets.demo import DEMO_DATASET, load_demo
    from core.datasets.versions import list_versions
    from core.db import open_database
    from core.errors import ModelNotFound
    from core.training import Budget
    from core.training.train import train

    settings = _settings()
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


def cmd_hash_password(args: argparse.Namespace) -> dict[str, Any]:
    """Hash a password for SIFT_PASSWORD or SIFT_ADMIN_PASSWORD: typed twice at a terminal (not shown), or
    the first line of stdin when it is a pipe. The password itself is never printed or stored."""
    import getpass

    from core.access import hash_password
    from core.errors import AccessSetupError

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Same password again: ") != password:
            raise AccessSetupError("The two passwords differ; nothing was hashed. Run the command again.")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    return {"hash": hash_password(password)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Sift: a classification workbench.")
    parser.add_argument("--home", type=Path, help="folder holding all state (default: $SIFT_HOME or the repo)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    p.add_argument("--a", required=True, type=_positive_int, help="the earlier version")
    p.add_argument("--b", required=True, type=_positive_int, help="the later version")
    p.set_defaults(func=cmd_compare)

    p = commands.add_parser("delete", help="delete a dataset version no registered model was trained on")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", required=True, type=_positive_int)
    p.set_defaults(func=cmd_delete)

    p = commands.add_parser("train", help="tune and register a model for a dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--dataset-version", type=int, help="default: the latest version")
    _add_budget_arguments(p)
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("run-job", help="run a queued job (used by the background launcher)")
    p.add_argument("job_id", type=_positive_int, metavar="JOB_ID")
    p.set_defaults(func=cmd_run_job)

    p = commands.add_parser(
        "tune-worker", help="join a running training job's tuning study from another process or machine"
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--study", required=True, help="the job's study name (study_name in `jobs`, or on the Train page)")
    p.set_defaults(func=cmd_tune_worker)

    p = commands.add_parser("jobs", help="list a dataset's training jobs, newest first")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_jobs)

    p = commands.add_parser("cancel", help="cancel a job: a queued one at once, a running one after its trial")
    p.add_argument("--job", required=True, type=_positive_int)
    p.set_defaults(func=cmd_cancel)

    p = commands.add_parser("resume", help="resume an interrupted or failed job in the foreground")
    p.add_argument("--job", required=True, type=_positive_int)
    p.set_defaults(func=cmd_resume)

    p = commands.add_parser("predict", help="score a CSV file with the dataset's champion")
    p.add_argument("--dataset", required=True)
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--output", required=True, type=Path)
    p.set_defaults(func=cmd_predict)

    p = commands.add_parser("batches", help="list a dataset's scored batches, newest first (status, counts, class mix)")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_batches)

    p = commands.add_parser("models", help="list a dataset's registered model versions")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_models)

    p = commands.add_parser("promote", help="make a model version the champion (recorded in the alias history)")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", required=True, type=_positive_int)
    p.add_argument("--reason", default="", help="why, for the alias history")
    p.set_defaults(func=cmd_promote)

    p = commands.add_parser("rollback", help="make the previous champion the champion again")
    p.add_argument("--dataset", required=True)
    p.add_argument("--reason", default="", help="why, for the alias history")
    p.set_defaults(func=cmd_rollback)

    p = commands.add_parser("history", help="a model's alias history (who moved champion, when, why)")
    p.add_argument("--dataset", required=True)
    p.set_defaults(func=cmd_history)

    p = commands.add_parser(
        "feedback", help="record true labels from a CSV of prediction_id,label; set the retrain policy; show counters"
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--input", type=Path, help="CSV file with the columns prediction_id and label")
    p.add_argument("--who", help="who gives the labels, for the history (default: the login name)")
    p.add_argument("--threshold", type=_positive_int, help="labels since the champion that make a retrain due")
    p.add_argument("--auto", choices=("on", "off"), help="start a retrain by itself when the threshold is crossed")
    p.set_defaults(func=cmd_feedback)

    p = commands.add_parser(
        "retrain", help="retrain the champion with the labelled feedback; promote it only if it is not worse"
    )
    p.add_argument("--dataset", required=True)
    _add_budget_arguments(p)
    p.set_defaults(func=cmd_retrain)

    p = commands.add_parser("card", help="a model version's card; --output writes it as Markdown and HTML")
    p.add_argument("--dataset", required=True)
    p.add_argument("--version", type=_positive_int, help="default: the champion")
    p.add_argument("--output", type=Path, help="folder for model_card_NAME_vN.md and .html")
    p.set_defaults(func=cmd_card)

    p = commands.add_parser("export", help="export a model version (default: the champion) into a new folder")
    p.add_argument("--dataset", required=True)
    p.add_argument("--output", required=True, type=Path, help="a new (or empty) folder")
    p.add_argument("--format", choices=("mlflow", "onnx"), default="mlflow")
    p.add_argument("--version", type=_positive_int, help="default: the champion")
    p.set_defaults(func=cmd_export)

    p = commands.add_parser("drift", help="drift of recent inputs against the champion's training data (Evidently)")
    p.add_argument("--dataset", required=True)
    window = p.add_mutually_exclusive_group()
    window.add_argument("--input", type=Path, help="a CSV file of inputs to compare")
    window.add_argument("--last", type=_positive_int, metavar="N", help="the last N predictions (default: 1000)")
    window.add_argument("--batch", metavar="ID", help="the predictions of one scored batch")
    window.add_argument("--dates", metavar="START:END", help="predictions made from START to END (ISO dates)")
    window.add_argument(
        "--windows",
        choices=("day", "batch", "count"),
        help="drift over time: measure and store the new windows of this kind, then check alerts",
    )
    p.add_argument("--size", type=_positive_int, metavar="N", help="predictions per window with --windows count")
    p.add_argument("--method", action="append", metavar="COLUMN=METHOD", help="drift method for a column (repeatable)")
    p.add_argument("--threshold", action="append", metavar="COLUMN=VALUE", help="drift threshold for a column")
    p.add_argument("--report", type=Path, metavar="PATH", help="also write Evidently's full report as HTML")
    p.set_defaults(func=cmd_drift)

    p = commands.add_parser("alerts", help="a dataset's monitoring alerts, newest first; --ack ID acknowledges one")
    p.add_argument("--dataset", required=True)
    p.add_argument("--ack", type=_positive_int, metavar="ID", help="acknowledge this alert")
    p.add_argument("--who", help="who acknowledges (default: your login name)")
    p.add_argument("--status", choices=("open", "acknowledged"), help="only alerts in this state")
    p.set_defaults(func=cmd_alerts)

    p = commands.add_parser("demo", help="load the bundled rice data and train a first model if missing")
    p.add_argument("--trials", type=_positive_int, default=DEMO_TRIALS)
    p.set_defaults(func=cmd_demo)

    p = commands.add_parser(
        "hash-password", help="hash a password for SIFT_PASSWORD or SIFT_ADMIN_PASSWORD (read from stdin, not echoed)"
    )
    p.set_defaults(func=cmd_hash_password)
    return parser


def _budget_names() -> list[str]:
    from core.training import BUDGETS

    return list(BUDGETS)


def _add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """The tuning budget flags that train and retrain share."""
    parser.add_argument(
        "--budget",
        choices=_budget_names(),
        help="preset of trials and seconds (default: quick, unless --trials or --timeout is given)",
    )
    parser.add_argument("--trials", type=_positive_int, help="XGBoost trials; overrides the budget's")
    parser.add_argument("--timeout", type=float, help="seconds for the search, from the start; overrides the budget's")
    parser.add_argument("--seed", type=int)


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
