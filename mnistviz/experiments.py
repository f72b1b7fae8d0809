"""The lab's logic: settings a person can move, the URL that reproduces them, and runs kept or reused.

``LabSettings`` is what the lab's sliders hold (flat, one value per widget); ``to_config`` and
``to_options`` turn it into the foundation's ``ModelConfig``/``TrainOptions``, and
``from_preset`` does the reverse for every course preset. ``to_query``/``from_query`` write the
settings as short URL parameters and read them back (bad values are skipped and reported).
``run_or_load`` trains a configuration or loads the identical finished run from the
``ModelStore``; a cancelled run is never stored. ``RedrawThrottle`` decides when a progress
report is worth redrawing the page for.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable

import numpy as np

from .models import (ACTIVATIONS, PADDINGS, PRESETS, ConfigError, ConvSpec, DenseSpec, ModelConfig, TrainOptions,
                     count_params)

MAX_BLOCKS = 3
MAX_DENSE = 2
KERNEL_SIZES = (1, 3, 5, 7)
BATCH_SIZES = (32, 64, 128, 256, 512, 1000, 2000, 5000, 10_000)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 1e-1)
TRAIN_SIZES = (500, 1000, 2000, 4000, 8000, 16_000, 30_000, 60_000)
OPTIMIZER_NAMES = ("adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine")
VALIDATION_FRACTION = 0.1
SEED = 42


@dataclass(frozen=True)
class LabSettings:
    """Everything the lab's widgets hold. A conv block is 1 or 2 conv layers of the same size, then maybe a 2×2 pool."""

    blocks: int = 2
    filters1: int = 32
    filters2: int = 64
    filters3: int = 64
    kernel1: int = 5
    kernel2: int = 5
    kernel3: int = 5
    convs1: int = 1
    convs2: int = 1
    convs3: int = 1
    pool1: bool = True
    pool2: bool = True
    pool3: bool = True
    padding: str = "same"
    batch_norm: bool = False
    conv_activation: str = "relu"
    dense_layers: int = 1
    units: int = 1024
    dense_activation: str = "relu"
    dropout: float = 0.4
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    batch_size: int = 128
    epochs: int = 2
    augment: bool = False
    n_train: int = 4000  # 0 means every training image

    def to_config(self) -> ModelConfig:
        """The architecture these settings describe (not validated: see ``models.validate``)."""
        convs = []
        for b in range(1, self.blocks + 1):
            n = getattr(self, f"convs{b}")
            for j in range(n):
                convs.append(ConvSpec(getattr(self, f"filters{b}"), getattr(self, f"kernel{b}"), self.padding,
                                      self.conv_activation, self.batch_norm,
                                      pool=getattr(self, f"pool{b}") and j == n - 1))
        dense = tuple(DenseSpec(self.units, self.dense_activation, self.dropout, self.batch_norm)
                      for _ in range(self.dense_layers))
        return ModelConfig(convs=tuple(convs), dense=dense)

    def to_options(self) -> TrainOptions:
        """Training options; validation is always the last 10 % of the chosen images, the seed is fixed."""
        return TrainOptions(epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer,
                            learning_rate=self.learning_rate, lr_schedule=self.schedule, augment=self.augment,
                            n_train=self.n_train or None, validation_fraction=VALIDATION_FRACTION, seed=SEED)

    def summary(self) -> str:
        """One line, e.g. ``CNN 32@5×5 → 64@5×5 (same) · dense 1024 · adam 0.001 · batch 128 · 2 ep · 4,000 img``."""
        return f"{architecture_summary(self.to_config())} · {options_summary(self.to_options())}"

    def to_dict(self) -> dict:
        return asdict(self)


def architecture_summary(config: ModelConfig) -> str:
    """A short description of an architecture, e.g. ``CNN 32@5×5 → 64@5×5 (same) · dense 1024 drop 0.4``."""
    parts = []
    if config.convs:
        pads = {c.padding for c in config.convs}
        convs = " → ".join(f"{c.filters}@{c.kernel_size}×{c.kernel_size}{'+BN' if c.batch_norm else ''}"
                           f"{' ↓' if c.pool else ''}" for c in config.convs)
        parts.append(f"CNN {convs} ({'/'.join(sorted(pads))})")
    else:
        parts.append("MLP")
    if config.dense:
        d = config.dense[0]
        dense = "-".join(str(x.units) for x in config.dense)
        parts.append(f"dense {dense}" + (f" drop {d.dropout:g}" if d.dropout else ""))
    return " · ".join(parts)


def options_summary(options: TrainOptions) -> str:
    n = "all" if options.n_train is None else f"{options.n_train:,}"
    extra = (" · aug" if options.augment else "") + (" · cosine" if options.lr_schedule == "cosine" else "")
    return (f"{options.optimizer} {options.learning_rate:g} · batch {options.batch_size:,} · "
            f"{options.epochs} ep · {n} img{extra}")


def settings_from_config(config: ModelConfig, options: TrainOptions | None = None,
                         base: LabSettings = LabSettings()) -> LabSettings:
    """The settings that reproduce ``config`` (and ``options``), keeping ``base`` for what they do not fix.

    Raises ``ValueError`` for an architecture the lab's widgets cannot express.
    """
    convs = list(config.convs)
    blocks: list[list[ConvSpec]] = []
    for c in convs:
        cur = blocks[-1] if blocks else None
        if cur and len(cur) == 1 and not cur[0].pool and (cur[0].filters, cur[0].kernel_size) == (c.filters, c.kernel_size):
            cur.append(c)
        else:
            blocks.append([c])
    if len(blocks) > MAX_BLOCKS or len(config.dense) > MAX_DENSE:
        raise ValueError("more conv blocks or dense layers than the lab offers")
    if len({(c.padding, c.activation, c.batch_norm) for c in convs}) > 1:
        raise ValueError("conv layers differ in padding, activation or batch norm")
    if len({(d.units, d.activation, d.dropout, d.batch_norm) for d in config.dense}) > 1:
        raise ValueError("dense layers differ")
    if convs and config.dense and convs[0].batch_norm != config.dense[0].batch_norm:
        raise ValueError("batch norm differs between conv and dense layers")
    ch: dict = {"blocks": len(blocks), "dense_layers": len(config.dense)}
    for b, block in enumerate(blocks, start=1):
        ch.update({f"filters{b}": block[0].filters, f"kernel{b}": block[0].kernel_size, f"convs{b}": len(block),
                   f"pool{b}": block[-1].pool})
    if convs:
        ch.update(padding=convs[0].padding, conv_activation=convs[0].activation, batch_norm=convs[0].batch_norm)
    if config.dense:
        d = config.dense[0]
        ch.update(units=d.units, dense_activation=d.activation, dropout=d.dropout, batch_norm=d.batch_norm)
    if options is not None:
        ch.update(optimizer=options.optimizer, learning_rate=options.learning_rate, schedule=options.lr_schedule,
                  batch_size=options.batch_size, epochs=options.epochs, augment=options.augment)
    out = replace(base, **ch)
    if out.to_config() != config:
        raise ValueError("the lab's widgets cannot express this architecture")
    return out


def from_preset(key: str, base: LabSettings = LabSettings()) -> LabSettings:
    """A course preset's architecture and training options, keeping ``base``'s number of images."""
    p = PRESETS[key]
    return settings_from_config(p.config, p.train, base)


# --- the URL -----------------------------------------------------------------------------------

_SHORT = {  # settings field → URL parameter
    "blocks": "b", "filters1": "f1", "filters2": "f2", "filters3": "f3", "kernel1": "k1", "kernel2": "k2",
    "kernel3": "k3", "convs1": "c1", "convs2": "c2", "convs3": "c3", "pool1": "p1", "pool2": "p2", "pool3": "p3",
    "padding": "pad", "batch_norm": "bn", "conv_activation": "ca", "dense_layers": "dl", "units": "u",
    "dense_activation": "da", "dropout": "do", "optimizer": "opt", "learning_rate": "lr", "schedule": "sch",
    "batch_size": "bs", "epochs": "ep", "augment": "aug", "n_train": "n",
}
_LONG = {v: k for k, v in _SHORT.items()}
_CHOICES = {"padding": PADDINGS, "conv_activation": ACTIVATIONS, "dense_activation": ACTIVATIONS,
            "optimizer": OPTIMIZER_NAMES, "schedule": SCHEDULES, "kernel1": KERNEL_SIZES, "kernel2": KERNEL_SIZES,
            "kernel3": KERNEL_SIZES, "batch_size": BATCH_SIZES, "learning_rate": LEARNING_RATES}
_RANGES = {"blocks": (0, MAX_BLOCKS), "filters1": (1, 256), "filters2": (1, 256), "filters3": (1, 256),
           "convs1": (1, 2), "convs2": (1, 2), "convs3": (1, 2), "dense_layers": (0, MAX_DENSE), "units": (1, 4096),
           "dropout": (0.0, 0.9), "epochs": (1, 50), "n_train": (0, 60_000)}
_TYPES = {f.name: type(getattr(LabSettings(), f.name)) for f in fields(LabSettings)}


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def to_query(settings: LabSettings, defaults: LabSettings = LabSettings()) -> dict[str, str]:
    """URL parameters for the settings that differ from ``defaults`` (so a default lab has a clean URL)."""
    return {_SHORT[f.name]: _fmt(getattr(settings, f.name)) for f in fields(LabSettings)
            if getattr(settings, f.name) != getattr(defaults, f.name)}


def _parse(name: str, text: str):
    kind = _TYPES[name]
    if kind is bool:
        if text not in ("0", "1"):
            raise ValueError
        return text == "1"
    value = kind(float(text)) if kind is int and text.replace(".", "", 1).isdigit() else kind(text)
    if name in _CHOICES:
        choices = _CHOICES[name]
        if kind is float:
            match = [c for c in choices if abs(c - value) <= 1e-9 * max(1.0, c)]
            if not match:
                raise ValueError
            value = match[0]
        elif value not in choices:
            raise ValueError
    if name in _RANGES:
        lo, hi = _RANGES[name]
        if not lo <= value <= hi:
            raise ValueError
    return value


def from_query(params: dict, base: LabSettings = LabSettings()) -> tuple[LabSettings, list[str]]:
    """Settings from URL parameters (unknown keys ignored); returns them and the parameters that were skipped."""
    changes, skipped = {}, []
    for key, raw in params.items():
        name = _LONG.get(key)
        if name is None:
            continue
        text = raw[-1] if isinstance(raw, (list, tuple)) else str(raw)
        try:
            changes[name] = _parse(name, text.strip())
        except (ValueError, TypeError):
            skipped.append(f"{key}={text}")
    return replace(base, **changes), skipped


# --- runs --------------------------------------------------------------------------------------

@dataclass
class RunRecord:
    """One finished (or loaded) training run of this session."""

    id: str
    key: str  # the model store key
    summary: str
    config: ModelConfig
    options: TrainOptions
    params: int
    seconds: float  # training time (of the original run, when loaded from the store)
    history: dict  # per-epoch loss, accuracy, val_loss, val_accuracy
    accuracy: float = float("nan")  # on the test split
    test_label: str = ""
    loaded: bool = False  # came from the store instead of being trained now
    extra: dict = field(default_factory=dict)

    def table_row(self) -> dict:
        val = self.history.get("val_accuracy") or [float("nan")]
        return {"run": self.id, "configuration": self.summary, "parameters": self.params,
                "training time (s)": round(self.seconds, 1), "validation accuracy": val[-1],
                "test accuracy": self.accuracy, "source": "store" if self.loaded else "trained"}


@dataclass
class RunOutcome:
    """What ``run_or_load`` produced: a model and its history, or a cancelled run with nothing kept."""

    model: object | None
    history: dict
    seconds: float
    cancelled: bool
    loaded: bool
    key: str
    epochs_done: int
    warning: str = ""  # e.g. a corrupt store entry that was discarded and retrained


def run_or_load(config: ModelConfig, options: TrainOptions, x: np.ndarray, y: np.ndarray, store, data_id: str,
                progress: Callable | None = None, train_fn: Callable | None = None) -> RunOutcome:
    """Load the identical finished run from ``store``, or train and store it; a cancelled run is not stored.

    ``data_id`` is ``store.data_fingerprint(x, y)`` of the full training split (``options.n_train``
    selects the first images). ``progress`` is passed to ``training.train``.
    """
    from .store import StoreError, model_key

    key = model_key(config, options, data_id)
    warning = ""
    try:
        hit = store.load(key)
    except StoreError as exc:
        warning = f"The stored copy of this run was unusable ({exc}); it was discarded and the model retrained."
        store.discard(key)
        hit = None
    if hit is not None:
        meta = hit.meta
        return RunOutcome(hit.model, meta.get("history", {}), float(meta.get("seconds", 0.0)), False, True, key,
                          int(meta.get("epochs_done", len(meta.get("history", {}).get("loss", [])))))
    if train_fn is None:
        from .training import train as train_fn
    result = train_fn(config, x, y, options, progress=progress)
    if result.cancelled:
        return RunOutcome(None, result.history, result.seconds, True, False, key, result.epochs_done, warning)
    store.save(key, result.model, {"config": config.to_dict(), "options": options.to_dict(), "data": data_id,
                                   "history": result.history, "seconds": round(result.seconds, 2),
                                   "epochs_done": result.epochs_done, "params": count_params(config)})
    return RunOutcome(result.model, result.history, result.seconds, False, False, key, result.epochs_done, warning)


class RedrawThrottle:
    """When to redraw progress: every epoch end, and about ``per_epoch`` times within an epoch, at most every ``min_s``."""

    def __init__(self, per_epoch: int = 4, min_s: float = 0.5, clock: Callable[[], float] = time.perf_counter):
        self.per_epoch = per_epoch
        self.min_s = min_s
        self.clock = clock
        self._last = -float("inf")

    def due(self, kind: str, batch: int, steps: int) -> bool:
        now = self.clock()
        if kind == "epoch":
            self._last = now
            return True
        every = max(1, steps // max(1, self.per_epoch))
        if (batch + 1) % every == 0 and batch + 1 < steps and now - self._last >= self.min_s:
            self._last = now
            return True
        return False


def describe_stop(last: dict | None) -> str:
    """Where an interrupted run was, e.g. ``epoch 1 of 2, batch 17 of 29``, from the last progress snapshot."""
    if not last:
        return "before the first batch"
    return f"epoch {last['epoch'] + 1} of {last['epochs']}, batch {last['batch'] + 1} of {last['steps']}"


def format_seconds(s: float) -> str:
    if s != s or s == float("inf"):  # nan: no estimate yet
        return "…"
    s = int(round(s))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def check(settings: LabSettings) -> str | None:
    """The one-sentence reason these settings cannot be built, or ``None`` if they can."""
    from .models import validate

    try:
        validate(settings.to_config())
    except ConfigError as exc:
        return str(exc)
    return None
