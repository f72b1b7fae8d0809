"""The whole network as one picture: one box per Keras layer, left to right."""

from __future__ import annotations

import plotly.graph_objects as go

KIND_COLOURS = {
    "InputLayer": "#dee2e6", "Reshape": "#d0ebff", "Conv2D": "#ffd8a8", "BatchNormalization": "#fff3bf",
    "Activation": "#fff3bf", "MaxPooling2D": "#d3f9d8", "Flatten": "#e5dbff", "Dense": "#ffc9c9",
    "Dropout": "#f1f3f5", "Softmax": "#c5f6fa",
}
SHORT_KIND = {"MaxPooling2D": "MaxPool2D", "BatchNormalization": "BatchNorm", "InputLayer": "Input"}


def short_count(n: int) -> str:
    """3,212,288 → ``3.2M``; smaller counts with thousands separators."""
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n:,}"


def _hover(rows: list[dict]) -> dict:
    return dict(customdata=[[r["Layer"], r["Type"], r["Output shape"], r["Parameters"]] for r in rows],
                hovertemplate="%{customdata[0]} (%{customdata[1]})<br>output %{customdata[2]}<br>"
                              "%{customdata[3]:,} parameters<extra></extra>")


def _shape_text(r: dict) -> str:
    return r["Output shape"].replace("(None, ", "").rstrip(")").replace(", ", "×")


def architecture(rows: list[dict], vertical: bool = False) -> go.Figure:
    """Stages left to right, one box each with its name, output shape and parameter count; with
    ``vertical``, top to bottom, one line per box (for a phone's width).

    ``rows`` are dicts with ``Layer``, ``Type``, ``Output shape`` (text such as ``(None, 28, 28, 32)``)
    and ``Parameters``.
    """
    if vertical:
        return _architecture_down(rows)
    fig = go.Figure()
    w, gap = 1.0, 0.35
    for i, r in enumerate(rows):
        x0 = i * (w + gap)
        fig.add_shape(type="rect", x0=x0, x1=x0 + w, y0=0, y1=1, line=dict(color="#495057", width=1),
                      fillcolor=KIND_COLOURS.get(r["Type"], "#e9ecef"), layer="below")
        shape = _shape_text(r)
        fig.add_annotation(x=x0 + w / 2, y=0.5, showarrow=False, font=dict(size=10, color="#212529"),
                           text=f"<b>{r['Layer']}</b><br>{SHORT_KIND.get(r['Type'], r['Type'])}<br>{shape}"
                                f"<br>{short_count(r['Parameters'])}<br>params")
        if i:
            fig.add_annotation(x=x0, y=0.5, ax=x0 - gap, ay=0.5, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, arrowwidth=1.5, arrowcolor="#868e96", text="")
    # invisible points carry the hover text
    fig.add_trace(go.Scatter(
        x=[i * (w + gap) + w / 2 for i in range(len(rows))], y=[0.5] * len(rows), mode="markers",
        marker=dict(size=40, opacity=0), **_hover(rows)))
    fig.update_xaxes(visible=False, range=[-0.1, len(rows) * (w + gap) - gap + 0.1])
    fig.update_yaxes(visible=False, range=[-0.05, 1.05])
    fig.update_layout(height=210, margin=dict(l=5, r=5, t=35, b=5), showlegend=False,
                      title="The network, left to right (shapes per image; hover for details)", plot_bgcolor="white")
    return fig


def _architecture_down(rows: list[dict]) -> go.Figure:
    """``architecture`` top to bottom: one box per layer, its name, kind, shape and parameters on one line."""
    fig = go.Figure()
    h, gap = 1.0, 0.4
    for i, r in enumerate(rows):
        y0 = i * (h + gap)
        fig.add_shape(type="rect", x0=0, x1=1, y0=y0, y1=y0 + h, line=dict(color="#495057", width=1),
                      fillcolor=KIND_COLOURS.get(r["Type"], "#e9ecef"), layer="below")
        fig.add_annotation(x=0.5, y=y0 + h / 2, showarrow=False, font=dict(size=11, color="#212529"),
                           text=f"<b>{r['Layer']}</b> · {SHORT_KIND.get(r['Type'], r['Type'])} · {_shape_text(r)} · "
                                f"{short_count(r['Parameters'])} params")
        if i:
            fig.add_annotation(x=0.5, y=y0, ax=0.5, ay=y0 - gap, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=2, arrowwidth=1.5, arrowcolor="#868e96", text="")
    fig.add_trace(go.Scatter(x=[0.5] * len(rows), y=[i * (h + gap) + h / 2 for i in range(len(rows))], mode="markers",
                             marker=dict(size=30, opacity=0), **_hover(rows)))
    fig.update_xaxes(visible=False, range=[-0.02, 1.02])
    fig.update_yaxes(visible=False, range=[len(rows) * (h + gap) - gap + 0.1, -0.1])  # first layer on top
    fig.update_layout(height=60 + 34 * len(rows), margin=dict(l=5, r=5, t=35, b=5), showlegend=False,
                      title="The network, top to bottom", plot_bgcolor="white")
    return fig
