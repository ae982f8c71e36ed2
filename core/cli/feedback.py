"""Commands on feedback: feedback (true labels, the retrain policy, the counters) and retrain."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.cli.common import add_budget_arguments, add_metric_argument, budget_from, positive_int, report_training
from core.config import get_settings
from core.datasets.versions import get_version
from core.db import open_database
from core.feedback import feedback_counts
from core.jobs import runner
from core.promotion import default_user
from core.retrain import submit_retrain
from core.retrain_actions import import_label_file_and_retrain, save_retrain_policy
from core.workloads import WORKLOADS


def cmd_feedback(args: argparse.Namespace) -> dict[str, Any]:
    """Record true labels from a CSV of prediction_id,label and/or set the retrain policy; print the counters.

    When the dataset retrains automatically and the labels cross its threshold, the retrain job
    is started in the background (``retrain.job_id``, ``retrain.pid``).
    """
    settings = get_settings()
    sessions = open_database(settings)
    out: dict[str, Any] = {"dataset": args.dataset}
    with sessions() as session:
        get_version(session=session, name=args.dataset)  # an unknown dataset is refused
    auto = None if args.auto is None else args.auto == "on"
    if args.input is not None:
        outcome = import_label_file_and_retrain(
            sessions=sessions,
            settings=settings,
            dataset=args.dataset,
            source=args.input,
            who=args.who or default_user(),
            threshold=args.threshold,
            auto=auto,
        )
        out |= outcome.as_dict()
    elif args.threshold is not None or auto is not None:
        trigger = save_retrain_policy(
            sessions=sessions, settings=settings, dataset=args.dataset, threshold=args.threshold, auto=auto
        )
        if trigger is not None:
            out["retrain"] = trigger.as_dict()
    with sessions() as session:
        out["counts"] = feedback_counts(session=session, settings=settings, dataset=args.dataset).as_dict()
    job_id = (out.get("retrain") or {}).get("job_id")
    if job_id is not None:
        print(f"Retrain job {job_id} started in the background.", file=sys.stderr)
    return out


def cmd_retrain(args: argparse.Namespace) -> dict[str, Any]:
    """Retrain the champion with the labelled feedback in the foreground (a job, like train), then decide."""
    settings = get_settings()
    sessions = open_database(settings)
    with sessions.begin() as session:
        job = submit_retrain(
            session=session, settings=settings, dataset=args.dataset, budget=budget_from(args), metric=args.metric
        )
    print(f"Retrain job {job.id} for {job.dataset}…", file=sys.stderr)
    return report_training(runner.run_job(sessions=sessions, settings=settings, job_id=job.id, workloads=WORKLOADS))


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "feedback", help="record true labels from a CSV of prediction_id,label; set the retrain policy; show counters"
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--input", type=Path, help="CSV file with the columns prediction_id and label")
    p.add_argument("--who", help="who gives the labels, for the history (default: the login name)")
    p.add_argument("--threshold", type=positive_int, help="labels since the champion that make a retrain due")
    p.add_argument("--auto", choices=("on", "off"), help="start a retrain by itself when the threshold is crossed")
    p.set_defaults(func=cmd_feedback)

    p = commands.add_parser(
        "retrain", help="retrain the champion with the labelled feedback; promote it only if it is not worse"
    )
    p.add_argument("--dataset", required=True)
    add_budget_arguments(p)
    add_metric_argument(p, retrain=True)
    p.set_defaults(func=cmd_retrain)
