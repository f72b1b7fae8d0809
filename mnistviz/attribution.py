"""Which pixels made the model decide, and how its answer moves when the drawing is nudged.

- ``occlusion(model, image)``: cover the 28×28 input with a black patch at every position (all
  positions in ONE batch through ``activations.probabilities``) and record how much each class's
  probability drops. Positive = this region supported the class; negative = it argued against it.
- ``saliency(model, image, digit)``: the gradient of one class's probability with respect to
  every input pixel (``tf.GradientTape``): how sensitive the answer is to each pixel.
- ``nudge(image, ...)``: rotate, shift and thicken (or thin) a (28, 28) digit.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import activations
from .data import INPUT_PIXELS, INPUT_SIDE as SIDE


@dataclass(frozen=True)
class Occlusion:
    """How much each class's probability drops when a patch covers each pixel."""

    drop: np.ndarray  # (10, 28, 28): baseline probability minus the covered probability, averaged per pixel
    baseline: np.ndarray  # (10,) probabilities of the uncovered image
    patch: int
    stride: int

    def for_digit(self, digit: int) -> np.ndarray:
        """The (28, 28) map of one class."""
        return self.drop[digit]


def occluded_batch(image: np.ndarray, patch: int = 6, stride: int = 3,
                   fill: float = 0.0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Copies of ``image`` (28, 28), each with a ``patch``×``patch`` square set to ``fill``; and each square's top-left corner."""
    image = np.asarray(image, np.float32).reshape(SIDE, SIDE)
    corners = [(r, c) for r in range(0, SIDE - patch + 1, stride) for c in range(0, SIDE - patch + 1, stride)]
    batch = np.repeat(image[None], len(corners), axis=0)
    for k, (r, c) in enumerate(corners):
        batch[k, r:r + patch, c:c + patch] = fill
    return batch, corners


def occlusion(model, image: np.ndarray, patch: int = 6, stride: int = 3, fill: float = 0.0) -> Occlusion:
    """Occlusion maps for all ten classes from one forward pass over every covered copy (8×8 positions by default)."""
    batch, corners = occluded_batch(image, patch, stride, fill)
    # Two calls (1 + 64 images) rather than one of 65: both sizes are ones the compiled path already has.
    baseline = activations.probabilities(model, np.asarray(image, np.float32).reshape(1, SIDE, SIDE))[0]
    covered = activations.probabilities(model, batch)
    total = np.zeros((10, SIDE, SIDE), np.float64)
    count = np.zeros((SIDE, SIDE), np.float64)
    for (r, c), p in zip(corners, covered):
        total[:, r:r + patch, c:c + patch] += (baseline - p)[:, None, None]
        count[r:r + patch, c:c + patch] += 1
    drop = (total / np.maximum(count, 1)).astype(np.float32)
    return Occlusion(drop=drop, baseline=baseline, patch=patch, stride=stride)


_gradients: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _gradient_fn(model):
    """A compiled ``(x (1, 784), digit) → ∂ p(digit) / ∂ x`` for ``model`` (built once per model)."""
    fn = _gradients.get(model)
    if fn is None:
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([1, INPUT_PIXELS], tf.float32), tf.TensorSpec([], tf.int32)])
        def fn(x, digit):
            with tf.GradientTape() as tape:
                tape.watch(x)
                p = model(x, training=False)[0, digit]
            return tape.gradient(p, x)

        _gradients[model] = fn
    return fn


def saliency(model, image: np.ndarray, digit: int) -> np.ndarray:
    """|∂ p(digit) / ∂ pixel| over the (28, 28) input (TensorFlow backend), scaled to a peak of 1."""
    grad = _gradient_fn(model)(activations.as_batch(image)[:1], np.int32(digit)).numpy()
    grad = np.abs(grad).reshape(SIDE, SIDE)
    peak = float(grad.max())
    return (grad / peak if peak > 0 else grad).astype(np.float32)


def nudge(image: np.ndarray, angle: float = 0.0, dx: float = 0.0, dy: float = 0.0, thicken: int = 0) -> np.ndarray:
    """Rotate by ``angle`` degrees (anticlockwise) about the centre, shift by (``dx``, ``dy``) pixels
    (right, down), then thicken (``thicken`` > 0, grey dilation) or thin (< 0, grey erosion) the
    strokes by that many pixels. (28, 28) in [0, 1] → (28, 28) float32 in [0, 1]."""
    out = np.asarray(image, np.float32).reshape(SIDE, SIDE)
    if angle:
        out = ndimage.rotate(out, angle, reshape=False, order=1, mode="constant", cval=0.0)
    if dx or dy:
        out = ndimage.shift(out, (dy, dx), order=1, mode="constant", cval=0.0)
    cross = ndimage.generate_binary_structure(2, 1)  # grow/shrink by one pixel up, down, left, right per step
    grow = ndimage.grey_dilation if thicken > 0 else ndimage.grey_erosion
    for _ in range(abs(int(thicken))):
        out = grow(out, footprint=cross, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
