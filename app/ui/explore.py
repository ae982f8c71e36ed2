"""Plotly figures for the Data page's exploration. They draw what core.datasets.explore computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.datasets.explore import Categories, Histogram

BAR = "#1f77b4"
WARN = "#d62728"
# a qualitative palette that stays readable for up to ten classes
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def _layout(fig: go.Figure, title: str, height: int = 320, **kwargs) -> go.Figure:
    fig.update_layout(title={"text": title, "font": {"size": 14}}, height=height, margin=MARGIN, **kwargs)
    return fig


def _class_color(i: int) -> str:
    return CLASS_COLORS[i % len(CLASS_COLORS)]


def missing_bar(missing: pd.Series, rows: int) -> go.Figure:
    """Missing cells per column, as a share of the rows (columns with none are left out)."""
    shown = missing[missing > 0].sort_values(ascending=True)
    fig = go.Figure(
        go.Bar(
            x=shown.to_numpy() / max(rows, 1),
            y=[str(c) for c in shown.index],
            orientation="h",
            marker_color=BAR,
            customdata=shown.to_numpy(),
            text=[f"{n:,}" for n in shown.to_numpy()],
            textposition="auto",
            hovertemplate="%{y}: %{customdata:,} missing (%{x:.1%})<extra></extra>",
        )
    )
    return _layout(
        fig,
        "Missing cells per column",
        height=max(160, 80 + 24 * len(shown)),
        xaxis={"tickformat": ".0%", "title": "share of rows", "rangemode": "tozero"},
        yaxis={"type": "category"},
    )


def class_balance_bar(counts: pd.Series, imbalanced: bool) -> go.Figure:
    total = max(int(counts.sum()), 1)
    smallest = counts.min() if len(counts) else 0
    colors = [WARN if imbalanced and n == smallest else BAR for n in counts.to_numpy()]
    fig = go.Figure(
        go.Bar(
            x=[str(c) for c in counts.index],
            y=counts.to_numpy(),
            marker_color=colors,
            text=[f"{n:,} ({n / total:.1%})" for n in counts.to_numpy()],
            textposition="auto",
            hovertemplate="%{x}: %{y:,} rows<extra></extra>",
        )
    )
    return _layout(fig, "Rows per target class", xaxis={"type": "category"}, yaxis={"title": "rows"})


def _centres(edges: np.ndarray) -> np.ndarray:
    if np.issubdtype(edges.dtype, np.datetime64):
        return edges[:-1] + (edges[1:] - edges[:-1]) / 2
    return (edges[:-1] + edges[1:]) / 2


def histogram(hist: Histogram, measure: str, title: str) -> go.Figure:
    """A histogram drawn from precomputed bins."""
    widths = np.diff(hist.edges)
    fig = go.Figure(
        go.Bar(
            x=_centres(hist.edges),
            y=hist.counts,
            width=widths.astype("timedelta64[ms]").astype("int64") if widths.dtype.kind == "m" else widths,
            marker_color=BAR,
            marker_line_width=0,
            hovertemplate="%{x}: %{y:,} rows<extra></extra>",
        )
    )
    return _layout(fig, title, bargap=0.02, xaxis={"title": measure}, yaxis={"title": "rows"})


def histogram_by_class(hist: Histogram, measure: str, title: str) -> go.Figure:
    """One outline per target class, each as a share of its class, so small classes stay visible."""
    centres = _centres(hist.edges)
    fig = go.Figure()
    for i, (label, counts) in enumerate(hist.by_class.items()):
        total = max(int(counts.sum()), 1)
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=counts / total,
                name=label,
                mode="lines",
                line={"shape": "hvh", "color": _class_color(i), "width": 2},
                customdata=counts,
                hovertemplate=f"{label}: " + "%{y:.1%} of the class (%{customdata:,} rows)<extra></extra>",
            )
        )
    return _layout(
        fig,
        title,
        xaxis={"title": measure},
        yaxis={"title": "share of the class", "tickformat": ".1%", "rangemode": "tozero"},
        legend={"title": {"text": "class"}},
    )


def category_bar(categories: Categories, title: str) -> go.Figure:
    counts = categories.counts
    total = max(int(counts.sum()), 1)
    fig = go.Figure(
        go.Bar(
            x=counts.to_numpy(),
            y=[str(v) for v in counts.index],
            orientation="h",
            marker_color=BAR,
            text=[f"{n / total:.1%}" for n in counts.to_numpy()],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        )
    )
    return _layout(
        fig,
        title,
        height=max(200, 80 + 22 * len(counts)),
        xaxis={"title": "rows", "range": [0, max(int(counts.max()), 1) * 1.15]},
        yaxis={"type": "category", "autorange": "reversed"},
    )


def category_by_class(categories: Categories, title: str) -> go.Figure:
    """For each value, the mix of target classes among its rows (bars add up to 100 %)."""
    table = categories.by_class
    shares = table.div(table.sum(axis=1).replace(0, 1), axis=0)
    labels = [str(v) for v in table.index]
    fig = go.Figure()
    for i, cls in enumerate(table.columns):
        fig.add_trace(
            go.Bar(
                x=shares[cls].to_numpy(),
                y=labels,
                name=str(cls),
                orientation="h",
                marker_color=_class_color(i),
                customdata=table[cls].to_numpy(),
                hovertemplate=f"{cls}: " + "%{x:.1%} of %{y} (%{customdata:,} rows)<extra></extra>",
            )
        )
    return _layout(
        fig,
        title,
        height=max(200, 80 + 22 * len(labels)),
        barmode="stack",
        xaxis={"title": "share of the value's rows", "tickformat": ".0%", "range": [0, 1]},
        yaxis={"type": "category", "autorange": "reversed"},
        legend={"title": {"text": "class"}},
    )


def correlation_heatmap(matrix: pd.DataFrame) -> go.Figure:
    names = [str(c) for c in matrix.columns]
    values = matrix.to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=names,
            y=names,
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            text=np.round(values, 2),
            texttemplate="%{text}" if len(names) <= 15 else None,
            hovertemplate="%{y} / %{x}: r = %{z:.2f}<extra></extra>",
            colorbar={"title": {"text": "r"}},
        )
    )
    side = min(900, 160 + 40 * len(names))
    return _layout(
        fig,
        "Correlation between numeric columns (Pearson)",
        height=side,
        xaxis={"type": "category"},
        yaxis={"type": "category", "autorange": "reversed"},
    )


def association_bar(ranking: pd.DataFrame, target: str) -> go.Figure:
    shown = ranking.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=shown["share of target entropy"].to_numpy(),
            y=shown["column"].astype(str).to_numpy(),
            orientation="h",
            marker_color=BAR,
            customdata=np.stack([shown["mutual information"].to_numpy(), shown["used as"].to_numpy()], axis=1),
            hovertemplate="%{y} (%{customdata[1]}): %{x:.1%} of the target's entropy, "
            "MI %{customdata[0]:.3f} nats<extra></extra>",
        )
    )
    return _layout(
        fig,
        f"How much each column tells about {target}",
        height=max(200, 80 + 24 * len(shown)),
        xaxis={"title": "mutual information, as a share of the target's entropy", "tickformat": ".0%"},
        yaxis={"type": "category"},
    )
