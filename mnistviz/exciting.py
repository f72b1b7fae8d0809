"""What one unit looks for, answered with data: the test digits (dense units) and the input patches (conv
filters) that excite it most.

A dense unit's 1024 or 3136 weights, drawn as tiles, look like noise; the digits that make it fire
hardest show what it responds to. For a conv filter, each of its feature map's units sees only a small
patch of the digit (its receptive field, ``mnistviz.receptive_field``), so the answer is the patches at
the strongest places of the map, at most one per digit (k patches from k different digits).

``summarise(model, digits)`` runs the digits ``(N, 28, 28)`` through ``activations.stages`` (big batches
go to its bulk worker) once and keeps, for every layer, each unit's or filter's ``K_MAX`` strongest
digits: a few kilobytes per layer instead of the activations themselves (conv1 of 2000 digits alone is
200 MB). The pass walks the digits in chunks of ``CHUNK`` so those activations never sit in memory all
at once. ``top_digits`` and ``top_patches`` then read the summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations
from . import receptive_field as rf
from .data import INPUT_SIDE

K_MAX = 16  # strongest digits kept per unit/filter
CHUNK = 500  # digits per forward call (each above activations.JIT_MAX_BATCH, so on the bulk worker)


@dataclass(frozen=True)
class LayerTop:
    """One layer's strongest digits per unit (dense-like output ``(N, units)``) or per filter (feature
    maps ``(N, H, W, filters)``; there a digit counts with the strongest place of its map)."""

    layer: str  # the layer's name, e.g. "conv1"
    kind: str  # its Keras class, e.g. "Conv2D"
    digit: np.ndarray  # (k, units) int: indices into the digits, strongest first
    value: np.ndarray  # (k, units) float32: the activation there
    row: np.ndarray | None  # (k, units) int: where in the map (feature maps only, else None)
    col: np.ndarray | None  # (k, units) int

    @property
    def is_map(self) -> bool:
        return self.row is not None


@dataclass(frozen=True)
class Exciting:
    """Every layer's ``LayerTop`` for a model over ``n_digits`` digits."""

    layers: dict[str, LayerTop]
    n_digits: int


@dataclass(frozen=True)
class Patch:
    """One input patch that excites a conv filter: where it is and what it holds."""

    digit: int  # index into the digits
    row: int  # the unit's place in the feature map
    col: int
    activation: float  # the filter's output there
    window: tuple[int, int, int, int]  # (top, bottom, left, right) in the 28×28 digit, exclusive ends
    pixels: np.ndarray  # (bottom - top, right - left) float32 in [0, 1]: the digit cropped to the window
    framed: np.ndarray  # (field rows, field cols) float32: the same at its place in the full receptive field,
    #                     0 where the field reaches past the image (what 'same' padding feeds the unit)


def _images(digits: np.ndarray) -> np.ndarray:
    """Digits ``(N, 28, 28)`` (uint8 0-255 or float in [0, 1]) → float32 ``(N, 28, 28)`` in [0, 1]."""
    x = np.asarray(digits)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32, copy=False)
    return x.reshape(-1, INPUT_SIDE, INPUT_SIDE)


def _per_digit(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """One chunk's stage output → (score ``(n, units)``, row, col): a map's strongest place per digit and filter."""
    if array.ndim == 4:
        n, h, w, c = array.shape
        flat = array.reshape(n, h * w, c)
        where = flat.argmax(axis=1)  # (n, c), the first strongest place in row-major order
        score = np.take_along_axis(flat, where[:, None, :], axis=1)[:, 0, :]
        return score.astype(np.float32), (where // w).astype(np.int32), (where % w).astype(np.int32)
    return array.reshape(len(array), -1).astype(np.float32), None, None


def summarise(model, digits: np.ndarray, k: int = K_MAX, chunk: int = CHUNK) -> Exciting:
    """Each layer's ``k`` strongest digits per unit or filter, from one pass of ``digits`` ``(N, 28, 28)``
    through ``model`` (``activations.stages``). Ties go to the lower digit index."""
    x = _images(digits)
    parts: dict[str, list] = {}
    kinds: dict[str, str] = {}
    for start in range(0, len(x), chunk):
        for stage in activations.stages(model, x[start:start + chunk]):
            parts.setdefault(stage.name, []).append(_per_digit(stage.array))
            kinds[stage.name] = stage.kind
    layers = {}
    for name, chunks in parts.items():
        score = np.concatenate([c[0] for c in chunks])  # (N, units)
        order = np.argsort(-score, axis=0, kind="stable")[:k]  # (k, units)
        pick = lambda a: np.take_along_axis(a, order, axis=0)  # noqa: E731
        is_map = chunks[0][1] is not None
        layers[name] = LayerTop(name, kinds[name], order.astype(np.int32), pick(score),
                                pick(np.concatenate([c[1] for c in chunks])) if is_map else None,
                                pick(np.concatenate([c[2] for c in chunks])) if is_map else None)
    return Exciting(layers, len(x))


def top_digits(summary: Exciting, layer: str, unit: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` digits that excite unit ``unit`` of ``layer`` most: (indices ``(k,)``, activations ``(k,)``),
    highest first. For a feature-map layer a digit's activation is its map's strongest place."""
    top = summary.layers[layer]
    if k > len(top.digit):
        raise ValueError(f"only the {len(top.digit)} strongest digits were kept (asked for {k})")
    return top.digit[:k, unit].copy(), top.value[:k, unit].copy()


def top_patches(model, summary: Exciting, digits: np.ndarray, layer: str, filter_: int, k: int = 8) -> list[Patch]:
    """The ``k`` input patches that excite filter ``filter_`` of the feature-map layer ``layer`` most, from ``k``
    different digits (the same ``digits`` ``(N, 28, 28)`` the summary was made from), strongest first, each
    cropped to the receptive field of the unit where its digit's map peaks."""
    top = summary.layers[layer]
    if not top.is_map:
        raise ValueError(f"{layer} ({top.kind}) has no feature maps")
    if k > len(top.digit):
        raise ValueError(f"only the {len(top.digit)} strongest digits were kept (asked for {k})")
    field = rf.field_of(model, layer)
    images = _images(digits)
    out = []
    for j in range(min(k, summary.n_digits)):
        d, r, c = int(top.digit[j, filter_]), int(top.row[j, filter_]), int(top.col[j, filter_])
        t, b, left, right = field.window(r, c)
        pixels = images[d, t:b, left:right].copy()
        framed = np.zeros(field.size, np.float32)
        t0, l0 = field.start[0] + r * field.jump[0], field.start[1] + c * field.jump[1]  # the unclipped corner
        framed[t - t0:b - t0, left - l0:right - l0] = pixels
        out.append(Patch(d, r, c, float(top.value[j, filter_]), (t, b, left, right), pixels, framed))
    return out


def patch_tiles(patches: list[Patch], side: int = INPUT_SIDE, frame: float = 0.25) -> np.ndarray:
    """Patches as tiles ``(k, side, side)`` for a digit gallery: each framed patch blown up by the largest whole
    factor that fits, centred on a ``frame``-grey square so the edges of a smaller patch show against the black
    gallery (a 5×5 conv1 patch becomes 25×25, a 14×14 conv2 patch 28×28)."""
    if not patches:
        return np.zeros((0, side, side), np.float32)
    h, w = patches[0].framed.shape
    factor = max(1, side // max(h, w))
    tiles = np.full((len(patches), side, side), frame, np.float32)
    for i, p in enumerate(patches):
        big = np.kron(p.framed, np.ones((factor, factor), np.float32))[:side, :side]
        top, left = (side - big.shape[0]) // 2, (side - big.shape[1]) // 2
        tiles[i, top:top + big.shape[0], left:left + big.shape[1]] = big
    return tiles
