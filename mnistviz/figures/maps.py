"""The Map page's figures: test digits placed at one depth, coloured by their true digit, and the current
input as a star (plain Plotly dicts, cached per model and marked per run)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..embedding import Embedding

#: Ten colours told apart easily (Tableau 10, Plotly's ``qualitative.T10``), one per true digit.
DIGIT_COLOURS = ("#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B",
                 "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC")
HOVER = "%{text}<extra></extra>"


def map_figure(emb: "Embedding", depth: str, height: int = 520) -> dict:
    """One depth's map as a Plotly figure dict: ten ``Scattergl`` traces (one per true digit, so the
    legend reads as a key) and the misclassified digits ringed in black. Each point carries its test
    index as ``customdata`` and "test digit #i, true t, predicted p" as its hover text. A plain dict, so a page can cache it
    and add the current input's marker (``input_marker``) without copying a ``go.Figure``."""
    import plotly.graph_objects as go

    space = emb.spaces[depth]
    xy = space.coords
    index = np.arange(len(emb.labels))
    text = np.array([f"test digit #{i}<br>true {t}, predicted {p}"
                     for i, t, p in zip(index, emb.labels, emb.predictions)], dtype=object)
    fig = go.Figure()
    for digit in range(10):
        at = np.flatnonzero(emb.labels == digit)
        fig.add_trace(go.Scattergl(x=xy[at, 0], y=xy[at, 1], mode="markers", name=str(digit),
                                   customdata=index[at], text=text[at], hovertemplate=HOVER,
                                   marker=dict(size=5, color=DIGIT_COLOURS[digit], opacity=0.75)))
    wrong = np.flatnonzero(emb.labels != emb.predictions)
    fig.add_trace(go.Scattergl(x=xy[wrong, 0], y=xy[wrong, 1], mode="markers", name="wrong",
                               customdata=index[wrong], text=text[wrong], hovertemplate=HOVER,
                               marker=dict(size=8, color="rgba(0,0,0,0)", line=dict(color="black", width=1))))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title=space.layer.title,
                      legend=dict(orientation="h", y=-0.02, yanchor="top", itemsizing="constant",
                                  title=dict(text="true digit", side="left")),
                      clickmode="event+select", uirevision=depth)
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None)
    return fig.to_dict()


def input_marker(place: np.ndarray, label: str = "your input") -> dict:
    """The current input as a large star on a map (a Plotly trace dict; not selectable: no customdata)."""
    return dict(type="scattergl", x=[float(place[0])], y=[float(place[1])], mode="markers", name=label,
                hovertemplate=f"{label}<extra></extra>",
                marker=dict(size=22, symbol="star", color="black", line=dict(color="white", width=2)))


def with_input(figure: dict, place: np.ndarray, label: str = "your input") -> dict:
    """``map_figure``'s dict with the input's marker added (the cached dict is not changed)."""
    return {**figure, "data": [*figure["data"], input_marker(place, label)]}
