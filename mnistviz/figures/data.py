"""Figures of the input: a label's one-hot vector, digits per class, a sample grid, the flat row and the 28×28 grid."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..data import INPUT_SIDE as SIDE
from .images import INK, outline, picture, tile


def one_hot(onehot: np.ndarray) -> go.Figure:
    """A one-hot label ``(10,)`` as one row of ten cells, 1 dark, 0 white, each value written in."""
    fig = go.Figure(go.Heatmap(z=[onehot], x=[str(d) for d in range(10)], y=["label"], colorscale="Blues",
                               zmin=0, zmax=1, showscale=False, text=[[f"{v:.0f}" for v in onehot]],
                               texttemplate="%{text}", hovertemplate="digit %{x}: %{z:.0f}<extra></extra>"))
    fig.update_layout(height=110, margin=dict(l=10, r=10, t=10, b=30))
    fig.update_xaxes(title="digit", type="category")
    return fig


def class_counts(train: np.ndarray, test: np.ndarray, height: int = 420) -> go.Figure:
    """Images per digit in the train and test splits, grouped bars (counts ``(10,)`` each)."""
    digits = [str(d) for d in range(10)]
    fig = go.Figure([
        go.Bar(name=f"train ({int(np.sum(train)):,})", x=digits, y=train,
               hovertemplate="digit %{x}: %{y:,} training images<extra></extra>"),
        go.Bar(name=f"test ({int(np.sum(test)):,})", x=digits, y=test,
               hovertemplate="digit %{x}: %{y:,} test images<extra></extra>"),
    ])
    fig.update_layout(barmode="group", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      title="Images per digit", legend=dict(orientation="h", y=-0.15))
    fig.update_xaxes(title="digit", type="category")
    fig.update_yaxes(title="images")
    return fig


def samples_by_class(maps: np.ndarray, per_class: int, title: str, height: int = 420) -> go.Figure:
    """Digits ``(28, 28, 10·per_class)`` ordered digit by digit (0-255) as one picture, a row per digit."""
    pad = 2
    grid = tile(maps, cols=per_class, pad=pad, pad_value=40.0)
    fig = picture(np.clip(grid, 0, 255).astype(np.uint8), title=title, height=height)
    fig.update_yaxes(showticklabels=True, tickvals=[i * (SIDE + pad) + SIDE // 2 for i in range(10)],
                     ticktext=[str(d) for d in range(10)], title="digit")
    return fig


def flat_row(flat: np.ndarray, k: int) -> go.Figure:
    """The flat input ``(784,)`` as one strip, pixel ``k`` marked, dotted lines where each image row starts."""
    n = len(flat)
    fig = go.Figure(go.Heatmap(z=np.asarray(flat)[None, :], colorscale=INK, zmin=0, zmax=1, showscale=False,
                               hovertemplate="k = %{x}<br>value %{z:.3f}<extra></extra>"))
    fig.add_vline(x=k, line=dict(color="#e8590c", width=2))
    for r in range(1, n // SIDE):
        fig.add_vline(x=r * SIDE - 0.5, line=dict(color="#495057", width=0.5, dash="dot"))
    fig.update_xaxes(title="index k in the flat vector (dotted lines: where each image row starts)",
                     range=[-0.5, n - 0.5])
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=150, margin=dict(l=10, r=10, t=40, b=40), title=f"x[0, :] ({n} values) · k = {k}")
    return fig


def image_grid(flat: np.ndarray, k: int) -> go.Figure:
    """The flat input ``(784,)`` as the 28×28 image it came from, pixel ``k`` outlined, hover giving k → (row, col)."""
    grid = np.asarray(flat).reshape(SIDE, SIDE)
    kk = np.arange(SIDE * SIDE).reshape(SIDE, SIDE)
    fig = go.Figure(go.Heatmap(z=grid, customdata=kk, colorscale=INK, zmin=0, zmax=1, showscale=False,
                               hovertemplate="k = %{customdata} → (row %{y}, col %{x})<br>value %{z:.3f}<extra></extra>"))
    outline(fig, *divmod(int(k), SIDE))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title="row (H)")
    fig.update_xaxes(title="col (W)")
    fig.update_layout(height=400, margin=dict(l=10, r=10, t=40, b=10), title="x[0, :, :, 0]")
    return fig
