"""Training budgets: how many XGBoost trials and/or seconds of tuning a training may spend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import InvalidBudget


@dataclass(frozen=True)
class Preset:
    """A named budget. Tuning stops at whichever limit comes first.

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


BUDGETS: dict[str, Preset] = {
    b.name: b
    for b in (
        Preset(
            "quick",
            50,
            45.0,
            "A first model in about a minute for a few thousand rows: the baselines, up to 50 XGBoost trials, "
            "then calibration and an ensemble.",
        ),
        Preset(
            "standard",
            200,
            300.0,
            "Up to about five minutes: four times the XGBoost trials, for tables of tens of thousands of rows "
            "or a model going into use.",
        ),
        Preset(
            "thorough",
            1000,
            1200.0,
            "Up to about twenty minutes: a long XGBoost search for the last point on large tables; small ones "
            "rarely gain from it.",
        ),
    )
}
DEFAULT_BUDGET = "quick"


@dataclass(frozen=True)
class Budget:
    """What one training may spend: XGBoost trials and/or seconds of tuning, and the seed.

    Resolved when it is made, the one place of the rule: explicit ``trials``/``timeout`` win
    over the named preset's (``name``, one of :data:`BUDGETS`), which fills in what is not
    given. With neither a name nor a limit, the default budget applies; explicit limits without
    a name apply alone (``Budget(trials=5)`` means five trials, however long they take). A seed
    of None means the settings' seed. A limit that cannot be spent raises :class:`InvalidBudget`.
    """

    name: str | None = None
    trials: int | None = None
    timeout: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        name, trials, timeout = self.name, self.trials, self.timeout
        if name is None and trials is None and timeout is None:
            name = DEFAULT_BUDGET
        if name is not None:
            if name not in BUDGETS:
                raise InvalidBudget(f"No budget {name!r}. Choose one of: {', '.join(BUDGETS)}.")
            preset = BUDGETS[name]
            trials = preset.trials if trials is None else trials
            timeout = preset.timeout if timeout is None else timeout
        if trials is not None and int(trials) < 1:
            raise InvalidBudget(f"Trials must be at least 1 (got {trials}).")
        if timeout is not None and not float(timeout) > 0:
            raise InvalidBudget(f"The time limit must be more than 0 seconds (got {timeout}).")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "trials", None if trials is None else int(trials))
        object.__setattr__(self, "timeout", None if timeout is None else float(timeout))
        object.__setattr__(self, "seed", None if self.seed is None else int(self.seed))

    def as_parameters(self) -> dict[str, Any]:
        """The budget as a job's ``parameters`` store it."""
        return {"trials": self.trials, "timeout": self.timeout, "seed": self.seed, "budget": self.name}

    @classmethod
    def from_parameters(cls, parameters: dict[str, Any] | None) -> Budget:
        """The budget a job's ``parameters`` hold (see :meth:`as_parameters`)."""
        parameters = parameters or {}
        return cls(
            parameters.get("budget"),
            trials=parameters.get("trials"),
            timeout=parameters.get("timeout"),
            seed=parameters.get("seed"),
        )
