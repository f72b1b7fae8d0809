"""Watch it learn: snapshots of a lab training, from random noise to edge detectors, kept beside the model.

A ``Recorder`` (a Keras callback) takes a ``Snapshot`` before the first batch, a few times in the first
epoch (where most of the change happens) and at every epoch end:

- the first conv layer's kernels, as one diverging PNG mosaic (blue negative, red positive);
- one digit's feature maps in the first two conv layers, as the walkthrough's PNG mosaics;
- that digit's ten probabilities;
- the accuracy on ``VAL_PROBE`` held-out images.

Each snapshot is one small ``.npz`` written atomically into ``<store>/replay/<key>.partial/`` while the
run trains (so a page can follow it live, from any process sharing the store); the finished run's folder
is renamed to ``<key>/`` once the model is stored, and removed when the run is cancelled or fails.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import INPUT_PIXELS, INPUT_SIDE

VAL_PROBE = 200  # held-out images scored at every snapshot (scoring is most of a snapshot's cost)
FIRST_EPOCH_MARKS = (1 / 8, 1 / 4, 1 / 2)  # snapshots within the first epoch, as fractions of it
MAPS_OF = 2  # the first two conv layers' maps
KERNEL_COLS = 8


@dataclass(frozen=True)
class Snapshot:
    step: int  # batches trained when it was taken (0: before training)
    epoch: float  # epochs trained, e.g. 0.25
    kernels: bytes  # PNG: the first conv layer's kernels (b"" without conv layers)
    maps: tuple[tuple[str, bytes], ...]  # (conv layer name, PNG mosaic of the digit's maps)
    proba: np.ndarray  # (10,) the digit's probabilities
    val_accuracy: float  # on the first VAL_PROBE held-out images
    digit: np.ndarray  # (28, 28) in [0, 1]: the digit followed

    @property
    def label(self) -> str:
        """Where in the training it was taken, as the scrubber names it."""
        if self.step == 0:
            return "before training"
        if self.epoch < 1:
            return f"epoch {self.epoch:.2f} (batch {self.step})"
        return f"epoch {round(self.epoch)}"


def replay_dir(store_root: Path | str, key: str, partial: bool = False) -> Path:
    """Where the snapshots of run ``key`` live in the model store (``partial``: while it trains)."""
    return Path(store_root) / "replay" / (f"{key}.partial" if partial else key)


def _png(rgb: np.ndarray) -> bytes:
    from .figures.images import png_bytes

    return png_bytes(rgb)


def _write(path: Path, snap: Snapshot) -> None:
    from .store import _atomic_write_bytes

    arrays = {"step": np.int64(snap.step), "epoch": np.float64(snap.epoch), "proba": snap.proba.astype(np.float32),
              "val_accuracy": np.float64(snap.val_accuracy), "kernels": np.frombuffer(snap.kernels, np.uint8),
              "map_names": np.array([name for name, _ in snap.maps], dtype=str),
              "digit": snap.digit.astype(np.float32)}
    for i, (_, png) in enumerate(snap.maps):
        arrays[f"map_{i}"] = np.frombuffer(png, np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _atomic_write_bytes(path, buf.getvalue())


def _read(path: Path) -> Snapshot:
    with np.load(path, allow_pickle=False) as z:
        names = [str(n) for n in z["map_names"]]
        return Snapshot(int(z["step"]), float(z["epoch"]), z["kernels"].tobytes(),
                        tuple((n, z[f"map_{i}"].tobytes()) for i, n in enumerate(names)),
                        z["proba"].astype(np.float32), float(z["val_accuracy"]),
                        z["digit"].reshape(INPUT_SIDE, INPUT_SIDE))


def _snapshot_files(store_root: Path | str, key: str) -> list[Path]:
    folder = replay_dir(store_root, key)
    if not folder.is_dir():
        folder = replay_dir(store_root, key, partial=True)
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []


def _read_each(paths) -> list[Snapshot]:
    out = []
    for path in paths:
        try:
            out.append(_read(path))
        except (OSError, ValueError, KeyError, EOFError):
            continue  # being replaced right now, or damaged: the next look finds it whole
    return out


def read_replay(store_root: Path | str, key: str) -> list[Snapshot]:
    """The snapshots of run ``key`` in order: the finished run's, else those of the run still training
    (``[]`` when there are none, e.g. a run stored before replays existed). Unreadable files are skipped."""
    return _read_each(_snapshot_files(store_root, key))


def latest_snapshot(store_root: Path | str, key: str) -> Snapshot | None:
    """The newest readable snapshot of run ``key`` (what a page following a training shows every few seconds)."""
    for path in reversed(_snapshot_files(store_root, key)):
        found = _read_each([path])
        if found:
            return found[0]
    return None


def finish(store_root: Path | str, key: str, kept: bool) -> None:
    """After the run: keep its snapshots under the finished key (``kept``), or drop them."""
    partial, final = replay_dir(store_root, key, partial=True), replay_dir(store_root, key)
    if not partial.is_dir():
        return
    if kept:
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
    else:
        shutil.rmtree(partial, ignore_errors=True)


def discard(store_root: Path | str, key: str) -> None:
    """Remove the snapshots of ``key`` (with its model, when the store drops it)."""
    for folder in (replay_dir(store_root, key), replay_dir(store_root, key, partial=True)):
        shutil.rmtree(folder, ignore_errors=True)


def _marks(steps: int) -> set[int]:
    """Batch indices (0-based) in the first epoch after which a snapshot is taken."""
    return {max(0, int(round(steps * f)) - 1) for f in FIRST_EPOCH_MARKS if int(round(steps * f)) < steps}


def make_recorder(store_root: Path | str, key: str, digit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray):
    """A Keras callback that writes ``Snapshot``s of the training of run ``key`` for ``digit`` ``(28, 28)``
    (in [0, 1]); ``x_val`` ``(N, 784)`` float and ``y_val`` ``(N,)`` are the held-out images it scores."""
    import keras

    from .figures.images import diverging_mosaic_rgb, mosaic_rgb

    folder = replay_dir(store_root, key, partial=True)
    shutil.rmtree(folder, ignore_errors=True)  # a retried run starts over
    folder.mkdir(parents=True, exist_ok=True)
    probe = np.asarray(digit, np.float32).reshape(1, INPUT_PIXELS)
    xv = np.asarray(x_val[:VAL_PROBE], np.float32).reshape(-1, INPUT_PIXELS)
    yv = np.asarray(y_val[:VAL_PROBE]).reshape(-1)

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.step = 0
            self.taken = 0
            self._view = None

        def _conv_layers(self):
            return [layer for layer in self.model.layers if isinstance(layer, keras.layers.Conv2D)]

        def _snapshot(self, epoch: float) -> None:
            convs = self._conv_layers()
            if self._view is None:
                outs = [layer.output for layer in convs[:MAPS_OF]] + [self.model.outputs[0]]
                self._view = keras.Model(self.model.inputs[0], outs)
            *maps, proba = (np.asarray(o, np.float32) for o in self._view(probe, training=False))
            kernels = b""
            if convs:
                k = np.asarray(convs[0].kernel, np.float32)  # (k, k, c_in, filters): the first input channel
                kernels = _png(diverging_mosaic_rgb(k[:, :, 0, :], cols=min(KERNEL_COLS, k.shape[-1]), upscale=6))
            val = np.asarray(self.model(xv, training=False), np.float32) if len(xv) else np.zeros((0, 10))
            acc = float((val.argmax(axis=1) == yv).mean()) if len(xv) else float("nan")
            mosaics = tuple((layer.name, _png(mosaic_rgb(m[0], cols=min(KERNEL_COLS, m.shape[-1]), upscale=2)))
                            for layer, m in zip(convs, maps))
            _write(folder / f"{self.taken:04d}.npz", Snapshot(self.step, round(epoch, 3), kernels, mosaics,
                                                              proba.reshape(-1), acc, probe.reshape(INPUT_SIDE, INPUT_SIDE)))
            self.taken += 1

        def on_train_begin(self, logs=None):
            self._snapshot(0.0)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            steps = int(self.params.get("steps") or 1)
            if self.epoch == 0 and batch in _marks(steps):
                self._snapshot((batch + 1) / steps)

        def on_epoch_end(self, epoch, logs=None):
            if not self.model.stop_training:  # a cancelled epoch did not finish
                self._snapshot(float(epoch + 1))

    return Recorder()

