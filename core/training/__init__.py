"""Model factories, tuning, evaluation: the one place that fits models.

Importing this package is light: it exposes the training budgets (for pages and the CLI);
:func:`core.training.train.train` is imported where training runs.
"""

from core.training.budgets import BUDGETS, DEFAULT_BUDGET, Budget, Preset

__all__ = ["BUDGETS", "DEFAULT_BUDGET", "Budget", "Preset"]
