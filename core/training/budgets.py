"""Training budgets: how many XGBoost trials and/or seconds of tuning a training may spend."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import InvalidBudget


@dataclass(frozen=True)
class Budget:
    """A named preset. Tuning stops at whichever limit comes first.

    ``timeout`` counts from the start of training, so the baselines' cross-validation is inside
    it; the final fit, the evaluation and the logging of the winner come on top (a few seconds
    for thousands of rows). A resumed study counts the trials it already holds.
    """

    name: str
    trials: int | None
    timeout: float | None
    description: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "trials": self.trials, "timeout": self.timeout, "description": self.description}


BUDGETS: dict[str, Budget] = {
    b.name: b
    for b in (
        Budget("quick", 50, 45.0, "A first model in about a minute for a few thousand rows."),
        Budget("standard", 200, 300.0, "A fuller search: up to about five minutes."),
        Budget("thorough", 1000, 1200.0, "A long search for the last point of accuracy: up to about twenty minutes."),
    )
}
DEFAULT_BUDGET = "quick"


def resolve_budget(
    budget: str | None = None, *, trials: int | None = None, timeout: float | None = None
) -> tuple[int | None, float | None]:
    """The (trials, seconds) to spend.

    Explicit ``trials``/``timeout`` win over the named budget's; a named budget fills in what is
    not given. With neither a name nor a limit, the default budget applies; explicit limits
    without a name apply alone (``trials=5`` means five trials, however long they take).
    """
    if budget is None and trials is None and timeout is None:
        budget = DEFAULT_BUDGET
    if budget is not None:
        if budget not in BUDGETS:
            raise InvalidBudget(f"No budget {budget!r}. Choose one of: {', '.join(BUDGETS)}.")
        preset = BUDGETS[budget]
        trials = preset.trials if trials is None else trials
        timeout = preset.timeout if timeout is None else timeout
    if trials is not None and int(trials) < 1:
        raise InvalidBudget(f"Trials must be at least 1 (got {trials}).")
    if timeout is not None and not float(timeout) > 0:
        raise InvalidBudget(f"The time limit must be more than 0 seconds (got {timeout}).")
    return (None if trials is None else int(trials)), (None if timeout is None else float(timeout))
