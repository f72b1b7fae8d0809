"""Look inside a model's convolution and pooling layers with plain NumPy, number by number.

The walkthrough pages use it to show where one output pixel comes from:

- ``conv_layers`` / ``pool_layers`` / ``feeding_stage``: find layers by their Keras class, and the
  stage that feeds them (the one before, in the stage order ``activations`` runs them).
- ``kernels``: a ``Conv2D``'s weights as ``(k, k, c_in, filters)`` plus its ``(filters,)`` bias.
- ``conv_pixel``: the padded ``k×k×c_in`` window under output pixel ``(row, col)``, the products
  with one filter, their sum per input channel and in total, the bias and the activation; the
  result equals Keras' own output for ``'same'`` and ``'valid'`` padding (stride 1).
- ``zero_channel``: a stage tensor with one or more channels switched off.

Padding and pooling arithmetic live in ``mnistviz.convarith`` (``axis_padding``, ``pool2d``);
this module applies them to a real model's multi-channel tensors.

Feature maps here are one image's ``(H, W, C)`` (the batch axis dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .convarith import axis_padding

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
}


# --- finding layers ----------------------------------------------------------------------------

def conv_layers(model) -> list:
    """The model's ``Conv2D`` layers, in order."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def pool_layers(model) -> list:
    """The model's ``MaxPooling2D`` and ``AveragePooling2D`` layers, in order."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))]


def pool_mode(layer) -> str:
    """``"average"`` for an ``AveragePooling2D`` layer, ``"max"`` otherwise (``convarith.pool2d``'s modes)."""
    import keras

    return "average" if isinstance(layer, keras.layers.AveragePooling2D) else "max"


def feeding_stage(stage_names: list[str], name: str) -> str:
    """The stage whose output feeds stage ``name``: the one before it in ``stage_names`` (the order
    ``activations.stages`` returns, i.e. the model's layers; every model here is one chain of layers).

    ``ValueError`` for the first stage, which reads the raw input rather than another stage.
    """
    i = stage_names.index(name)
    if i == 0:
        raise ValueError(f"{name} is the first stage: it reads the model's input")
    return stage_names[i - 1]


def activation_name(layer) -> str:
    """``'relu'``, ``'linear'``, … of a layer with an ``activation`` (``'linear'`` when it has none)."""
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", "linear") if fn is not None else "linear"


def kernels(layer) -> tuple[np.ndarray, np.ndarray]:
    """A ``Conv2D``'s kernels ``(k, k, c_in, filters)`` and biases ``(filters,)`` (zeros without a bias)."""
    weights = layer.get_weights()
    kernel = np.asarray(weights[0], dtype=np.float32)
    bias = np.asarray(weights[1], dtype=np.float32) if len(weights) > 1 else np.zeros(kernel.shape[-1], np.float32)
    return kernel, bias


# --- convolution -------------------------------------------------------------------------------

def pad_input(x: np.ndarray, k: int, padding: str, stride: int = 1) -> np.ndarray:
    """``(H, W, C)`` → zero-padded as Keras pads it for a ``k×k`` kernel at ``stride`` (unchanged for ``'valid'``)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    rows, cols = (axis_padding(n, k, stride, padding) for n in x.shape[:2])
    return np.pad(x, (rows, cols, (0, 0)))


@dataclass(frozen=True)
class ConvPixel:
    """How one output pixel ``(row, col)`` of filter ``f`` is made."""

    row: int
    col: int
    filter: int
    window: np.ndarray  # (k, k, c_in): the padded input under the kernel
    weights: np.ndarray  # (k, k, c_in): the filter's kernel
    products: np.ndarray  # (k, k, c_in): window · weights, element by element
    per_channel: np.ndarray  # (c_in,): the products summed per input channel
    total: float  # sum of all products
    bias: float
    pre_activation: float  # total + bias
    activation: str
    output: float  # activation(pre_activation)


def conv_pixel(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, row: int, col: int, f: int,
               padding: str = "same", activation: str = "relu", stride: int = 1) -> ConvPixel:
    """The arithmetic of output ``(row, col)`` of filter ``f`` for input ``x`` ``(H, W, c_in)``: its window starts
    at ``(row·stride, col·stride)`` of the padded input."""
    k = kernel.shape[0]
    xp = pad_input(x, k, padding, stride)
    out_h, out_w = (xp.shape[0] - k) // stride + 1, (xp.shape[1] - k) // stride + 1
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise IndexError(f"({row}, {col}) is outside the {out_h}×{out_w} output")
    window = xp[row * stride:row * stride + k, col * stride:col * stride + k, :]
    weights = np.asarray(kernel[..., f], dtype=np.float32)
    products = window * weights
    per_channel = products.sum(axis=(0, 1))
    total = float(per_channel.sum())
    b = float(bias[f])
    pre = total + b
    out = float(ACTIVATIONS[activation](np.float64(pre)))
    return ConvPixel(row, col, f, window, weights, products, per_channel, total, b, pre, activation, out)


def conv_forward(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, padding: str = "same",
                 activation: str = "relu", stride: int = 1) -> np.ndarray:
    """The whole layer in NumPy: ``(H, W, c_in)`` → ``(H', W', filters)``, for checking against Keras."""
    k = kernel.shape[0]
    xp = pad_input(x, k, padding, stride)
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(0, 1))[::stride, ::stride]  # (H', W', c_in, k, k)
    z = np.einsum("hwcij,ijcf->hwf", windows, kernel, optimize=True) + bias
    return ACTIVATIONS[activation](z).astype(np.float32)


def zero_channel(tensor: np.ndarray, channels) -> np.ndarray:
    """A copy of a stage tensor ``(N, H, W, C)`` with the given channel(s) set to 0 (a filter switched off)."""
    out = np.array(tensor, dtype=np.float32, copy=True)
    out[..., list(np.atleast_1d(channels))] = 0.0
    return out


# --- small helpers for the pages ---------------------------------------------------------------

def samples_per_class(x: np.ndarray, y: np.ndarray, per_class: int = 10, seed: int = 0) -> np.ndarray:
    """``per_class`` random images of each digit, as maps ``(28, 28, 10·per_class)`` ordered digit by digit.

    ``figures.data.samples_by_class`` tiles them into one image with a row per digit.
    """
    rng = np.random.default_rng(seed)
    picks = []
    for d in range(10):
        idx = np.flatnonzero(np.asarray(y) == d)
        chosen = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        imgs = [np.asarray(x[i], np.float32) for i in chosen]
        imgs += [np.zeros((28, 28), np.float32)] * (per_class - len(imgs))
        picks.extend(imgs)
    return np.stack(picks, axis=-1)


# --- a click on a feature map ------------------------------------------------------------------------

def clicked_map(points: list[dict]) -> int | None:
    """The map a click on a ``figures.conv.pickable_mosaic`` selected (Streamlit's ``selection.points``;
    each point of the mosaic carries its map's number), or None."""
    for p in points:
        if isinstance(p.get("customdata"), (int, float)) and p.get("curve_number", 1) == 1:
            return int(p["customdata"])
    return None


def clicked_cell(points: list[dict]) -> tuple[int, int] | None:
    """The ``(row, column)`` a click on a ``figures.conv.pickable_cells`` map selected, or None."""
    for p in points:
        if "x" in p and "y" in p and p.get("curve_number", 1) >= 1:
            return int(round(p["y"])), int(round(p["x"]))
    return None
