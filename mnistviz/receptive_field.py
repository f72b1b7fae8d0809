"""Receptive fields: which input pixels one unit of a layer can see.

Following the layers' kernels, strides and paddings from the input on, each layer's units along one
axis are described by three numbers (Dumoulin & Visin's convolution arithmetic):

- ``size``:  how many input pixels one unit depends on;
- ``jump``:  how far apart (in input pixels) two neighbouring units' windows start (the stride product);
- ``start``: where unit 0's window starts in the input (negative when padding reaches past the edge).

Unit ``i`` of a layer sees input rows ``start + i·jump`` … ``start + i·jump + size - 1``, clipped to the
28×28 image. ``window`` clips at every layer, not only at the image: a unit next to a right/bottom
padding, or a "valid" stride-2 layer that never reaches the last row, sees less (it walks the index
range back through each layer). With a dilated kernel the window is the bounding box of what it sees. A layer that works pixel by pixel (Reshape, batch norm, an activation,
dropout) keeps its input's numbers; Flatten, Dense and global pooling see the whole image.

For layer ``l`` with kernel ``k`` (dilated: ``d·(k-1)+1``), stride ``s`` and left padding ``p``:
``size_l = size_{l-1} + (k-1)·jump_{l-1}``, ``jump_l = jump_{l-1}·s``, ``start_l = start_{l-1} - p·jump_{l-1}``.
Keras' ``"same"`` padding pads ``max((out-1)·s + k - n, 0)`` in total, the smaller half on the left/top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .data import INPUT_SIDE


@dataclass(frozen=True)
class Field:
    """The receptive field of one layer's units, per axis as (rows, cols)."""

    layer: str  # the layer's name
    kind: str  # its Keras class, e.g. "Conv2D"
    size: tuple[int, int]  # input pixels one unit sees
    jump: tuple[int, int]  # input pixels between neighbouring units
    start: tuple[int, int]  # where unit (0, 0)'s window starts (may be negative: padding)
    grid: tuple[int, int]  # the layer's output height and width
    whole: bool = False  # the unit sees the whole input (Flatten, Dense, global pooling)
    # every sliding-window layer up to this one, per axis: (kernel, stride, left padding, input length)
    steps: tuple[tuple[tuple[int, int, int, int], tuple[int, int, int, int]], ...] = ()

    def window(self, row: int = 0, col: int = 0, side: int = INPUT_SIDE, down_to: int = 0) -> tuple[int, int, int, int]:
        """Unit (``row``, ``col``)'s input window as ``(top, bottom, left, right)``, bottom/right exclusive.
        With ``down_to`` = n, the window on the output of the layer after the first n sliding-window
        layers instead (``window_on``)."""
        if self.whole:
            return 0, side, 0, side
        spans = [[row, row], [col, col]]
        for step in reversed(self.steps[down_to:]):
            for axis, (k, s, pad, n) in enumerate(step):
                first, last = spans[axis]
                spans[axis] = [max(first * s - pad, 0), min(last * s - pad + k - 1, n - 1)]
        (top, bottom), (left, right) = spans
        return top, bottom + 1, left, right + 1


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _geometry(layer) -> tuple[tuple[int, int], tuple[int, int], str] | None:
    """(effective kernel, strides, padding) of a sliding-window layer; None for other layers."""
    import keras

    L = keras.layers
    if isinstance(layer, (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D)):
        k, d = _pair(layer.kernel_size), _pair(layer.dilation_rate)
        return (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1), _pair(layer.strides), layer.padding
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        return _pair(layer.pool_size), _pair(layer.strides), layer.padding
    return None


def _sees_everything(layer) -> bool:
    import keras

    L = keras.layers
    return isinstance(layer, (L.Flatten, L.Dense, L.GlobalMaxPooling2D, L.GlobalAveragePooling2D))


def _one_axis(n: int, size: int, jump: int, start: int, k: int, s: int, padding: str
              ) -> tuple[int, int, int, int, int]:
    """(out, size, jump, start, left padding) along one axis after a window ``k``, stride ``s``, ``padding``."""
    if padding == "same":
        out = math.ceil(n / s)
        pad_left = max((out - 1) * s + k - n, 0) // 2
    else:
        out = (n - k) // s + 1
        pad_left = 0
    return out, size + (k - 1) * jump, jump * s, start - pad_left * jump, pad_left


def fields(model, side: int = INPUT_SIDE) -> list[Field]:
    """The receptive field of every layer of ``model`` (a chain of Keras layers on a ``side``×``side``
    image; a flat 784 input reshaped first is fine), in layer order, the InputLayer left out."""
    import keras

    grid, size, jump, start = [side, side], [1, 1], [1, 1], [0, 0]
    whole = False
    steps: list = []
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        geometry = _geometry(layer)
        if whole or _sees_everything(layer):
            whole = True
        elif geometry is not None:
            kernel, strides, padding = geometry
            step = []
            for a in (0, 1):
                n = grid[a]
                grid[a], size[a], jump[a], start[a], pad = _one_axis(n, size[a], jump[a], start[a], kernel[a],
                                                                     strides[a], padding)
                step.append((kernel[a], strides[a], pad, n))
            steps.append(tuple(step))
        out.append(Field(layer.name, type(layer).__name__, tuple(size), tuple(jump), tuple(start), tuple(grid),
                         whole, tuple(steps)))
    return out


def field_of(model, layer_name: str) -> Field:
    """The receptive field of the layer called ``layer_name``."""
    for f in fields(model):
        if f.layer == layer_name:
            return f
    raise KeyError(f"model has no layer {layer_name!r}")


def window(model, layer_name: str, row: int, col: int) -> tuple[int, int, int, int]:
    """The input window ``(top, bottom, left, right)`` (exclusive ends, clipped to 28×28) of unit
    (``row``, ``col``) of layer ``layer_name``."""
    return field_of(model, layer_name).window(row, col)


def window_on(model, layer_name: str, row: int, col: int, on_layer: str) -> tuple[int, int, int, int]:
    """The window ``(top, bottom, left, right)`` of unit (``row``, ``col``) of ``layer_name`` on an earlier
    layer's feature maps, e.g. a conv2 unit on pool1's maps (exclusive ends, clipped to those maps)."""
    target, earlier = field_of(model, layer_name), field_of(model, on_layer)
    if target.whole:
        return 0, earlier.grid[0], 0, earlier.grid[1]
    return target.window(row, col, down_to=len(earlier.steps))
