from __future__ import annotations

import pytest

from core.errors import InvalidBudget
from core.training import BUDGETS, DEFAULT_BUDGET, Budget


def test_presets_grow_and_quick_is_the_default() -> None:
    assert list(BUDGETS) == ["quick", "standard", "thorough"] and DEFAULT_BUDGET == "quick"
    quick, standard, thorough = BUDGETS.values()
    assert quick.trials < standard.trials < thorough.trials
    assert quick.timeout < standard.timeout < thorough.timeout
    assert all(b.description for b in BUDGETS.values())


@pytest.mark.parametrize(
    ("budget", "trials", "timeout", "expected"),
    [
        (None, None, None, (BUDGETS["quick"].trials, BUDGETS["quick"].timeout)),
        ("standard", None, None, (BUDGETS["standard"].trials, BUDGETS["standard"].timeout)),
        ("standard", 7, None, (7, BUDGETS["standard"].timeout)),
        ("thorough", None, 12, (BUDGETS["thorough"].trials, 12.0)),
        (None, 5, None, (5, None)),
        (None, None, 30, (None, 30.0)),
    ],
    ids=["default", "named", "trials override", "timeout override", "trials alone", "seconds alone"],
)
def test_a_budget_resolves_when_made(budget, trials, timeout, expected) -> None:
    resolved = Budget(budget, trials=trials, timeout=timeout)
    assert (resolved.trials, resolved.timeout) == expected
    assert Budget.from_parameters(resolved.as_parameters()) == resolved  # a job's parameters give it back


def test_a_jobs_parameters_name_the_budget_only_when_one_applied() -> None:
    assert Budget().as_parameters() == {"trials": 50, "timeout": 45.0, "seed": None, "budget": DEFAULT_BUDGET}
    assert Budget(trials=1, seed=3).as_parameters() == {"trials": 1, "timeout": None, "seed": 3, "budget": None}


@pytest.mark.parametrize(
    ("budget", "trials", "timeout", "words"),
    [("huge", None, None, "No budget 'huge'"), (None, 0, None, "at least 1"), (None, None, -1, "more than 0")],
)
def test_unusable_budgets_are_user_errors(budget, trials, timeout, words) -> None:
    with pytest.raises(InvalidBudget, match=words):
        Budget(budget, trials=trials, timeout=timeout)
