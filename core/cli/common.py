"""What the command groups share: the whole-number argument type, the tuning budget flags of train
and retrain, and how a finished training job is reported."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.jobs import queue
from core.training import BUDGETS, Budget
from core.training.selection import SELECTION_METRICS


def report_training(job: Any) -> dict[str, Any]:
    """A done job's result, its warnings (e.g. no better than chance) also on stderr, with one line
    each for the rows left out and the library warnings written to the job's log."""
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


def budget_from(args: argparse.Namespace) -> Budget:
    """The budget of the flags: a named budget fills in the limits not given; explicit limits alone apply as given."""
    return Budget(args.budget, trials=args.trials, timeout=args.timeout, seed=args.seed)


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    """The tuning budget flags that train and retrain share."""
    parser.add_argument(
        "--budget",
        choices=list(BUDGETS),
        help="preset of trials and seconds (default: quick, unless --trials or --timeout is given)",
    )
    parser.add_argument("--trials", type=positive_int, help="XGBoost trials; overrides the budget's")
    parser.add_argument("--timeout", type=float, help="seconds for the search, from the start; overrides the budget's")
    parser.add_argument("--seed", type=int)


def add_metric_argument(parser: argparse.ArgumentParser, *, retrain: bool = False) -> None:
    """The selection metric flag that train and retrain share."""
    default = (
        "the champion's" if retrain else "ROC AUC for two classes; accuracy, or macro F1 when imbalanced, for more"
    )
    parser.add_argument(
        "--metric",
        choices=list(SELECTION_METRICS),
        help=f"the metric that picks the model, its calibration and ensemble (default: {default})",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
