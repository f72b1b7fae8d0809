"""MNIST data: one loader over several sources, with an offline fallback to the bundled sample.

Sources:
- ``keras``:  the full MNIST (60,000 / 10,000) through ``keras.datasets.mnist.load_data()``,
              which reads Keras' cache (``~/.keras/datasets/mnist.npz``) or downloads it.
- ``sample``: 10,000 real MNIST training digits shipped inside this package, shuffled with a
              fixed seed and split 8,000 / 2,000.
- a path:     a local ``.npz`` in Keras' ``mnist.npz`` layout, or a folder holding the four
              MNIST IDX files (gzipped or not).
- ``auto``:   the Keras cache if present, else a download bounded by a timeout, else the
              sample; ``Dataset.note`` records why.
"""

from __future__ import annotations

import gzip
import io
import os
import socket
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

INPUT_SIDE = 28  # an MNIST image is INPUT_SIDE × INPUT_SIDE pixels
INPUT_PIXELS = INPUT_SIDE * INPUT_SIDE  # 784: what a model reads per image

SAMPLE_PATH = Path(__file__).parent / "assets" / "mnist_sample_10k.npz"
SAMPLE_SPLIT_SEED = 1234
SAMPLE_TEST_SIZE = 2000
DOWNLOAD_HOST = "storage.googleapis.com"
DOWNLOAD_TIMEOUT_S = 3.0

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """A data source that cannot be read, with a message fit to show a person."""


@dataclass(frozen=True)
class Dataset:
    """Train and test digits as uint8 ``(N, 28, 28)`` images and uint8 ``(N,)`` labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "keras", "sample", "npz" or "idx"
    description: str  # one line for a person, e.g. "MNIST, 60,000 / 10,000"
    test_label: str  # what the test split is, e.g. "MNIST test split (10,000)"
    note: str = ""  # why this source was chosen (auto), empty otherwise
    extra: dict = field(default_factory=dict, compare=False)
    # Non-empty when the bundled sample stands in for the source asked for: one of FALLBACK_REASONS.
    fallback_reason: str = ""


#: Why the bundled sample can stand in for the source asked for (``Dataset.fallback_reason``).
OFFLINE = "offline"  # "auto" found no cached MNIST and could not download it
UNUSABLE_SOURCE = "unusable source"  # the source named (e.g. by MNISTVIZ_DATA) could not be read
FALLBACK_REASONS = (OFFLINE, UNUSABLE_SOURCE)


def _checked(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y).reshape(-1)
    if x.ndim != 3 or x.shape[1:] != (INPUT_SIDE, INPUT_SIDE):
        raise DataError(f"{what}: images must have shape (N, {INPUT_SIDE}, {INPUT_SIDE}), got {x.shape}")
    if len(x) != len(y):
        raise DataError(f"{what}: {len(x)} images but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{what}: labels must be digits 0-9")
    if x.dtype != np.uint8:
        x = np.clip(np.rint(x * 255 if x.max() <= 1.0 else x), 0, 255).astype(np.uint8)
    return x, y.astype(np.uint8)


def load_sample(path: Path | str = SAMPLE_PATH, note: str = "", fallback_reason: str = "") -> Dataset:
    """The bundled 10,000-digit sample, shuffled with a fixed seed and split 8,000 / 2,000.

    ``note`` says why it was chosen; ``fallback_reason`` (one of ``FALLBACK_REASONS``) marks it as
    standing in for another source.
    """
    try:
        with np.load(path) as f:
            x, y = _checked(f["x"], f["y"], "bundled sample")
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"cannot read the bundled sample {path}: {exc}") from exc
    order = np.random.default_rng(SAMPLE_SPLIT_SEED).permutation(len(x))
    x, y = x[order], y[order]
    n_test = SAMPLE_TEST_SIZE
    n_train = len(x) - n_test
    return Dataset(
        x[:n_train], y[:n_train], x[n_train:], y[n_train:],
        source="sample",
        description=f"bundled sample of {len(x):,} MNIST training digits, split {n_train:,} / {n_test:,}",
        test_label=f"held-out part of the bundled sample ({n_test:,} digits; sample validation, not the MNIST test split)",
        note=note,
        fallback_reason=fallback_reason,
    )


def sample_instead_of(source: str, error: Exception) -> Dataset:
    """The bundled sample, standing in for ``source`` that could not be used; the note names it and the error."""
    return load_sample(note=f"the data source {source!r} could not be used ({error}); using the bundled sample",
                       fallback_reason=UNUSABLE_SOURCE)


def load_npz(path: Path | str) -> Dataset:
    """A local ``.npz`` in Keras' ``mnist.npz`` layout (``x_train``, ``y_train``, ``x_test``, ``y_test``)."""
    path = Path(path)
    try:
        with np.load(path) as f:
            missing = [k for k in IDX_NAMES if k not in f.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)} (expected Keras' mnist.npz layout)")
            x_train, y_train = _checked(f["x_train"], f["y_train"], f"{path} (train)")
            x_test, y_test = _checked(f["x_test"], f["y_test"], f"{path} (test)")
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    return Dataset(
        x_train, y_train, x_test, y_test, source="npz",
        description=f"{path.name}, {len(x_train):,} / {len(x_test):,}",
        test_label=f"test split of {path.name} ({len(x_test):,})",
    )


def read_idx(path: Path | str) -> np.ndarray:
    """One MNIST IDX file (``.gz`` or plain) as a uint8 array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} but holds {body.size} bytes")
    return body.reshape(dims)


def load_idx_folder(folder: Path | str) -> Dataset:
    """A folder with the four MNIST IDX files (``train-images-idx3-ubyte[.gz]`` …)."""
    folder = Path(folder)
    arrays = {}
    for key, stem in IDX_NAMES.items():
        candidates = [folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")]
        found = next((p for p in candidates if p.exists()), None)
        if found is None:
            raise DataError(f"{folder}: no {stem} or {stem}.gz")
        arrays[key] = read_idx(found)
    x_train, y_train = _checked(arrays["x_train"], arrays["y_train"], f"{folder} (train)")
    x_test, y_test = _checked(arrays["x_test"], arrays["y_test"], f"{folder} (test)")
    return Dataset(
        x_train, y_train, x_test, y_test, source="idx",
        description=f"IDX files in {folder.name}, {len(x_train):,} / {len(x_test):,}",
        test_label=f"test split of the IDX files ({len(x_test):,})",
    )


def keras_cache_path() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps its download."""
    base = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return base / "datasets" / "mnist.npz"


def _mnist_dataset(x_train, y_train, x_test, y_test, note: str = "") -> Dataset:
    return Dataset(
        x_train, y_train, x_test, y_test, source="keras",
        description=f"MNIST, {len(x_train):,} / {len(x_test):,}",
        test_label=f"MNIST test split ({len(x_test):,})",
        note=note,
    )


def load_keras(timeout: float | None = None) -> Dataset:
    """The full MNIST through Keras (cache, else download). ``timeout`` bounds the download."""
    import keras

    def fetch():
        return keras.datasets.mnist.load_data()

    if timeout is None or keras_cache_path().exists():
        (x_train, y_train), (x_test, y_test) = fetch()
        return _mnist_dataset(x_train, y_train, x_test, y_test)
    # Keras' download has no timeout of its own: run it in a daemon thread and stop waiting.
    result = _in_daemon_thread(fetch, timeout)
    if not result:
        raise DataError(f"MNIST download did not finish within {timeout:.0f} s")
    if "error" in result:
        raise DataError(f"MNIST download failed: {result['error']}")
    (x_train, y_train), (x_test, y_test) = result["value"]
    return _mnist_dataset(x_train, y_train, x_test, y_test)


def _in_daemon_thread(fn: Callable[[], Any], timeout: float) -> dict:
    """Run ``fn()`` in a daemon thread and wait at most ``timeout`` s: ``{"value": …}`` or ``{"error": …}``
    once it has finished, ``{}`` while it is still running (it is left to finish on its own)."""
    result: dict = {}

    def worker() -> None:
        try:
            result["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            result["error"] = exc

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(timeout)
    return dict(result)


def _host_reachable(host: str, timeout: float) -> bool:
    """Whether ``host`` takes a connection on port 443 within ``timeout`` seconds, its name lookup included:
    ``create_connection``'s timeout does not bound the lookup, and a resolver that does not answer (a dead
    DNS server on a school network) holds ``getaddrinfo`` for tens of seconds."""
    def connect() -> bool:
        with socket.create_connection((host, 443), timeout=timeout):
            return True

    return _in_daemon_thread(connect, timeout).get("value", False)


def load_data(source: str = "auto", timeout: float = DOWNLOAD_TIMEOUT_S) -> Dataset:
    """Load digits from ``source`` ("auto", "keras", "sample", an ``.npz`` path or an IDX folder).

    Raises ``DataError`` with a readable message when an explicit source cannot be read;
    ``auto`` never raises for a missing network: it falls back to the sample and says why.
    """
    if source == "sample":
        return load_sample()
    if source == "keras":
        return load_keras()
    if source == "auto":
        if keras_cache_path().exists():
            try:
                return load_keras()
            except Exception as exc:  # noqa: BLE001 - a corrupt cache falls back too
                return load_sample(note=f"the Keras MNIST cache could not be read ({exc}); using the bundled sample",
                                   fallback_reason=OFFLINE)
        # A quick connection check first: offline, DNS fails at once instead of Keras' slow retries.
        if not _host_reachable(DOWNLOAD_HOST, timeout):
            return load_sample(note="MNIST could not be downloaded (no network); using the bundled sample",
                               fallback_reason=OFFLINE)
        try:
            return load_keras(timeout=max(timeout, 60.0))
        except DataError as exc:
            return load_sample(note=f"{exc}; using the bundled sample", fallback_reason=OFFLINE)
    path = Path(source).expanduser()
    if path.is_dir():
        return load_idx_folder(path)
    if path.suffix == ".npz" and path.exists():
        return load_npz(path)
    raise DataError(f"data source {source!r} is not 'auto', 'keras', 'sample', an existing .npz file or a folder of IDX files")


# --- the course's array helpers ------------------------------------------------------------

def scale(x: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 → float32 in [0, 1] (``x / 255``)."""
    return np.asarray(x, dtype=np.float32) / 255.0


def flatten(x: np.ndarray) -> np.ndarray:
    """``(N, 28, 28)`` → ``(N, 784)``, row by row, as a fully connected network takes it."""
    x = np.asarray(x)
    return x.reshape(len(x), -1)


def to_nhwc(x: np.ndarray) -> np.ndarray:
    """``(N, 28, 28)`` or ``(N, 784)`` → ``(N, 28, 28, 1)``: batch, height, width, channels."""
    x = np.asarray(x)
    return x.reshape(-1, INPUT_SIDE, INPUT_SIDE, 1)


def one_hot(y: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Labels ``(N,)`` → one-hot float32 ``(N, num_classes)``, as ``to_categorical`` does."""
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    out = np.zeros((len(y), num_classes), dtype=np.float32)
    out[np.arange(len(y)), y] = 1.0
    return out


def model_input(x: np.ndarray) -> np.ndarray:
    """Images ``(N, 28, 28)`` (uint8 or float in [0, 1]) → the models' flat float32 input ``(N, 784)``."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        x = scale(x)
    return flatten(x.astype(np.float32, copy=False).reshape(-1, INPUT_SIDE, INPUT_SIDE))


def npy_bytes(array: np.ndarray) -> bytes:
    """The array as the bytes of a ``.npy`` file (``np.load`` reads it back), e.g. for a download button."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(array))
    return buf.getvalue()
