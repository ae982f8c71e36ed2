"""Plotly figures used by the pages."""

from __future__ import annotations

import plotly.graph_objects as go


def probability_bar(probabilities: dict[str, float], predicted: str) -> go.Figure:
    labels = list(probabilities)
    values = [probabilities[k] for k in labels]
    colors = ["#1f77b4" if label == predicted else "#c7c7c7" for label in labels]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colors,
            text=[f"{v:.1%}" for v in values],
            textposition="auto",
        )
    )
    fig.update_layout(
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": "probability"},
        yaxis={"title": None, "type": "category"},
        height=80 + 40 * len(labels),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


UNIT_WORDS = {
    "probability": "the probability of {predicted}",
    "log-odds": "the log-odds of {predicted}",
}
UNIT_MEANINGS = {
    "probability": (
        "Each number is how much the column's value moves the probability of {predicted} (0 to 1), compared "
        "with the column at its typical training value."
    ),
    "log-odds": (
        "Each number is in log-odds: the model's score for {predicted} before it becomes a probability. "
        "+0.7 about doubles the odds of {predicted}, -0.7 about halves them; they add up across columns."
    ),
}


def unit_words(unit: str, predicted: str) -> str:
    """What a reason's number moves, in words: ``the probability of Gentoo``."""
    return UNIT_WORDS.get(unit, f"the {unit} of {{predicted}}").format(predicted=predicted)


def unit_meaning(unit: str, predicted: str) -> str:
    """One or two sentences on how to read the reasons' numbers."""
    return UNIT_MEANINGS.get(unit, "Each number is in {unit}, towards {predicted}.").format(
        unit=unit, predicted=predicted
    )


def reason_sentence(label: str, contribution: float, predicted: str, unit: str) -> str:
    """``island = Biscoe pushes the probability of Gentoo up by 0.12``."""
    direction = "up" if contribution >= 0 else "down"
    return f"{label} pushes {unit_words(unit, predicted)} {direction} by {abs(contribution):.2g}"


def contribution_bar(reasons: list[tuple[str, float]], predicted: str, unit: str) -> go.Figure:
    """Top reasons of one prediction: (label, contribution), largest first; positive pushes towards ``predicted``."""
    labels = [label for label, _ in reasons][::-1]
    values = [value for _, value in reasons][::-1]
    colors = ["#2ca02c" if v >= 0 else "#d62728" for v in values]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=labels,
            orientation="h",
            marker_color=colors,
            text=[f"{v:+.3g}" if v else "0" for v in values],  # never "-0"
            textposition="outside",
            cliponaxis=False,
            hovertext=[reason_sentence(label, v, predicted, unit) for label, v in zip(labels, values, strict=True)],
            hovertemplate="%{hovertext}<extra></extra>",
        )
    )
    # room beyond the longest bar on each side, so a value label never covers the feature names
    low, high = min([0.0, *values]), max([0.0, *values])
    room = 0.2 * ((high - low) or 1.0)
    fig.update_layout(
        xaxis={
            "title": f"change in {unit_words(unit, predicted)}",
            "zeroline": True,
            "range": [low - room if low < 0 else 0, high + room if high > 0 else 0],
        },
        yaxis={"title": None, "type": "category"},
        height=80 + 34 * len(labels),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


def class_mix_bar(mix: dict[str, int]) -> go.Figure:
    """Rows per predicted class."""
    labels = list(mix)
    counts = [mix[k] for k in labels]
    total = sum(counts) or 1
    shares = [f"{n / total:.1%}" for n in counts]
    fig = go.Figure(go.Bar(x=labels, y=counts, text=shares, textposition="auto", marker_color="#1f77b4"))
    fig.update_layout(
        xaxis={"title": "predicted class", "type": "category"},
        yaxis={"title": "rows"},
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={"text": "Predicted class mix", "font": {"size": 14}},
    )
    return fig


def confidence_histogram(bins: list[int]) -> go.Figure:
    """Rows per confidence bin: ``bins`` equal bins from 0 to 1."""
    width = 1 / max(len(bins), 1)
    fig = go.Figure(
        go.Bar(
            x=[(i + 0.5) * width for i in range(len(bins))],
            y=bins,
            width=width * 0.95,
            marker_color="#ff7f0e",
            hovertemplate="confidence %{x:.0%}: %{y} rows<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "confidence (probability of the predicted class)", "range": [0, 1], "tickformat": ".0%"},
        yaxis={"title": "rows"},
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={"text": "Confidence", "font": {"size": 14}},
    )
    return fig
