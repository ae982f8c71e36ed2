"""Commands on training jobs: train, run-job, tune-worker, jobs, cancel, resume."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli.common import add_budget_arguments, add_metric_argument, budget_from, positive_int, report_training
from core.config import get_settings
from core.db import open_database
from core.jobs import queue, runner
from core.jobs.worker import join_study
from core.workloads import WORKLOADS


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    """Train in the foreground, recorded as a job so one job per dataset holds across CLI and pages."""
    settings = get_settings()
    sessions = open_database(settings)
    with sessions.begin() as session:
        job = queue.submit_training(
            session=session,
            dataset=args.dataset,
            dataset_version=args.dataset_version,
            budget=budget_from(args),
            metric=args.metric,
        )
    print(f"Training job {job.id} for {job.dataset} v{job.dataset_version}…", file=sys.stderr)
    print(f"Other machines can help: {_worker_command(job.dataset, job.study_name)}", file=sys.stderr)
    return report_training(runner.run_job(sessions=sessions, settings=settings, job_id=job.id, workloads=WORKLOADS))


def _worker_command(dataset: str, study: str | None) -> str:
    return f"python -m core tune-worker --dataset {dataset} --study {study}"


def cmd_tune_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Join a training job's tuning study (same database) and run trials until it needs no more."""
    settings = get_settings()
    print(f"Joining study {args.study} of {args.dataset}…", file=sys.stderr)
    result = join_study(
        sessions=open_database(settings), settings=settings, dataset=args.dataset, study_name=args.study
    )
    return result.as_dict()


def cmd_run_job(args: argparse.Namespace) -> dict[str, Any]:
    """Run a queued job (what ``core.jobs.runner.start_job`` launches in the background)."""
    settings = get_settings()
    job = runner.run_job(sessions=open_database(settings), settings=settings, job_id=args.job_id, workloads=WORKLOADS)
    queue.training_result(job)  # a job that did not end done exits 2 with the reason
    return queue.job_as_dict(job)


def cmd_jobs(args: argparse.Namespace) -> dict[str, Any]:
    with open_database(get_settings())() as session:
        return {
            "dataset": args.dataset,
            "jobs": [queue.job_as_dict(j) for j in queue.list_jobs(session=session, dataset=args.dataset)],
        }


def cmd_cancel(args: argparse.Namespace) -> dict[str, Any]:
    with open_database(get_settings()).begin() as session:
        return queue.job_as_dict(queue.cancel_job(session=session, job_id=args.job))


def cmd_resume(args: argparse.Namespace) -> dict[str, Any]:
    """Resume an interrupted or failed job in the foreground, continuing its Optuna study."""
    settings = get_settings()
    sessions = open_database(settings)
    with sessions.begin() as session:
        job = queue.resume_job(session=session, job_id=args.job)
    return report_training(runner.run_job(sessions=sessions, settings=settings, job_id=job.id, workloads=WORKLOADS))


def add_commands(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("train", help="tune and register a model for a dataset")
    p.add_argument("--dataset", required=True)
    p.add_argument("--dataset-version", type=int, help="default: the latest version")
    add_budget_arguments(p)
    add_metric_argument(p)
    p.set_defaults(func=cmd_train)

    p = commands.add_parser("run-job", help="run a queued job (used by the background launcher)")
    p.add_argument("job_id", type=positive_int, metavar="JOB_ID")
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
    p.add_argument("--job", required=True, type=positive_int)
    p.set_defaults(func=cmd_cancel)

    p = commands.add_parser("resume", help="resume an interrupted or failed job in the foreground")
    p.add_argument("--job", required=True, type=positive_int)
    p.set_defaults(func=cmd_resume)
