"""A person's own digits: an uploaded ``.npz`` to train on, and the handwriting set they draw and label
to fine-tune a model on.

The one format, for upload and download alike: an ``.npz`` with ``x`` ``(N, 28, 28)`` (uint8 0-255 or
float 0-1, ink bright on a dark background as in MNIST) and ``y`` ``(N,)`` integer labels 0-9.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import numpy as np

from pathlib import Path

from .data import INPUT_SIDE, Dataset
from .store import DATA_DIR, ModelStore, _atomic_write_bytes, data_fingerprint, mark_used

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MIN_TRAIN_DIGITS = 100  # fewer cannot fill a training and a validation split worth the name
VALIDATION_FRACTION = 0.2
SPLIT_SEED = 1234
MIN_PER_DIGIT = 2  # a handwriting set needs this many drawings of every digit it holds before fine-tuning
MAX_HANDWRITING = 200


class DigitsError(ValueError):
    """A digits file that cannot be used, with one sentence fit to show a person."""


def _as_uint8_images(x: np.ndarray) -> np.ndarray:
    if x.ndim != 3 or x.shape[1:] != (INPUT_SIDE, INPUT_SIDE):
        raise DigitsError(f"x must have shape (N, {INPUT_SIDE}, {INPUT_SIDE}); this file's x has shape {x.shape}.")
    if x.dtype == np.uint8:
        return x
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise DigitsError(f"x must hold numbers (uint8 0-255 or float 0-1); it holds {x.dtype}.")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise DigitsError("x contains NaN or infinite values; every pixel must be a number.")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 255:
        raise DigitsError(f"x's pixels must lie in 0-255 (or 0-1); they run from {lo:g} to {hi:g}.")
    if hi <= 1.0:
        x = x * 255.0
    return np.rint(x).astype(np.uint8)


def _as_labels(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DigitsError(f"y must have shape (N,), one label per digit; this file's y has shape {y.shape}.")
    if len(y) != n:
        raise DigitsError(f"x holds {n:,} digits but y holds {len(y):,} labels; they must match.")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise DigitsError(f"y must hold the digits 0-9 as numbers; it holds {y.dtype}.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)):
            raise DigitsError("y contains NaN or infinite values; every label must be a digit 0-9.")
        if np.any(y != np.rint(y)):
            raise DigitsError("y must hold whole digits 0-9; some labels have a fractional part.")
    if n and (y.min() < 0 or y.max() > 9):
        raise DigitsError(f"y's labels must be digits 0-9; this file has labels from {y.min():g} to {y.max():g}.")
    return y.astype(np.uint8)


@dataclass(frozen=True)
class Digits:
    """Labelled digits: ``x`` uint8 ``(N, 28, 28)``, ``y`` uint8 ``(N,)``, and their fingerprint."""

    x: np.ndarray
    y: np.ndarray
    fingerprint: str

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> np.ndarray:
        """How many digits of each class, ``(10,)``."""
        return np.bincount(self.y, minlength=10)


def checked_digits(x: np.ndarray, y: np.ndarray, min_digits: int = 0) -> Digits:
    """Validate and normalise images and labels into ``Digits``; ``DigitsError`` says what is wrong."""
    x = _as_uint8_images(np.asarray(x))
    y = _as_labels(y, len(x))
    if len(y) < min_digits:
        raise DigitsError(f"this file holds {len(y):,} digits; training needs at least {min_digits:,}.")
    x.setflags(write=False)
    y.setflags(write=False)
    return Digits(x, y, data_fingerprint(x, y))


def read_digits(data: bytes, min_digits: int = MIN_TRAIN_DIGITS, max_bytes: int = MAX_UPLOAD_BYTES) -> Digits:
    """An uploaded ``.npz`` (``x`` ``(N, 28, 28)``, ``y`` ``(N,)``) as ``Digits``."""
    if len(data) > max_bytes:
        raise DigitsError(f"the file is {len(data) / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB.")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DigitsError("this is not an .npz file (NumPy's np.savez format with arrays x and y).")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            missing = [k for k in ("x", "y") if k not in f.files]
            if missing:
                raise DigitsError(f"the .npz has no array named {' or '.join(missing)}; it holds "
                                  f"{', '.join(f.files) or 'nothing'} (expected x and y).")
            x, y = f["x"], f["y"]
    except DigitsError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DigitsError(f"the .npz cannot be read ({exc}); is it truncated?") from exc
    return checked_digits(x, y, min_digits)


def digits_npz(digits: Digits) -> bytes:
    """``Digits`` as ``.npz`` bytes in the upload format (``x`` uint8, ``y`` uint8)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.asarray(digits.x), y=np.asarray(digits.y))
    return buf.getvalue()


def as_dataset(digits: Digits, name: str = "your digits") -> Dataset:
    """Uploaded digits as a ``Dataset``: shuffled with a fixed seed, 80 % to train, 20 % held out."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(digits))
    n_test = max(1, int(round(len(digits) * VALIDATION_FRACTION)))
    test, train = order[:n_test], order[n_test:]
    return Dataset(
        digits.x[train], digits.y[train], digits.x[test], digits.y[test], source="upload",
        description=f"{name}: {len(digits):,} digits, split {len(train):,} / {len(test):,}",
        test_label=f"held-out part of {name} ({len(test):,} digits)",
        extra={"fingerprint": digits.fingerprint},
    )


def saved_for_training(digits: Digits, store_root: Path | str) -> Path:
    """Write ``digits`` split as ``as_dataset`` splits them, in Keras' ``mnist.npz`` layout, to
    ``<store_root>/data/<fingerprint>.npz`` (atomically; once per content) and return the path: what
    ``data.load_data`` takes, so a trainer in another process (an RQ worker sharing the store) loads
    the very same digits."""
    store = ModelStore(store_root)
    path = store.root / DATA_DIR / f"{digits.fingerprint}.npz"
    if path.exists():
        mark_used(path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = as_dataset(digits)
    buf = io.BytesIO()
    np.savez_compressed(buf, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test)
    _atomic_write_bytes(path, buf.getvalue())
    store.trim(keep=f"{DATA_DIR}/{path.name}")  # the set counts against the store's cap
    return path


@dataclass
class HandwritingSet:
    """One person's labelled drawings, ``(28, 28)`` float images in [0, 1] as the model reads them."""

    images: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    limit: int = MAX_HANDWRITING

    def add(self, image: np.ndarray, label: int) -> None:
        """Keep one drawing with its true digit; beyond ``limit`` the oldest goes."""
        image = np.asarray(image, dtype=np.float32).reshape(INPUT_SIDE, INPUT_SIDE)
        if not 0 <= int(label) <= 9:
            raise DigitsError(f"a label must be a digit 0-9, not {label}.")
        if not image.any():
            raise DigitsError("the canvas is blank: draw the digit first.")
        self.images.append(image)
        self.labels.append(int(label))
        del self.images[:-self.limit], self.labels[:-self.limit]

    def remove(self, index: int) -> None:
        del self.images[index], self.labels[index]

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        return np.bincount(np.asarray(self.labels, dtype=np.int64), minlength=10)

    def missing(self) -> str:
        """What is still needed before fine-tuning ("" when ready), in a sentence."""
        counts = self.counts()
        if len(self) == 0:
            return f"Save at least {MIN_PER_DIGIT} drawings of a digit first."
        short = [str(d) for d in range(10) if 0 < counts[d] < MIN_PER_DIGIT]
        if short:
            return (f"Save at least {MIN_PER_DIGIT} drawings of every digit you include; "
                    f"one more of: {', '.join(short)}.")
        return ""

    def digits(self) -> Digits:
        """The set as ``Digits`` (uint8, the download format)."""
        x = np.stack(self.images) if self.images else np.zeros((0, INPUT_SIDE, INPUT_SIDE), np.float32)
        return checked_digits(np.clip(x, 0.0, 1.0), np.asarray(self.labels, dtype=np.int64))
