"""The model store: trained models as ``.keras`` files in a cache folder, keyed by what made them.

Layout: ``<root>/<key>.keras`` and ``<root>/<key>.json`` (metadata, with the model file's
SHA-256). Both are written to a temporary file and renamed into place, the metadata last: a
model without matching metadata is not a finished model. The root is ``$MNISTVIZ_CACHE`` or
``~/.cache/mnistviz``. Models are loaded with Keras' ``safe_mode=True``.

People's own digit sets, uploaded to train on, are kept beside the models as ``<root>/data/<fingerprint>.npz``
(``userdata.saved_for_training``), so that a worker on another machine trains on the same digits.

The store holds at most ``$MNISTVIZ_CACHE_MAX_MB`` megabytes (default 2048; 0 = no cap), models and digit
sets together: after a save, the least recently used entries go first (a load counts as a use). The shipped
default model lives in the package's ``assets/`` folder, never in the store, and a store rooted there is
never trimmed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models import ModelConfig, TrainOptions


DEFAULT_MAX_MB = 2048
DATA_DIR = "data"  # people's own digit sets, inside the store
PACKAGE_ASSETS = Path(__file__).resolve().parent / "assets"


class StoreError(RuntimeError):
    """A stored model that cannot be used (corrupt, truncated or mismatched), with a readable message."""


def default_root() -> Path:
    return Path(os.environ.get("MNISTVIZ_CACHE") or Path.home() / ".cache" / "mnistviz")


def cache_cap_bytes() -> int:
    """``MNISTVIZ_CACHE_MAX_MB`` in bytes (0: no cap); a value that is not a number means the default."""
    try:
        mb = float(os.environ.get("MNISTVIZ_CACHE_MAX_MB", "") or DEFAULT_MAX_MB)
    except ValueError:
        mb = DEFAULT_MAX_MB
    return max(0, int(mb * 1024 * 1024))


def mark_used(*paths: Path | str) -> None:
    """Record a use of these store files (their mtime): the size cap removes the least recently used first."""
    for p in paths:
        try:
            os.utime(p)
        except OSError:
            pass  # evicted meanwhile, or a read-only store: nothing to record


def data_fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """A short hash of the training images and labels."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).astype(np.uint8).tobytes())
    return h.hexdigest()[:16]


def model_key(config: ModelConfig, options: TrainOptions, data_id: str) -> str:
    """A hash of everything that affects the trained weights."""
    import keras

    payload = json.dumps({"config": config.to_dict(), "options": options.to_dict(), "data": data_id,
                          "keras": keras.__version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model_atomic(model, path: Path) -> str:
    """Save a Keras model to ``path`` (``.keras``) via a temporary file and a rename; return its SHA-256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".keras")
    os.close(fd)
    try:
        if getattr(model, "optimizer", None) is not None:
            # Ship weights only: the optimizer's state would triple the file and is never needed here.
            import keras

            clean = keras.Model.from_config(model.get_config())
            clean.set_weights(model.get_weights())
            model = clean
        model.save(tmp)
        os.chmod(tmp, 0o644)
        digest = file_sha256(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest


def load_model_checked(path: Path, sha256: str | None = None):
    """Load a ``.keras`` file with ``safe_mode=True``; ``StoreError`` if it is missing, altered or unreadable."""
    import keras

    path = Path(path)
    if not path.exists():
        raise StoreError(f"model file {path} does not exist")
    if sha256 is not None and file_sha256(path) != sha256:
        raise StoreError(f"model file {path.name} does not match its recorded checksum (truncated or corrupt)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any failure to load is reported the same way
        raise StoreError(f"model file {path.name} cannot be loaded: {type(exc).__name__}: {exc}") from exc


@dataclass
class StoredModel:
    key: str
    model: object  # keras.Model
    meta: dict


class ModelStore:
    """Trained models on disk, keyed by ``model_key``, at most ``max_bytes`` of them (0: no cap)."""

    def __init__(self, root: Path | str | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.max_bytes = cache_cap_bytes() if max_bytes is None else max_bytes

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.keras", self.root / f"{key}.json"

    def save(self, key: str, model, meta: dict) -> Path:
        """Store a finished model and its metadata (model first, metadata last, each atomically),
        then trim the least recently used entries beyond the size cap (never this one)."""
        model_path, meta_path = self.paths(key)
        self.root.mkdir(parents=True, exist_ok=True)
        digest = save_model_atomic(model, model_path)
        full = {**meta, "key": key, "sha256": digest, "saved_at": time.time()}
        _atomic_write_bytes(meta_path, json.dumps(full, indent=1, sort_keys=True).encode())
        self.trim(keep=key)
        return model_path

    def _touch(self, key: str) -> None:
        mark_used(*self.paths(key))

    def trim(self, keep: str | None = None) -> list[str]:
        """Remove least recently used entries until the store fits ``max_bytes``; returns what was removed:
        model keys, and ``data/<fingerprint>.npz`` for a digit set. ``keep`` (either kind) stays.

        Only ``<key>.keras``/``<key>.json`` pairs and ``data/*.npz`` are touched, and never in the package's
        own ``assets/``."""
        if not self.max_bytes or not self.root.exists() or self.root.resolve() == PACKAGE_ASSETS:
            return []
        entries = []
        for meta_path in self.root.glob("*.json"):
            model_path = meta_path.with_suffix(".keras")
            try:
                size = meta_path.stat().st_size + (model_path.stat().st_size if model_path.exists() else 0)
                used = max(meta_path.stat().st_mtime, model_path.stat().st_mtime if model_path.exists() else 0)
            except OSError:
                continue
            entries.append((used, meta_path.stem, size))
        for set_path in self.root.glob(f"{DATA_DIR}/*.npz"):
            try:
                st = set_path.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, f"{DATA_DIR}/{set_path.name}", st.st_size))
        total = sum(size for _, _, size in entries)
        removed = []
        for _, name, size in sorted(entries):
            if total <= self.max_bytes:
                break
            if name == keep:
                continue
            if name.startswith(f"{DATA_DIR}/"):
                (self.root / name).unlink(missing_ok=True)  # a worker reading it keeps its open copy
            else:
                self.discard(name)
            total -= size
            removed.append(name)
        return removed

    def load(self, key: str) -> StoredModel | None:
        """The stored model for ``key``, ``None`` if there is none; ``StoreError`` if it is corrupt."""
        model_path, meta_path = self.paths(key)
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"metadata {meta_path.name} is unreadable: {exc}") from exc
        model = load_model_checked(model_path, meta.get("sha256"))
        self._touch(key)  # a use: the least recently used entries are trimmed first
        return StoredModel(key, model, meta)

    def discard(self, key: str) -> None:
        """Remove an entry (corrupt, or trimmed) so it can be trained again; the metadata first, its replay last."""
        from .replay import discard

        for p in reversed(self.paths(key)):
            p.unlink(missing_ok=True)
        discard(self.root, key)

    def entries(self) -> list[dict]:
        """Metadata of every stored model, newest first (unreadable entries skipped)."""
        out = []
        for meta_path in self.root.glob("*.json") if self.root.exists() else []:
            try:
                out.append(json.loads(meta_path.read_text()))
            except (OSError, ValueError):
                continue
        return sorted(out, key=lambda m: m.get("saved_at", 0), reverse=True)
