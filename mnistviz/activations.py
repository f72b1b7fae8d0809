"""Every stage of a model from ONE forward pass, through a compiled multi-output model.

``stages(model, x)`` returns each layer's output in order, as ``Stage(name, kind, shape, array)``;
``probabilities(model, x)`` returns the softmax. Both go through a ``StageRunner`` built once
per model (cached weakly by model) whose call is a ``tf.function`` with a fixed input
signature, so a single image costs a few milliseconds instead of ``model.predict``'s ~70 ms.

Small batches (the live pages: one drawing, the 64 covered copies of the occlusion map) go through
an XLA-compiled (``jit_compile=True``) version, padded to a power-of-two batch so only a handful of
shapes are ever compiled. Why XLA: Streamlit calls ``keras.backend.clear_session()`` after every
script run, which clears TensorFlow's kernel cache; a plain ``tf.function`` then pays ~15-20 ms to
re-instantiate its kernels on the next rerun, an XLA-compiled one ~0.5 ms. Large batches (scoring a
whole test split) use the plain compiled function, which is faster there.

Every call runs on a long-lived worker thread. Streamlit runs each rerun in a fresh thread, and
TensorFlow's first call from a new thread after ``clear_session`` costs ~15 ms (~2 ms from a thread
that has called before): on a live page that is paid on every stroke. Small batches (a stroke) go to
two "forward" workers; big ones (scoring a whole test split) to one "bulk" worker of their own, so a
stroke never waits behind a bulk job.

The runners are cached per model object (a weak dict), so a model shared between sessions (the
default) shares its compiled runner and a session's own model has its own: the cache cannot mix them.
"""

from __future__ import annotations

import logging
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .data import INPUT_PIXELS, INPUT_SIDE, model_input


@dataclass(frozen=True)
class Stage:
    name: str  # the layer's name, e.g. "conv1"
    kind: str  # the layer's class, e.g. "Conv2D"
    shape: tuple  # with the batch axis, e.g. (1, 28, 28, 32)
    array: np.ndarray
    params: int = 0  # the layer's parameter count


def as_batch(x: np.ndarray) -> np.ndarray:
    """One image ``(28, 28)``, images ``(N, 28, 28)``/``(N, 28, 28, 1)`` or flat ``(N, 784)``/``(784,)`` → float32 ``(N, 784)``."""
    x = np.asarray(x)
    if x.size == 0:
        return np.zeros((0, INPUT_PIXELS), np.float32)
    if x.ndim == 1 or (x.ndim == 2 and x.shape == (INPUT_SIDE, INPUT_SIDE)):
        x = x.reshape(1, -1)
    return model_input(x)


log = logging.getLogger(__name__)

JIT_MAX_BATCH = 128  # batches up to this size take the XLA path
_WORKER_PREFIX = "mnistviz-"
_workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix=_WORKER_PREFIX + "forward")
_bulk_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_WORKER_PREFIX + "bulk")


def _on_worker(n_images: int, fn, *args):
    """``fn(*args)`` on a long-lived worker thread (directly if already on one): the bulk worker for a
    batch of more than ``JIT_MAX_BATCH`` images, a forward worker otherwise."""
    if threading.current_thread().name.startswith(_WORKER_PREFIX):
        return fn(*args)
    pool = _bulk_worker if n_images > JIT_MAX_BATCH else _workers
    return pool.submit(fn, *args).result()


class _Forward:
    """``model(t, training=False)`` as a callable object, one per compiled function.

    TensorFlow counts the traces of every ``tf.function`` made from the same Python code together
    (keyed by ``__code__``) and, after a few models, warns about "tf.function retracing" although each
    runner traces its own function once. An object has no ``__code__``, so each runner is counted on
    its own and the warning only fires for a real retracing.

    It holds the model weakly: the runner is the value of a weak dictionary keyed by that model
    (``PerModel``), and a strong reference from the value would keep the key, so every model a session
    ever showed (each Lab run, each upload) would stay in memory for the life of the process."""

    def __init__(self, model):
        self._model = weakref.ref(model)

    def __call__(self, t):
        return self._model()(t, training=False)


def _bucket(n: int) -> int:
    """The power of two ≥ ``n`` that a batch of ``n`` images is padded to on the XLA path."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


class StageRunner:
    """A model's every-layer view, compiled once."""

    def __init__(self, model):
        import keras
        import tensorflow as tf

        self.layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        self.names = [layer.name for layer in self.layers]
        self.kinds = [type(layer).__name__ for layer in self.layers]
        self.params = [int(layer.count_params()) for layer in self.layers]
        self._all = keras.Model(inputs=model.inputs[0], outputs=[layer.output for layer in self.layers])
        spec = tf.TensorSpec([None, INPUT_PIXELS], tf.float32)
        self._fn = tf.function(_Forward(self._all), input_signature=[spec])
        self._proba = tf.function(_Forward(model), input_signature=[spec])
        self._fn_xla = tf.function(_Forward(self._all), input_signature=[spec], jit_compile=True)
        self._proba_xla = tf.function(_Forward(model), input_signature=[spec], jit_compile=True)
        self.xla = True  # switched off for good if XLA cannot compile this model
        self.model_name = model.name
        self._blank: list[Stage] | None = None
        # What a failed XLA compilation raises: TensorFlow's op errors (InvalidArgumentError for an
        # unsupported op, UnimplementedError, InternalError); anything else is a real bug and propagates.
        self._xla_errors = (tf.errors.OpError,)

    def _call(self, fast, plain, xb: np.ndarray) -> list[np.ndarray]:
        """``fast`` (XLA) on a zero-padded small batch, else ``plain``; NumPy outputs of ``len(xb)`` rows."""
        n = len(xb)
        if self.xla and 0 < n <= JIT_MAX_BATCH:
            padded = xb
            if _bucket(n) != n:
                padded = np.zeros((_bucket(n), xb.shape[1]), np.float32)
                padded[:n] = xb
            try:
                out = fast(padded)
            except self._xla_errors as exc:  # an op XLA cannot compile here: stay on the plain path
                log.warning("XLA could not compile %s (%s: %s); using the plain compiled forward pass",
                            self.model_name, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
                self.xla = False
            else:
                return [o.numpy()[:n] for o in _as_list(out)]  # cut in NumPy: a TensorFlow slice costs ~0.1 ms
        return [o.numpy() for o in _as_list(plain(xb))]

    def stages(self, x: np.ndarray) -> list[Stage]:
        xb = as_batch(x)
        arrays = _on_worker(len(xb), self._call, self._fn_xla, self._fn, xb)
        return [Stage(n, k, a.shape, a, p) for n, k, a, p in zip(self.names, self.kinds, arrays, self.params)]

    def blank_stages(self) -> list[Stage]:
        """``stages`` of an all-zero input, worked out once (read-only arrays)."""
        if self._blank is None:
            made = self.stages(np.zeros((1, INPUT_PIXELS), np.float32))
            for s in made:
                s.array.setflags(write=False)
            self._blank = made
        return self._blank

    def probabilities(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        xb = as_batch(x)
        parts = _on_worker(len(xb), lambda: [self._call(self._proba_xla, self._proba, xb[i : i + batch_size])[0]
                                    for i in range(0, len(xb), batch_size)])
        return np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)


def _as_list(out) -> list:
    return list(out) if isinstance(out, (list, tuple)) else [out]


class PerModel:
    """One object built by ``build(model)`` per model object, kept as long as the model lives (a weak
    dictionary): a model shared between sessions shares it, a session's own model has its own."""

    def __init__(self, build):
        self._build = build
        self._made: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, model):
        with self._lock:
            made = self._made.get(model)
            if made is None:
                made = self._made[model] = self._build(model)
            return made


_runners = PerModel(StageRunner)


def runner_for(model) -> StageRunner:
    """The cached ``StageRunner`` of ``model`` (built on first use)."""
    return _runners(model)


def stages(model, x: np.ndarray) -> list[Stage]:
    """Every stage's output for ``x`` (one image or a batch) from one forward pass, in layer order."""
    return runner_for(model).stages(x)


def blank_stages(model) -> list[Stage]:
    """Every stage for an empty (all-zero) 28×28 input, computed once per model: the shapes a page lays out
    before anything is drawn. Shared: do not change the arrays."""
    return runner_for(model).blank_stages()


def stage_dict(model, x: np.ndarray) -> dict[str, Stage]:
    """``stages`` keyed by layer name."""
    return {s.name: s for s in stages(model, x)}


def probabilities(model, x: np.ndarray) -> np.ndarray:
    """Softmax probabilities ``(N, 10)`` for one image or a batch."""
    return runner_for(model).probabilities(x)


def run_from(model, stage_name: str, tensor: np.ndarray) -> list[Stage]:
    """Continue a forward pass from a (possibly edited) stage output, e.g. with one filter zeroed.

    ``tensor`` is the output of layer ``stage_name`` with its batch axis (e.g. ``(1, 28, 28, 32)``);
    returns the stages after it, in order, computed eagerly in inference mode. Works for the chain
    models built by ``mnistviz.models`` (each layer feeds the next).
    """
    runner = runner_for(model)
    if stage_name not in runner.names:
        raise KeyError(f"model has no layer {stage_name!r}")
    start = runner.names.index(stage_name) + 1
    out = []
    t = np.asarray(tensor, dtype=np.float32)
    for layer, name, kind, params in zip(runner.layers[start:], runner.names[start:], runner.kinds[start:],
                                         runner.params[start:]):
        t = np.asarray(layer(t, training=False))
        out.append(Stage(name, kind, tuple(t.shape), t, params))
    return out
