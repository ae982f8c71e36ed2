"""What each kind of job runs: the mapping handed to the job runner.

:func:`core.jobs.runner.run_job` is handed :data:`WORKLOADS` (job kind -> workload) by its callers
(the command line's ``run-job``, ``train``, ``retrain`` and ``resume``) instead of importing training
and retraining itself, so the runner stays below the work it runs.
"""

from __future__ import annotations

from typing import Any

from core.jobs.queue import TRAIN
from core.jobs.runner import Workload
from core.retrain import RETRAIN, RetrainResult, retrain
from core.training.train import train


def _retrain(*, dataset_version: int, **run: Any) -> RetrainResult:
    """A retrain job: it retrains whatever the champion is when it runs, on that champion's dataset
    version (the job's ``dataset_version`` is the one it had when the job was queued)."""
    return retrain(**run)


WORKLOADS: dict[str, Workload] = {TRAIN: train, RETRAIN: _retrain}
