"""The training report: JSON documents stored with the winner's MLflow run, and read back.

Keys of a report (each present when the run recorded it; runs from before the report have at
most ``confusion_matrix``):

- ``leaderboard``: one row per candidate, best first: ``name``, ``label``, ``metric`` (the selection
  metric), ``cv_score`` and ``cv_score_std`` (out of fold, and the spread over the folds), ``cv_f1_macro``,
  holdout ``accuracy``, ``f1_macro``, ``balanced_accuracy``, ``roc_auc``, ``log_loss``, the holdout's
  95 % interval of the selection metric (``holdout_low``, ``holdout_high``), ``class_weight``,
  ``calibration``, an ensemble's ``members``, ``fit_seconds``, ``trials``, ``winner``, ``run_id``. Runs
  from before the metric was a choice have ``cv_f1_macro`` and ``cv_f1_macro_std`` only.
- ``selection``: how the winner was chosen: ``metric``, ``label``, ``reason``, ``chosen`` (by the
  analyst), ``winner``, its ``calibration`` and ensemble ``members``, ``cv_folds``, ``cv_repeats``,
  and ``warnings`` (possible leakage, accuracy below always answering the majority class).
- ``confusion_matrix``: ``labels`` and ``matrix`` (rows: true class, columns: predicted).
- ``roc_curve`` / ``pr_curve``: ``kind`` ("binary" or "one-vs-rest") and ``curves``, one per
  class drawn: ``label`` with ``fpr``/``tpr``/``auc`` or ``recall``/``precision``/
  ``average_precision``/``prevalence``.
- ``calibration``: ``kind`` ("binary" or "top-label"), ``bins`` (``predicted``, ``observed``,
  ``count``), ``brier`` and a ``note`` saying what is plotted.
- ``permutation_importance``: ``feature``, ``importance`` (drop of holdout macro F1 when the
  column is shuffled), ``std``; largest first, one row per original column.
- ``tuning``: the Optuna study: ``study_name``, ``best_number`` and ``trials`` (``number``,
  ``state``, ``value``, ``params``, ``seconds``, ...).
- ``chance``: the winner against guessing (see :func:`core.training.evaluate.against_chance`):
  ``guess`` (the most common training class) with its holdout ``accuracy``, ``f1_macro`` and
  ``balanced_accuracy``, the model's ``model_balanced_accuracy``, ``p_value`` of the permutation
  test, ``rows``, ``resamples`` and ``better_than_chance``.

:func:`load_report` adds ``model``, ``version``, ``run_id``, ``estimator`` and ``metrics``.
"""

from __future__ import annotations

from typing import Any

from core import registry
from core.config import Settings

REPORT_FILES: dict[str, str] = {
    "leaderboard": "leaderboard.json",
    "confusion_matrix": "confusion_matrix.json",
    "roc_curve": "roc_curve.json",
    "pr_curve": "pr_curve.json",
    "calibration": "calibration.json",
    "permutation_importance": "permutation_importance.json",
    "tuning": "tuning.json",
    "chance": "chance.json",
    "selection": "selection.json",
}


def report_documents(report: dict[str, Any]) -> dict[str, Any]:
    """The report's parts as run artifacts: {file name: document}."""
    return {REPORT_FILES[key]: value for key, value in report.items() if key in REPORT_FILES}


def load_report(settings: Settings, name: str, version: int) -> dict[str, Any]:
    """The training report of one registered version; raises ModelNotFound for an unknown version."""
    info = registry.get_version(settings, name, version)
    documents = registry.load_documents(settings, info.run_id, list(REPORT_FILES.values()))
    report: dict[str, Any] = {
        "model": name,
        "version": info.version,
        "run_id": info.run_id,
        "estimator": info.tags.get("sift.estimator"),
        "metrics": info.metrics,
    }
    for key, filename in REPORT_FILES.items():
        if filename in documents:
            report[key] = documents[filename]
    return report
