"""The analyst's drift choices: Evidently's drift methods, which suit which column, and the method
and threshold chosen per column of a dataset (stored in :class:`~core.db.models.DriftOptions`).

:mod:`core.monitoring.drift` measures with these choices; :func:`options_key` fingerprints them so
windows measured under other choices (or older rules) are measured again.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from core.db.models import DriftOptions, utcnow
from core.errors import ColumnError, DriftOptionError

NUM, CAT, TEXT = "num", "cat", "text"
KIND_OF_ROLE = {"numeric": NUM, "datetime": NUM, "categorical": CAT, "boolean": CAT, "text": TEXT}
RULES = 4  # how drift chooses methods (bump when it changes: stored windows are then measured again)


@dataclass(frozen=True)
class Method:
    """One of Evidently's drift methods: its id, what it is called, which columns it suits, its
    default threshold, and which way it reads (a p-value drifts at or below the threshold, a
    distance at or above it)."""

    id: str
    label: str
    kinds: tuple[str, ...]
    threshold: float
    p_value: bool

    @property
    def rule(self) -> str:
        return "drift when the p-value is below the threshold" if self.p_value else "drift when the distance reaches it"


# Evidently 0.7's registered drift methods (checked against its registry by the tests)
METHODS: dict[str, Method] = {
    m.id: m
    for m in (
        Method("wasserstein", "Wasserstein distance (normed)", (NUM,), 0.1, False),
        Method("ks", "K-S p_value", (NUM,), 0.05, True),
        Method("jensenshannon", "Jensen-Shannon distance", (CAT, NUM), 0.1, False),
        Method("psi", "PSI", (CAT, NUM), 0.1, False),
        Method("kl_div", "Kullback-Leibler divergence", (CAT, NUM), 0.1, False),
        Method("hellinger", "Hellinger distance", (CAT, NUM), 0.1, False),
        Method("chisquare", "chi-square p_value", (CAT,), 0.05, True),
        Method("z", "Z-test p_value", (CAT,), 0.05, True),
        Method("TVD", "Total-Variation-Distance", (CAT,), 0.1, True),
        Method("g_test", "g_test", (CAT,), 0.1, True),
        Method("fisher_exact", "Fisher's Exact test", (CAT,), 0.1, True),
        Method("anderson", "Anderson-Darling", (NUM,), 0.1, True),
        Method("cramer_von_mises", "Cramer-von Mises", (NUM,), 0.1, True),
        Method("mannw", "Mann-Whitney U-rank test", (NUM,), 0.05, True),
        Method("t_test", "t_test", (NUM,), 0.05, True),
        Method("ed", "Energy-distance", (NUM,), 0.1, False),
        Method("es", "Epps-Singleton", (NUM,), 0.05, True),
        Method("empirical_mmd", "empirical_mmd", (NUM,), 0.1, True),
        Method("perc_text_content_drift", "Percentile text content drift", (TEXT,), 0.95, False),
        Method("abs_text_content_drift", "Absolute text content drift", (TEXT,), 0.55, False),
    )
}
BY_LABEL = {m.label: m.id for m in METHODS.values()}


def methods_for(role: str) -> list[Method]:
    """The methods that suit a feature of this role."""
    kind = KIND_OF_ROLE.get(role)
    return [m for m in METHODS.values() if kind in m.kinds]


# --- the analyst's choices --------------------------------------------------------------------


def check_options(columns: dict[str, dict[str, Any]], features: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Validate per-column choices ``{column: {"method"?, "threshold"?}}`` against the features;
    returns them without empty entries. Unknown columns, methods that do not suit a column and
    thresholds out of range are refused."""
    roles = {f["name"]: f["role"] for f in features}
    clean: dict[str, dict[str, Any]] = {}
    for name, choice in (columns or {}).items():
        if name not in roles:
            listed = ", ".join(map(repr, roles))
            raise ColumnError(f"{name!r} is not a feature of the model; its features are {listed}.")
        entry: dict[str, Any] = {}
        method = (choice or {}).get("method") or None
        if method is not None:
            method = BY_LABEL.get(method, method)
            found = METHODS.get(method)
            if found is None or KIND_OF_ROLE.get(roles[name]) not in found.kinds:
                allowed = ", ".join(m.id for m in methods_for(roles[name]))
                raise DriftOptionError(
                    f"Method {method!r} does not suit {name!r} ({roles[name]}); use one of: {allowed}."
                )
            entry["method"] = method
        threshold = (choice or {}).get("threshold")
        if threshold is not None and not (isinstance(threshold, float) and math.isnan(threshold)):
            try:
                threshold = float(threshold)
            except (TypeError, ValueError):
                raise DriftOptionError(f"Threshold {threshold!r} for {name!r} is not a number.") from None
            if not 0 < threshold < 1e6:
                raise DriftOptionError(f"Threshold {threshold:g} for {name!r} must be above 0.")
            if method is not None and METHODS[method].p_value and threshold >= 1:
                raise DriftOptionError(f"{name!r}: {method} gives a p-value, so its threshold must be below 1.")
            entry["threshold"] = threshold
        if entry:
            clean[name] = entry
    return clean


def load_options(*, session: Session, dataset: str) -> dict[str, dict[str, Any]]:
    """The dataset's stored per-column choices (empty: Evidently's defaults everywhere)."""
    found = session.get(DriftOptions, dataset)
    return dict(found.columns) if found is not None else {}


def save_options(
    *,
    session: Session,
    dataset: str,
    columns: dict[str, dict[str, Any]],
    features: list[dict[str, Any]],
    who: str = "app",
) -> dict[str, dict[str, Any]]:
    """Store the dataset's per-column choices (validated); windows measured with other choices are
    measured again at their next refresh. The caller owns the transaction."""
    clean = check_options(columns, features)
    found = session.get(DriftOptions, dataset)
    if found is None:
        session.add(DriftOptions(dataset=dataset, columns=clean, who=who, updated_at=utcnow()))
    else:
        found.columns, found.who, found.updated_at = clean, who, utcnow()
    session.flush()
    return clean


def options_key(columns: dict[str, dict[str, Any]], drift_share: float) -> str:
    """A short fingerprint of the choices a window was measured with (and of :data:`RULES`)."""
    text = json.dumps({"columns": columns, "drift_share": drift_share, "rules": RULES}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
