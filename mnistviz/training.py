"""Training: one function, deterministic for a seed, reporting progress per batch and per epoch.

The progress callback receives a ``Progress`` after every batch and every epoch; returning
``False`` from it (or calling ``Progress.cancel()``) stops the run cleanly after that batch, and
the result is marked ``cancelled`` so nobody stores it as a finished model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .data import model_input
from .models import ModelConfig, TrainOptions, build_model

AUG_ROTATION_DEG = 10.0
AUG_SHIFT = 0.10
AUG_ZOOM = 0.10


@dataclass
class Progress:
    """Where a run is: ``kind`` is "batch" or "epoch"; ``logs`` holds loss/accuracy (and val_ on epochs)."""

    kind: str
    epoch: int  # 0-based
    epochs: int
    batch: int  # 0-based within the epoch (steps - 1 on epoch ends)
    steps: int  # batches per epoch
    logs: dict
    elapsed: float  # seconds since the run started
    _cancel: list = field(default_factory=lambda: [False], repr=False)

    @property
    def fraction(self) -> float:
        done = self.epoch * self.steps + self.batch + 1
        return min(1.0, done / max(1, self.epochs * self.steps))

    @property
    def eta(self) -> float:
        """Estimated seconds left, from the average speed so far."""
        f = self.fraction
        return self.elapsed * (1 - f) / f if f > 0 else float("nan")

    def cancel(self) -> None:
        self._cancel[0] = True


ProgressFn = Callable[[Progress], "bool | None"]


@dataclass
class TrainResult:
    model: object  # keras.Model
    history: dict  # per-epoch lists: loss, accuracy, val_loss, val_accuracy
    cancelled: bool
    seconds: float
    epochs_done: int
    config: ModelConfig
    options: TrainOptions


def _make_callback(progress: ProgressFn, epochs: int, t0: float):
    import keras

    class _Report(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.cancel_flag = [False]
            self.cancelled = False

        def _send(self, kind, batch, logs):
            steps = int(self.params.get("steps") or 1)
            p = Progress(kind, self.epoch, epochs, batch, steps, {k: float(v) for k, v in (logs or {}).items()},
                         time.perf_counter() - t0, self.cancel_flag)
            if progress(p) is False or self.cancel_flag[0]:
                self.cancelled = True
                self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self._send("batch", batch, logs)

        def on_epoch_end(self, epoch, logs=None):
            if not self.cancelled:  # a cancelled epoch did not finish: report no epoch end for it
                self._send("epoch", int(self.params.get("steps") or 1) - 1, logs)

    return _Report()


def augmenter(seed: int):
    """Random rotation ±10°, shift ±10 % and zoom ±10 % on batches of ``(B, 28, 28, 1)`` images."""
    import keras
    from keras import layers

    return keras.Sequential([
        layers.RandomRotation(AUG_ROTATION_DEG / 360.0, fill_mode="constant", seed=seed),
        layers.RandomTranslation(AUG_SHIFT, AUG_SHIFT, fill_mode="constant", seed=seed + 1),
        layers.RandomZoom(AUG_ZOOM, AUG_ZOOM, fill_mode="constant", seed=seed + 2),
    ], name="augment")


def _augmented_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    import tensorflow as tf

    aug = augmenter(seed)
    ds = tf.data.Dataset.from_tensor_slices((x.reshape(-1, 28, 28, 1), y.astype(np.int32)))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    ds = ds.map(lambda a, b: (tf.reshape(aug(a, training=True), (-1, 784)), b), num_parallel_calls=1)
    return ds.prefetch(2)


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX), read from ``/proc/cpuinfo``."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def compute_dtype(options: TrainOptions) -> str | None:
    """The Keras dtype policy a run trains with: ``"mixed_bfloat16"`` or ``None`` (float32)."""
    if options.precision == "float32":
        return None
    if options.precision == "mixed_bfloat16" or (options.precision == "auto" and native_bfloat16()):
        return "mixed_bfloat16"
    if options.precision != "auto":
        raise ValueError(f"unknown precision {options.precision!r}")
    return None


def make_optimizer(options: TrainOptions, total_steps: int):
    import keras

    lr = options.learning_rate
    if options.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, total_steps))
    elif options.lr_schedule != "constant":
        raise ValueError(f"unknown learning-rate schedule {options.lr_schedule!r}")
    decay = {"weight_decay": options.weight_decay} if options.weight_decay else {}
    if options.optimizer == "adam":
        return keras.optimizers.Adam(lr, **decay)
    if options.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, **decay)
    if options.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, **decay)
    raise ValueError(f"unknown optimizer {options.optimizer!r}")


def train(
    config: ModelConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    options: TrainOptions = TrainOptions(),
    progress: ProgressFn | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    watch: Callable | None = None,
    initial_weights: list | None = None,
) -> TrainResult:
    """Build and train ``config`` on images ``(N, 28, 28)`` (uint8 or [0, 1]) and labels ``(N,)``.

    Validation: ``x_val``/``y_val`` if given, else the last ``options.validation_fraction`` of the
    training images (none if 0). Same seed and data → the same weights. ``watch(x_val (N, 784),
    y_val (N,))`` may return one more Keras callback that looks on (e.g. ``replay.make_recorder``).
    ``initial_weights`` (``model.get_weights()`` of the same architecture) replace the random start.
    """
    import keras

    x = model_input(x_train)
    y = np.asarray(y_train).astype(np.int32).reshape(-1)
    if options.n_train is not None:
        x, y = x[: options.n_train], y[: options.n_train]
    if x_val is not None:
        xv, yv = model_input(x_val), np.asarray(y_val).astype(np.int32).reshape(-1)
    elif options.validation_fraction > 0:
        n_val = max(1, int(round(len(x) * options.validation_fraction)))
        x, xv, y, yv = x[:-n_val], x[-n_val:], y[:-n_val], y[-n_val:]
    else:
        xv = yv = None
    if len(x) == 0:
        raise ValueError("no training images")

    keras.utils.set_random_seed(options.seed)
    dtype = compute_dtype(options)
    model = build_model(config, dtype=dtype)
    if initial_weights is not None:
        model.set_weights(initial_weights)
    batch_size = int(min(options.batch_size, len(x)))
    steps = -(-len(x) // batch_size)
    model.compile(optimizer=make_optimizer(options, steps * options.epochs),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    callbacks = []
    report = None
    if progress is not None:
        report = _make_callback(progress, options.epochs, t0)
        callbacks.append(report)
    if watch is not None:
        callbacks.append(watch(xv if xv is not None else x[:0], yv if yv is not None else y[:0]))
    val = (xv, yv) if xv is not None else None
    if options.augment:
        hist = model.fit(_augmented_dataset(x, y, batch_size, options.seed), epochs=options.epochs, shuffle=False,
                         validation_data=val, callbacks=callbacks, verbose=0)
    else:
        hist = model.fit(x, y, batch_size=batch_size, epochs=options.epochs, shuffle=True,
                         validation_data=val, callbacks=callbacks, verbose=0)
    if dtype is not None:
        # The weights are float32 already; only the arithmetic was bfloat16. Every page and the store
        # get the plain float32 model.
        trained = model
        model = build_model(config)
        model.set_weights(trained.get_weights())
        model.compile(optimizer=make_optimizer(options, steps * options.epochs),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    cancelled = bool(report and report.cancelled)
    return TrainResult(model, history, cancelled, seconds, len(history.get("loss", [])), config, options)
