"""The end of the network in NumPy: flatten indices, dense units, dropout, softmax and cross-entropy.

What the Flatten, Dense-and-dropout and Logits-and-softmax pages compute, with no Streamlit and no
Keras (Plotly only for the figures at the bottom). Shapes follow Keras' channels-last layout:
a block ``(H, W, C)`` such as pool2's ``(7, 7, 64)`` flattens to ``H·W·C`` values, element
``k = (row·W + col)·C + channel``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .figures import compact, tile

# --- flatten: index k ↔ (row, col, channel) ------------------------------------------------------


def flattened_size(hwc: tuple[int, ...]) -> int:
    """``hwc[0] * hwc[1] * hwc[2]``, the course's length of the flattened vector (3,136 for 7×7×64)."""
    return int(np.prod([int(d) for d in hwc]))


def flat_index(row: int, col: int, channel: int, hwc: tuple[int, int, int]) -> int:
    """Where ``(row, col, channel)`` of an ``(H, W, C)`` block lands after Flatten: ``(row·W + col)·C + channel``."""
    h, w, c = (int(d) for d in hwc)
    if not (0 <= row < h and 0 <= col < w and 0 <= channel < c):
        raise IndexError(f"({row}, {col}, {channel}) is outside a {h}×{w}×{c} block")
    return (row * w + col) * c + channel


def unflat_index(k: int, hwc: tuple[int, int, int]) -> tuple[int, int, int]:
    """Which ``(row, col, channel)`` of an ``(H, W, C)`` block element ``k`` of the flattened vector came from."""
    h, w, c = (int(d) for d in hwc)
    if not 0 <= k < h * w * c:
        raise IndexError(f"element {k} is outside a vector of {h * w * c} values")
    pixel, channel = divmod(int(k), c)
    row, col = divmod(pixel, w)
    return row, col, channel


def strip_rows(flat: np.ndarray, hwc: tuple[int, int, int]) -> np.ndarray:
    """The flattened vector ``(H·W·C,)`` as a strip ``(H·W, C)``: one row per pixel position, one column per channel."""
    h, w, c = (int(d) for d in hwc)
    return np.asarray(flat).reshape(h * w, c)


# --- dense layers: blocks, incoming weights ---------------------------------------------------------


@dataclass(frozen=True)
class DenseBlock:
    """One hidden dense layer of a stage list: the Dense itself, where its activation is read, its dropout."""

    dense: str  # the Dense layer's name, e.g. "dense"
    output: str  # the stage holding the activated output (the Dense itself, or its Activation after BN)
    dropout: str | None  # the Dropout stage after it, if any
    source: str | None  # the stage feeding the Dense (e.g. "flatten"), None when it reads the input pixels
    index: int  # position of the Dense among the stages


def hidden_dense_blocks(kinds: list[str], names: list[str]) -> list[DenseBlock]:
    """Hidden dense layers, found by layer class: every ``Dense`` except the last one (the logits)."""
    dense_at = [i for i, k in enumerate(kinds) if k == "Dense"]
    blocks = []
    for i in dense_at[:-1]:
        out, drop = names[i], None
        j = i + 1
        while j < len(kinds) and kinds[j] in ("BatchNormalization", "Activation"):
            out = names[j]
            j += 1
        if j < len(kinds) and kinds[j] == "Dropout":
            drop = names[j]
        blocks.append(DenseBlock(names[i], out, drop, names[i - 1] if i > 0 else None, i))
    return blocks


def incoming_shape(kinds: list[str], shapes: list[tuple], index: int) -> tuple[tuple[int, ...], str | None]:
    """The shape a Dense layer's inputs had before being flattened, and the stage that had it.

    After a ``Flatten`` it is the block before it (pool2's ``(7, 7, 64)``); a Dense reading the raw
    pixels sees a ``(28, 28, 1)`` image; after another dense layer it is a vector ``(n,)``.
    ``shapes`` carry the batch axis, as ``Stage.shape`` does; returns (shape, that stage's position or None).
    """
    if index == 0:
        return (28, 28, 1), None
    prev = index - 1
    if kinds[prev] == "Flatten" and prev > 0:
        return tuple(int(d) for d in shapes[prev - 1][1:]), prev - 1
    if kinds[prev] == "Flatten":
        return (28, 28, 1), None
    return tuple(int(d) for d in shapes[prev][1:]), prev


def unit_weights(kernel: np.ndarray, unit: int, shape: tuple[int, ...]) -> np.ndarray:
    """Unit ``unit``'s incoming weights (column of the ``(n_in, units)`` kernel) reshaped to ``shape``, e.g. (7, 7, 64)."""
    kernel = np.asarray(kernel)
    if kernel.shape[0] != flattened_size(shape):
        raise ValueError(f"a kernel with {kernel.shape[0]} inputs cannot be reshaped to {shape}")
    return kernel[:, int(unit)].reshape(shape)


def unit_preactivation(kernel: np.ndarray, bias: np.ndarray, x: np.ndarray, unit: int) -> float:
    """``Σ wᵢ·xᵢ + b`` for one unit: the number its activation (ReLU) is applied to."""
    x = np.asarray(x, np.float64).reshape(-1)
    return float(x @ np.asarray(kernel, np.float64)[:, int(unit)] + float(bias[int(unit)]))


def top_units(activations: np.ndarray, n: int = 8) -> np.ndarray:
    """Indices of the ``n`` most active units, strongest first."""
    a = np.asarray(activations).reshape(-1)
    return np.argsort(-a, kind="stable")[:n]


def grid_shape(n: int) -> tuple[int, int]:
    """A rows × cols grid for ``n`` units: 32×32 for 1024, 16×32 for 512, 5×6 for 30.

    The most square exact rectangle; if that is too skinny (e.g. a prime ``n``), the nearest square
    with a few empty cells at the end.
    """
    if n < 1:
        raise ValueError("need at least one unit")
    rows = max(d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0)
    cols = n // rows
    if cols > 4 * rows and n > 8:
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
    return rows, cols


def as_grid(values: np.ndarray, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A vector ``(n,)`` laid out row by row on ``grid_shape(n)``; empty cells are NaN."""
    v = np.asarray(values, np.float32).reshape(-1)
    rows, cols = shape or grid_shape(len(v))
    out = np.full(rows * cols, np.nan, np.float32)
    out[: len(v)] = v
    return out.reshape(rows, cols)


# --- dropout ---------------------------------------------------------------------------------------


def dropout_mask(n: int, rate: float, seed: int) -> np.ndarray:
    """One training step's keep-mask ``(n,)``: each unit survives with probability 1 − rate (seeded NumPy RNG)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    return np.random.default_rng(seed).random(n) >= rate


def apply_dropout(x: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training-mode dropout as Keras does it: zero the dropped units, scale the survivors by 1/(1 − rate).

    Returns (output, keep-mask), both shaped like ``x``.
    """
    x = np.asarray(x, np.float32)
    keep = dropout_mask(x.size, rate, seed).reshape(x.shape)
    return np.where(keep, x / (1.0 - rate), 0.0).astype(np.float32), keep


# --- logits, softmax, cross-entropy ---------------------------------------------------------------


def softmax(logits: np.ndarray) -> np.ndarray:
    """``exp(zᵢ) / Σⱼ exp(zⱼ)`` over the last axis (computed after subtracting the max, which changes nothing)."""
    z = np.asarray(logits, np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``zᵢ − log Σⱼ exp(zⱼ)``: the log-probabilities, exact even where a probability rounds to 0."""
    z = np.asarray(logits, np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def cross_entropy(logits: np.ndarray, label: int) -> float:
    """Softmax cross-entropy of one example: ``L = −log p_label`` (0 when certain and right)."""
    return float(-log_softmax(np.asarray(logits).reshape(-1))[int(label)])


@dataclass(frozen=True)
class SoftmaxTerms:
    """Softmax written out for one input: each logit, its exponential, the sum, each probability."""

    logits: np.ndarray  # (10,)
    shift: float  # subtracted from every logit before exp (0 unless the logits are large)
    exps: np.ndarray  # exp(logit − shift)
    total: float  # Σ exps
    probs: np.ndarray  # exps / total


def softmax_terms(logits: np.ndarray, max_plain: float = 60.0) -> SoftmaxTerms:
    """The pieces of softmax for a person to read; shifted by the max only when ``exp`` would get huge."""
    z = np.asarray(logits, np.float64).reshape(-1)
    shift = float(z.max()) if np.abs(z).max() > max_plain else 0.0
    e = np.exp(z - shift)
    return SoftmaxTerms(z, shift, e, float(e.sum()), e / e.sum())


# --- Plotly figures for these pages ----------------------------------------------------------------
# (Kept here because they need the index logic above; candidates for mnistviz.figures.)

def flatten_strip_figure(flat: np.ndarray, hwc: tuple[int, int, int], k: int | None = None,
                         title: str | None = None, height: int = 520):
    """The flattened vector as ONE heatmap ``(H·W, C)``: row = pixel position row·W + col, column = channel.

    Reading it left to right, top to bottom is reading elements 0, 1, 2, … of the vector; hover shows
    ``k`` and the ``(row, col, channel)`` it came from. Element ``k`` is outlined.
    """
    import plotly.graph_objects as go

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
        fig.add_shape(type="rect", x0=q - 0.5, x1=q + 0.5, y0=r - 0.5, y1=r + 0.5,
                      line=dict(color="#ff2d55", width=3))
    return compact(fig, height, title)


def tile_coordinates(hwc: tuple[int, int, int], cols: int, pad: int = 1) -> np.ndarray:
    """For a mosaic made by ``mnistviz.figures.tile``: ``(channel, row, col)`` under every mosaic pixel (−1 on borders)."""
    h, w, c = (int(d) for d in hwc)
    rows = int(math.ceil(c / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, 3), -1, np.int32)
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    for ch in range(c):
        gr, gc = divmod(ch, cols)
        y, x = gr * (h + pad), gc * (w + pad)
        out[y:y + h, x:x + w, 0] = ch
        out[y:y + h, x:x + w, 1] = rr
        out[y:y + h, x:x + w, 2] = cc
    return out


def block_mosaic_figure(block: np.ndarray, highlight: tuple[int, int, int] | None = None, diverging: bool = False,
                        title: str | None = None, height: int = 520, value_name: str = "value"):
    """Every channel of an ``(H, W, C)`` block tiled into ONE heatmap (channel c at grid cell c//cols, c%cols).

    Hover names channel, row and column; ``highlight`` outlines one ``(row, col, channel)`` cell and its map.
    Sequential colours for activations, a diverging scale centred on 0 for weights (one scale for all maps).
    """
    import plotly.graph_objects as go


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
        fig.add_shape(type="rect", x0=x - 0.5, x1=x + w - 0.5, y0=y - 0.5, y1=y + h - 0.5,
                      line=dict(color="#ffffff", width=1.5))
        fig.add_shape(type="rect", x0=x + q - 0.5, x1=x + q + 0.5, y0=y + r - 0.5, y1=y + r + 0.5,
                      line=dict(color="#ff2d55", width=3))
    return compact(fig, height, title)


def unit_grid_figure(values: np.ndarray, title: str | None = None, height: int = 420, zmax: float | None = None,
                     value_name: str = "activation", dropped: np.ndarray | None = None):
    """A layer's units as ONE heatmap on ``grid_shape(n)`` (unit index on hover; sequential colours).

    ``dropped`` (a boolean mask) greys those units out: they are NaN, painted by the background.
    """
    import plotly.graph_objects as go

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


def sorted_bars_figure(values: np.ndarray, title: str | None = None, height: int = 260, value_name: str = "activation"):
    """Every unit's value as a bar, strongest first (hover names the unit)."""
    import plotly.graph_objects as go

    v = np.asarray(values, np.float32).reshape(-1)
    order = np.argsort(-v, kind="stable")
    fig = go.Figure(go.Bar(x=np.arange(len(v)), y=v[order], customdata=order, marker_color="#3b5bdb",
                           marker_line_width=0,
                           hovertemplate=f"rank %{{x}}: unit %{{customdata}}<br>{value_name} %{{y:.3f}}<extra></extra>"))
    fig.update_layout(bargap=0)
    fig.update_xaxes(title="units, strongest first")
    fig.update_yaxes(title=value_name)
    return compact(fig, height, title)


def logit_bars_figure(logits: np.ndarray, title: str | None = None, height: int = 260):
    """The ten logits as bars (red above 0, blue below), the largest in bold colour."""
    import plotly.graph_objects as go

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
