"""The analyst's drift choices: methods that suit each column, checked choices, and a method table
that matches Evidently's own registry."""

from __future__ import annotations

import pytest

from core.errors import ColumnError, DriftOptionError
from core.monitoring.options import METHODS, check_options, methods_for, options_key

FEATURES = [{"name": "age", "role": "numeric"}, {"name": "plan", "role": "categorical"}]


def test_options_are_checked_against_the_features() -> None:
    assert check_options({"age": {"method": "K-S p_value", "threshold": "0.01"}, "plan": {}}, FEATURES) == {
        "age": {"method": "ks", "threshold": 0.01}
    }
    with pytest.raises(DriftOptionError, match="does not suit 'plan'"):
        check_options({"plan": {"method": "ks"}}, FEATURES)
    with pytest.raises(DriftOptionError, match="must be above 0"):
        check_options({"age": {"threshold": 0}}, FEATURES)
    with pytest.raises(DriftOptionError, match="must be below 1"):
        check_options({"age": {"method": "ks", "threshold": 2}}, FEATURES)
    with pytest.raises(ColumnError, match="'nope' is not a feature"):
        check_options({"nope": {"method": "ks"}}, FEATURES)
    assert options_key({}, 0.5) != options_key({"age": {"method": "ks"}}, 0.5)
    assert "chisquare" in [m.id for m in methods_for("boolean")] and "ks" not in [m.id for m in methods_for("text")]


def test_the_method_table_matches_evidentlys_registry() -> None:
    from evidently.legacy.calculations import stattests
    from evidently.legacy.calculations.stattests.registry import StatTest

    registered = {t.name: t for t in vars(stattests).values() if isinstance(t, StatTest)}
    assert set(METHODS) == set(registered)
    kinds = {"num": "num", "cat": "cat", "text": "text"}
    for method in METHODS.values():
        found = registered[method.id]
        assert method.label == found.display_name
        assert method.threshold == found.default_threshold
        assert {kinds[k] for k in method.kinds} == {t.value for t in found.allowed_feature_types}
