"""The end of the network in NumPy: flatten indices, dense units, dropout, softmax and cross-entropy.

What the Flatten, Dense-and-dropout and Logits-and-softmax pages compute, with no Streamlit and no
Keras (their figures are ``mnistviz.figures.dense``). Shapes follow Keras' channels-last layout:
a block ``(H, W, C)`` such as pool2's ``(7, 7, 64)`` flattens to ``H·W·C`` values, element
``k = (row·W + col)·C + channel``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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


def softmax_at(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)``: T → 0 puts all of it on the largest logit, a large T spreads it evenly;
    the model itself uses T = 1."""
    if temperature <= 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    return softmax(np.asarray(logits, np.float64) / float(temperature))


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


# --- numbers written for people ----------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _mantissa_exponent(v: float, digits: int) -> tuple[str, int | None]:
    """``v`` to ``digits`` significant digits: plain text and ``None`` between 0.001 and 100,000,
    else a mantissa in [1, 10) and a power of ten."""
    v = float(v)
    if v == 0 or not math.isfinite(v):
        return f"{v:g}", None
    exponent = math.floor(math.log10(abs(v)))
    if -3 <= exponent < 5:
        return f"{v:.{max(digits - 1 - exponent, 0)}f}", None
    mantissa = round(v / 10.0 ** exponent, digits - 1)
    if abs(mantissa) >= 10:  # 9.9996 rounds up to 10.000
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits - 1}f}", exponent


def number_text(v: float, digits: int = 4) -> str:
    """A number a person can read at any size: ``0.9996``, ``3.127``, ``1.301 × 10⁷``, ``2.05 × 10⁻⁸``."""
    mantissa, exponent = _mantissa_exponent(v, digits)
    return mantissa if exponent is None else f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def number_latex(v: float, digits: int = 4) -> str:
    """The same in LaTeX: ``1.301 \\times 10^{7}`` (``1.301e+07`` would be read as algebra)."""
    mantissa, exponent = _mantissa_exponent(v, digits)
    return mantissa if exponent is None else rf"{mantissa} \times 10^{{{exponent}}}"

