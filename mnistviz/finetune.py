"""Teach a model your handwriting: fine-tune a copy of it on a person's labelled drawings, mixed with
sample digits so that it does not forget the rest, and score it before and after."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

import numpy as np

from .activations import probabilities
from .data import INPUT_SIDE, scale
from .userdata import Digits

MIX_DIGITS = 1000  # sample digits mixed in per epoch, so the model keeps what it knew
OWN_SHARE = 0.25  # the person's drawings (augmented copies) make up this share of each epoch
LEARNING_RATE = 1e-3
BATCH_SIZE = 64


@dataclass(frozen=True)
class FineTuneResult:
    """The fine-tuned copy and its accuracy on the person's digits and on held-out sample digits."""

    model: object
    own_before: float
    own_after: float
    held_before: float
    held_after: float
    n_own: int
    n_held: int
    epochs: int
    seconds: float


class Busy(RuntimeError):
    """Every fine-tuning slot of this process is taken; the message is one sentence for the page."""


# Fine-tunings share the lab's limit on trainings at once, so a class pressing "Fine-tune" together
# cannot take every core from the people drawing.
_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _slot() -> threading.BoundedSemaphore:
    global _slots
    with _slots_lock:
        if _slots is None:
            from .jobs import train_slots

            _slots = threading.BoundedSemaphore(train_slots())
        return _slots


def weights_key(model, parent: str) -> str:
    """A content key for a fine-tuned model: ``"finetune:"`` + a hash of its parent's key and its weights."""
    h = hashlib.sha256(parent.encode())
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return "finetune:" + h.hexdigest()[:24]


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(probabilities(model, x).argmax(axis=1) == np.asarray(y).reshape(-1)))


def _outputs_probabilities(model, x: np.ndarray) -> bool:
    out = np.asarray(model(x[:8], training=False))
    return bool(out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))


def _training_set(own: Digits, mix_x: np.ndarray, mix_y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(M, 28, 28)`` in [0, 1] with labels: ``MIX_DIGITS`` sample digits plus augmented copies of
    the person's drawings (random rotation, shift and zoom, as the default model was trained)."""
    from .training import augmenter

    rng = np.random.default_rng(seed)
    pick = rng.choice(len(mix_x), size=min(MIX_DIGITS, len(mix_x)), replace=False)
    n_own = max(len(own), int(round(len(pick) * OWN_SHARE / (1 - OWN_SHARE))))
    own_idx = np.resize(np.arange(len(own)), n_own)
    own_x = scale(own.x[own_idx]).reshape(-1, INPUT_SIDE, INPUT_SIDE, 1)
    own_x = np.asarray(augmenter(seed)(own_x, training=True)).reshape(-1, INPUT_SIDE, INPUT_SIDE)
    x = np.concatenate([scale(mix_x[pick]), np.clip(own_x, 0.0, 1.0)])
    y = np.concatenate([np.asarray(mix_y)[pick], own.y[own_idx]]).astype(np.int32)
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order]


def fine_tune(model, own: Digits, mix_x: np.ndarray, mix_y: np.ndarray, held_x: np.ndarray,
              held_y: np.ndarray, epochs: int = 1, seed: int = 0, wait_s: float = 60.0) -> FineTuneResult:
    """Fine-tune a copy of ``model`` (never ``model`` itself) on ``own`` digits mixed with sample digits
    ``mix_x`` ``(N, 28, 28)``; accuracy before and after on ``own`` and on ``held_x`` (digits neither
    training saw). At most ``jobs.train_slots()`` fine-tunings run at once in a process; ``Busy`` after
    waiting ``wait_s`` seconds for a slot."""
    if len(own) == 0:
        raise ValueError("no digits of your own to fine-tune on")
    slot = _slot()
    if not slot.acquire(timeout=wait_s):
        raise Busy("Every training slot of this server is busy with other fine-tunings; try again in a minute.")
    try:
        return _fine_tune(model, own, mix_x, mix_y, held_x, held_y, epochs, seed)
    finally:
        slot.release()


def _fine_tune(model, own: Digits, mix_x, mix_y, held_x, held_y, epochs: int, seed: int) -> FineTuneResult:
    import keras

    keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    own_before, held_before = _accuracy(model, own.x, own.y), _accuracy(model, held_x, held_y)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    x, y = _training_set(own, mix_x, mix_y, seed)
    x = x.reshape((-1,) + tuple(model.input_shape[1:]))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not _outputs_probabilities(model, x))
    copy.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=loss, metrics=["accuracy"])
    copy.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=0)
    return FineTuneResult(copy, own_before, _accuracy(copy, own.x, own.y), held_before,
                          _accuracy(copy, held_x, held_y), len(own), len(held_y), epochs,
                          time.perf_counter() - t0)
