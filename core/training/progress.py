"""What training reports while it runs: one :class:`ProgressUpdate` per step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

STAGE_PREPARING = "preparing data"
STAGE_TUNING = "tuning xgboost"
STAGE_EVALUATING = "evaluating"
STAGE_REGISTERING = "registering"


def baseline_stage(label: str) -> str:
    return f"baseline: {label}"


class ProgressUpdate(TypedDict):
    """Sent at each stage change and after every Optuna trial. Every key is always present.

    - ``stage``: what runs now: "preparing data", "baseline: logistic regression", ...,
      "tuning xgboost", "evaluating", "registering".
    - ``candidate``: the candidate being cross-validated ("xgboost", "logistic_regression", ...),
      or "" outside candidates.
    - ``trial``: XGBoost trials finished so far (completed or pruned), counting the trials of a
      resumed study; 0 before tuning starts.
    - ``trials``: trials planned in all; 0 when only a time limit bounds the search.
    - ``best``: best cross-validated macro F1 of the XGBoost search so far (None before the first
      completed trial).
    - ``value``: cross-validated macro F1 of the trial that just finished; None for a pruned
      trial (stopped after a few folds, it has no comparable score) and at a stage change.
    - ``state``: the finished trial's state ("COMPLETE", "PRUNED"), or "" at a stage change.
    - ``leader``/``leader_score``: the best candidate so far by CV macro F1, baselines included.
    - ``elapsed``: seconds since training started; ``timeout``: the time limit, or None.
    """

    stage: str
    candidate: str
    trial: int
    trials: int
    best: float | None
    value: float | None
    state: str
    leader: str | None
    leader_score: float | None
    elapsed: float
    timeout: float | None


Progress = Callable[[ProgressUpdate], None]
