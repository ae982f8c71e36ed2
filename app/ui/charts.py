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
