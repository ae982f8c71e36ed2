"""Chart builders: shapes the analyst reads correctly."""

from __future__ import annotations

from app.ui.charts import contribution_bar


def test_reason_labels_have_room_beyond_the_bars_on_both_sides() -> None:
    fig = contribution_bar([("Perimeter = 449.5", 0.35), ("Eccentricity = 0.88", -0.003)], "Osmancik", "log-odds")
    low, high = fig.layout.xaxis.range
    assert low < -0.003 - 0.05 and high > 0.35 + 0.05  # outside labels sit inside the plot, off the axis names
    assert fig.data[0].textposition == "outside"


def test_only_positive_reasons_start_at_zero() -> None:
    low, high = contribution_bar([("Area = 1", 0.2), ("Extent = 0.6", 0.1)], "Cammeo", "log-odds").layout.xaxis.range
    assert low == 0 and high > 0.2
