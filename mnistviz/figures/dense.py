"""Figures of the end of the network: the flattened vector, a block of maps, dense units, logits.

The index arithmetic they draw is ``mnistviz.dense_inspect`` (flatten order, unit grids).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from ..dense_inspect import as_grid, grid_shape, strip_rows
from .images import compact, outline, tile, tile_coordinates

def flatten_strip(flat: np.ndarray, hwc: tuple[int, int, int], k: int | None = None,
                  title: str | None = None, height: int = 520) -> go.Figure:
    """The flattened vector as ONE heatmap ``(H·W, C)``: row = pixel position row·W + col, column = channel.

    Reading it left to right, top to bottom is reading elements 0, 1, 2, … of the vector; hover shows
    ``k`` and the ``(row, col, channel)`` it came from. Element ``k`` is outlined.
    """
    h, w, c = (int(d) for d in hwc)
    z = strip_rows(flat, hwc)
    pos = np.arange(h * w)[:, None]
    ch = np.arange(c)[None, :]
    kk = pos * c + ch
    custom = np.stack(np.broadcast_arrays(kk, pos // w, pos % w, ch), axis=-1)
    fig = go.Figure(go.Heatmap(
        z=z, customdata=custom, colorscale="Viridis", colorbar=dict(title="value"),
        hovertemplate="element k = %{customdata[0]}<br>from (row %{customdata[1]}, col %{customdata[2]}, "
                      "channel %{customdata[3]})<br>value %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title=f"pixel position row·{w} + col", zeroline=False)
    fig.update_xaxes(title=f"channel (0 … {c - 1})", zeroline=False)
    if k is not None:
        r, q = divmod(int(k), c)
        outline(fig, r, q, colour="#ff2d55")
    return compact(fig, height, title)


def block_mosaic(block: np.ndarray, highlight: tuple[int, int, int] | None = None, diverging: bool = False,
                 title: str | None = None, height: int = 520, value_name: str = "value") -> go.Figure:
    """Every channel of an ``(H, W, C)`` block tiled into ONE heatmap (channel c at grid cell c//cols, c%cols).

    Hover names channel, row and column; ``highlight`` outlines one ``(row, col, channel)`` cell and its map.
    Sequential colours for activations, a diverging scale centred on 0 for weights (one scale for all maps).
    """
    block = np.asarray(block, np.float32)
    if block.ndim == 2:
        block = block[..., None]
    h, w, c = block.shape
    cols = int(math.ceil(math.sqrt(c)))
    z = tile(block, cols)
    custom = tile_coordinates((h, w, c), cols)
    if diverging:
        m = float(np.nanmax(np.abs(block))) or 1.0
        scale = dict(colorscale="RdBu_r", zmin=-m, zmax=m, zmid=0)
    else:
        scale = dict(colorscale="Viridis", zmin=min(0.0, float(block.min())), zmax=float(block.max()) or 1.0)
    fig = go.Figure(go.Heatmap(
        z=z, customdata=custom, colorbar=dict(title=value_name), hoverongaps=False, **scale,
        hovertemplate="channel %{customdata[0]}, row %{customdata[1]}, col %{customdata[2]}"
                      f"<br>{value_name} %{{z:.4f}}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showticklabels=False, scaleanchor="x", showgrid=False, zeroline=False,
                     constrain="domain")
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_layout(plot_bgcolor="#282828")
    if highlight is not None:
        r, q, ch = highlight
        gr, gc = divmod(int(ch), cols)
        y, x = gr * (h + 1), gc * (w + 1)
        outline(fig, y, x, h, w, colour="#ffffff", line_width=1.5)
        outline(fig, y + r, x + q, colour="#ff2d55")
    return compact(fig, height, title)


def unit_grid(values: np.ndarray, title: str | None = None, height: int = 420, zmax: float | None = None,
              value_name: str = "activation", dropped: np.ndarray | None = None) -> go.Figure:
    """A layer's units as ONE heatmap on ``grid_shape(n)`` (unit index on hover; sequential colours).

    ``dropped`` (a boolean mask) greys those units out: they are NaN, painted by the background.
    """
    v = np.asarray(values, np.float32).reshape(-1).copy()
    n = len(v)
    rows, cols = grid_shape(n)
    if dropped is not None:
        v[np.asarray(dropped).reshape(-1)] = np.nan
    z = as_grid(v, (rows, cols))
    idx = np.arange(rows * cols).reshape(rows, cols)
    fig = go.Figure(go.Heatmap(
        z=z, customdata=idx, colorscale="Viridis", zmin=0, zmax=zmax if zmax is not None else (float(np.nanmax(z)) or 1.0),
        colorbar=dict(title=value_name), hoverongaps=False,
        hovertemplate=f"unit %{{customdata}}<br>{value_name} %{{z:.3f}}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title=f"unit ÷ {cols}", showgrid=False, zeroline=False,
                     constrain="domain")
    fig.update_xaxes(title=f"unit mod {cols}", showgrid=False, zeroline=False, constrain="domain")
    fig.update_layout(plot_bgcolor="#c8c8c8")
    return compact(fig, height, title)


def sorted_bars(values: np.ndarray, title: str | None = None, height: int = 260,
                value_name: str = "activation") -> go.Figure:
    """Every unit's value as a bar, strongest first (hover names the unit)."""
    v = np.asarray(values, np.float32).reshape(-1)
    order = np.argsort(-v, kind="stable")
    fig = go.Figure(go.Bar(x=np.arange(len(v)), y=v[order], customdata=order, marker_color="#3b5bdb",
                           marker_line_width=0,
                           hovertemplate=f"rank %{{x}}: unit %{{customdata}}<br>{value_name} %{{y:.3f}}<extra></extra>"))
    fig.update_layout(bargap=0)
    fig.update_xaxes(title="units, strongest first")
    fig.update_yaxes(title=value_name)
    return compact(fig, height, title)


def logit_bars(logits: np.ndarray, title: str | None = None, height: int = 260) -> go.Figure:
    """The ten logits as bars (red above 0, blue below), the largest in bold colour."""
    z = np.asarray(logits, np.float64).reshape(-1)
    top = int(z.argmax())
    colors = [("#c92a2a" if v >= 0 else "#1864ab") if d == top else ("#ffa8a8" if v >= 0 else "#a5d8ff")
              for d, v in enumerate(z)]
    fig = go.Figure(go.Bar(x=[str(d) for d in range(len(z))], y=z, marker_color=colors,
                           text=[f"{v:.2f}" for v in z], textposition="outside",
                           hovertemplate="digit %{x}: logit %{y:.4f}<extra></extra>"))
    pad = 0.15 * (float(np.abs(z).max()) or 1.0)
    fig.update_yaxes(title="logit (any real number)", range=[min(0.0, z.min()) - pad, max(0.0, z.max()) + pad])
    fig.update_xaxes(title="digit", type="category")
    return compact(fig, height, title)
