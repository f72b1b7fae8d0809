"""One training step, written out: the loss for one digit and its label, the gradient of the first conv
layer's kernels, and those kernels after one plain gradient-descent step.

``one_step(model, image, label, learning_rate)`` works on a copy of the model: a model shared between
sessions (the default, a cached lab run) is never changed. ``learning_curve`` repeats the step a few times
at several learning rates, the "too high a learning rate" demo: on that one digit every rate lowers the
loss, a large one at once; but the accuracy on other digits shows what a step too large costs: it learns
this digit and wrecks what the model knew.

Everything runs in inference mode (dropout off), so a step is the same every time it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import INPUT_PIXELS


@dataclass(frozen=True)
class TrainingStep:
    loss: float  # sparse categorical cross-entropy of the digit before the step (−log p(label))
    loss_after: float  # the same after one step
    layer: str  # the conv layer whose kernels are shown ("" for a model without one)
    kernel: np.ndarray | None  # (k, k, c_in, filters) before the step
    gradient: np.ndarray | None  # ∂ loss / ∂ kernel, same shape
    kernel_after: np.ndarray | None  # kernel − learning_rate · gradient
    learning_rate: float


def _copy(model):
    import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _first_conv(model):
    import keras

    return next((layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)), None)


def _step(model, x, y, learning_rate: float):
    """One plain gradient-descent step on every trainable weight of ``model`` (in place); the loss before and
    the gradients, in the order of ``model.trainable_variables``."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=False))
    grads = tape.gradient(loss, model.trainable_variables)
    for var, grad in zip(model.trainable_variables, grads):
        if grad is not None:
            var.assign(var - learning_rate * grad)
    return float(loss), grads


def _loss(model, x, y) -> float:
    import keras

    return float(keras.losses.SparseCategoricalCrossentropy()(y, model(x, training=False)))


def one_step(model, image: np.ndarray, label: int, learning_rate: float) -> TrainingStep:
    """The loss of ``image`` (28, 28) in [0, 1] with its true ``label``, the first conv layer's kernel gradient,
    and the kernels and the loss after one step of ``w ← w − learning_rate · ∂loss/∂w`` (on a copy)."""
    copy = _copy(model)
    x = np.asarray(image, np.float32).reshape(1, INPUT_PIXELS)
    y = np.array([int(label)])
    conv = _first_conv(copy)
    before = np.array(conv.kernel.numpy()) if conv is not None else None
    loss, grads = _step(copy, x, y, learning_rate)
    gradient = None
    if conv is not None:
        index = next(i for i, v in enumerate(copy.trainable_variables) if v is conv.kernel)
        gradient = np.asarray(grads[index], np.float32)
    return TrainingStep(loss, _loss(copy, x, y), conv.name if conv is not None else "", before, gradient,
                        np.array(conv.kernel.numpy()) if conv is not None else None, float(learning_rate))


@dataclass(frozen=True)
class Curve:
    loss: list[float]  # this digit's loss before each step and after the last (steps + 1 values)
    others: list[float]  # the accuracy on the other digits at the same moments


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(model(x, training=False)).argmax(axis=1) == y).mean())


def learning_curve(model, image: np.ndarray, label: int, learning_rates, x_other: np.ndarray, y_other: np.ndarray,
                   steps: int = 3) -> dict[float, Curve]:
    """For each learning rate, ``steps`` repeated steps on this one digit (each on a fresh copy of ``model``):
    its loss, and the accuracy on other digits ``x_other`` (N, 28, 28) in [0, 1] with labels ``y_other``."""
    x = np.asarray(image, np.float32).reshape(1, INPUT_PIXELS)
    y = np.array([int(label)])
    xo = np.asarray(x_other, np.float32).reshape(-1, INPUT_PIXELS)
    yo = np.asarray(y_other).reshape(-1)
    out = {}
    copy, start = _copy(model), model.get_weights()
    for lr in learning_rates:
        copy.set_weights(start)  # each rate starts from the model as it is
        loss, others = [], []
        for _ in range(steps):
            others.append(_accuracy(copy, xo, yo))
            loss.append(_step(copy, x, y, lr)[0])
        out[float(lr)] = Curve(loss + [_loss(copy, x, y)], others + [_accuracy(copy, xo, yo)])
    return out
