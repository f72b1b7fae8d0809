"""Figures of convolution and pooling: kernels as one mosaic, a window's channel sums, pooling windows, number grids."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..convarith import fmt
from .images import DIVERGING, compact, heatmap, mosaic, tile, tile_coordinates


def kernel_mosaic(kernel: np.ndarray, in_channel: int, title: str, height: int, cols: int = 8) -> go.Figure:
    """All filters' k×k slices ``kernel[:, :, in_channel, f]`` of ``(k, k, c_in, filters)`` as one diverging heatmap.

    Filter f sits at row f // cols, column f % cols (NaN borders); hover names the filter.
    """
    z = tile(kernel[:, :, in_channel, :], cols=cols)
    k_h, k_w, _, n = kernel.shape
    idx = tile_coordinates((k_h, k_w, n), cols)[..., 0]
    m = float(np.nanmax(np.abs(z))) or 1.0
    fig = go.Figure(go.Heatmap(z=z, customdata=idx, colorscale=DIVERGING, zmin=-m, zmax=m, zmid=0,
                               hovertemplate="filter %{customdata}<br>weight %{z:.3f}<extra></extra>",
                               colorbar=dict(thickness=10, len=0.8)))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title=title, plot_bgcolor="white")
    return fig


def pickable_mosaic(maps: np.ndarray, cols: int, title: str, height: int, upscale: int = 4) -> go.Figure:
    """Feature maps ``(H, W, C)`` as the one-image ``mosaic``, plus one invisible point at the centre of each
    map: a click anywhere on a map selects it (``customdata`` = the map's number). A heatmap or image trace
    emits no selection in Streamlit, and one point per map keeps the figure as light as the picture."""
    fig = mosaic(maps, cols=cols, title=title, height=height, upscale=upscale)
    h, w, n = np.shape(maps)
    index = np.arange(n)
    centre_y = ((index // cols) * (h + 1) + (h - 1) / 2) * upscale + (upscale - 1) / 2
    centre_x = ((index % cols) * (w + 1) + (w - 1) / 2) * upscale + (upscale - 1) / 2
    fig.add_trace(go.Scatter(x=centre_x, y=centre_y, customdata=index, mode="markers",
                             marker=dict(size=8, color="rgba(0,0,0,0)"), showlegend=False,
                             hovertemplate="map %{customdata}: click to look at it<extra></extra>"))
    fig.update_layout(hoverdistance=-1)  # the nearest centre is the map under the pointer
    return fig


def pickable_cells(fig: go.Figure, values: np.ndarray, what: str = "value") -> go.Figure:
    """An invisible point over every cell of a heatmap of ``values`` ``(H, W)`` (row down, column across): a click
    selects the cell (``x`` = column, ``y`` = row), and hovering shows its value."""
    h, w = np.shape(values)
    rows, cols = np.mgrid[0:h, 0:w]
    fig.add_trace(go.Scatter(x=cols.ravel(), y=rows.ravel(), customdata=np.asarray(values, np.float64).ravel(),
                             mode="markers", marker=dict(size=6, color="rgba(0,0,0,0)"), showlegend=False,
                             hovertemplate=f"row %{{y}}, column %{{x}}<br>{what} %{{customdata:.3f}}<extra></extra>"))
    fig.update_traces(hoverinfo="skip", selector=dict(type="heatmap"))
    fig.update_layout(hoverdistance=-1)  # the nearest centre is the cell under the pointer
    return fig


def channel_contributions(per_channel: np.ndarray, selected: int, source: str, height: int = 260) -> go.Figure:
    """One bar per input channel: the sum of its products in one output pixel (the selected channel in orange)."""
    v = np.asarray(per_channel, np.float64)
    fig = go.Figure(go.Bar(x=list(range(len(v))), y=v,
                           marker_color=["#e8590c" if i == selected else ("#c92a2a" if x > 0 else "#1c7ed6")
                                         for i, x in enumerate(v)],
                           hovertemplate="input channel %{x}: %{y:.4f}<extra></extra>"))
    fig.update_xaxes(title=f"input channel of {source}", dtick=4)
    fig.update_yaxes(title="sum of its products")
    return compact(fig, height, f"Contribution of each of the {len(v)} input channels "
                                f"(the window above is channel {selected})")


def pool_windows(fmap: np.ndarray, values: np.ndarray, argmax: np.ndarray | None, size: int, title: str,
                 height: int = 420) -> go.Figure:
    """A map ``(H, W)`` before pooling with its size×size windows drawn and each window's max circled.

    ``values`` ``(H', W')`` are the pooled maxima and ``argmax`` ``(H', W', 2)`` where each came from;
    windows below 5 % of the peak are left unmarked. ``argmax=None`` (average pooling): windows only.
    """
    fig = heatmap(fmap, title=title, height=height, hover="value %{z:.3f}")
    out_h, out_w = values.shape
    for i in range(out_h + 1):  # window borders
        fig.add_shape(type="line", x0=-0.5, x1=out_w * size - 0.5, y0=i * size - 0.5, y1=i * size - 0.5,
                      line=dict(color="white", width=1))
    for j in range(out_w + 1):
        fig.add_shape(type="line", y0=-0.5, y1=out_h * size - 0.5, x0=j * size - 0.5, x1=j * size - 0.5,
                      line=dict(color="white", width=1))
    if argmax is None:
        return fig
    rr, cc = argmax[..., 0].ravel(), argmax[..., 1].ravel()
    keep = values.ravel() > 0.05 * max(float(values.max()), 1e-12)
    fig.add_trace(go.Scatter(x=cc[keep], y=rr[keep], mode="markers", name="window max",
                             marker=dict(symbol="circle-open", size=9, color="#ff6b6b", line=dict(width=2)),
                             customdata=np.stack([rr[keep] // size, cc[keep] // size, values.ravel()[keep]], -1),
                             hovertemplate="max of window (%{customdata[0]}, %{customdata[1]}): "
                                           "%{customdata[2]:.3f}<extra></extra>"))
    fig.update_layout(showlegend=False)
    return fig


Box = tuple[int, int, int, int, str, float]  # top, left, height, width, colour, inset


def number_grid(z: np.ndarray, title: str, scale: str = "diverging", frame: tuple[int, int, int, int] | None = None,
                boxes: Sequence[Box] = ()) -> go.Figure:
    """A small grid as a heatmap with every number written in its cell (±∞ written too, drawn blank).

    ``frame`` = the original image inside the padding (top, left, h, w), dashed; ``boxes`` = outlines
    over cells (``inset`` keeps neighbouring boxes apart). ``scale``: "diverging" or "gray".
    """
    z = np.asarray(z, dtype=np.float64)
    h, w = z.shape
    finite = np.where(np.isfinite(z), z, np.nan)
    text = np.vectorize(fmt)(z)
    has = np.isfinite(finite).any()
    if scale == "diverging":
        m = float(np.nanmax(np.abs(finite))) if has else 1.0
        kw: dict = dict(colorscale=DIVERGING, zmid=0, zmin=-(m or 1.0), zmax=m or 1.0)
    else:
        lo = float(np.nanmin(finite)) if has else 0.0
        hi = float(np.nanmax(finite)) if has else 1.0
        kw = dict(colorscale="gray", zmin=lo, zmax=hi if hi > lo else lo + 1)
    size = 15 if max(h, w) <= 8 else 12 if max(h, w) <= 12 else 10
    fig = go.Figure(go.Heatmap(z=finite, text=text, texttemplate="%{text}", textfont=dict(size=size),
                               showscale=False, xgap=1, ygap=1,
                               hovertemplate="row %{y}, col %{x}: %{text}<extra></extra>", **kw))
    if frame is not None:
        t, l, fh, fw = frame
        fig.add_shape(type="rect", x0=l - 0.5, x1=l + fw - 0.5, y0=t - 0.5, y1=t + fh - 0.5,
                      line=dict(color="#495057", width=2, dash="dash"))
    for t, l, bh, bw, colour, inset in boxes:
        fig.add_shape(type="rect", x0=l - 0.5 + inset, x1=l + bw - 0.5 - inset, y0=t - 0.5 + inset,
                      y1=t + bh - 0.5 - inset, line=dict(color=colour, width=4), fillcolor="rgba(0,0,0,0)",
                      layer="above")
    fig.update_xaxes(side="top", tickmode="array", tickvals=list(range(w)), showgrid=False, zeroline=False,
                     constrain="domain")
    fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=list(range(h)), showgrid=False, zeroline=False,
                     scaleanchor="x", constrain="domain")
    fig.update_layout(title=dict(text=title, y=0.99, yanchor="top"), margin=dict(l=10, r=10, t=60, b=10),
                      height=int(min(120 + 42 * h, 820)), plot_bgcolor="#f1f3f5")
    return fig
