"""The lab's settings: one table of fields that the URL codec, the validation and the widgets all read.

Each ``Field`` says its name, its URL key, its type, its bounds (``lo``..``hi``) or its ``choices``,
the widget that shows it, its label and its help. A bound therefore exists once: a shared link can
never hold a value the widgets cannot show. ``LabSettings`` is what the widgets hold (flat, one value
per field); ``to_config``/``to_options`` turn it into the foundation's ``ModelConfig``/``TrainOptions``;
``from_preset`` does the reverse for every course preset; ``to_query``/``from_query`` write the settings
as short URL parameters and read them back, clamping what is out of bounds and dropping what cannot be
read, with one sentence per parameter saying what happened.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from .models import (ACTIVATIONS, OPTIMIZER_LABELS, PADDINGS, PRESETS, ConfigError, ConvSpec, DenseSpec,
                     ModelConfig, TrainOptions)

MAX_BLOCKS = 3
MAX_DENSE = 2
KERNEL_SIZES = (1, 3, 5, 7)
BATCH_SIZES = (32, 64, 128, 256, 512, 1000, 2000, 5000, 10_000)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 1e-1)
TRAIN_SIZES = (500, 1000, 2000, 4000, 8000, 16_000, 30_000, 60_000, 0)  # 0: every training image
OPTIMIZER_NAMES = tuple(OPTIMIZER_LABELS)
SCHEDULES = ("constant", "cosine")
SCHEDULE_LABELS = {"constant": "constant", "cosine": "cosine decay"}
VALIDATION_FRACTION = 0.1
SEED = 42
WEIGHT_DECAYS = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)


@dataclass(frozen=True)
class Field:
    """One lab setting: how it is named in the URL, what values it takes, and the widget that shows it.

    ``widget`` is the kind of Streamlit widget ("slider", "select_slider", "radio", "selectbox",
    "number_input", "toggle", "checkbox"); ``block`` is the conv block (1..3) a per-block field
    belongs to and ``role`` its meaning there ("filters", "kernel", "convs", "pool")."""

    name: str
    url: str
    kind: type
    label: str
    widget: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: tuple = ()
    help: str = ""
    block: int = 0
    role: str = ""

    def clamp(self, value):
        """``(value within the table, what was changed or None)``; ``ValueError`` if it cannot be used."""
        if self.kind is bool:
            return bool(value), None
        if self.choices and self.kind is str:
            if value not in self.choices:
                raise ValueError(f"not one of {', '.join(map(str, self.choices))}")
            return value, None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not a finite number")
        if self.choices:
            ordered = sorted(c for c in self.choices if c) or list(self.choices)
            match = [c for c in self.choices if abs(c - value) <= 1e-9 * max(1.0, abs(c))]
            if match:
                return match[0], None
            if value < ordered[0] or value > ordered[-1]:
                if self.name == "n_train" and value > ordered[-1]:
                    return 0, "set to every image"
                end = ordered[0] if value < ordered[0] else ordered[-1]
                return end, f"set to {_fmt(end)}, the {'least' if end == ordered[0] else 'most'} the lab offers"
            raise ValueError(f"not one of {', '.join(_fmt(c) for c in self.choices)}")
        lo, hi = self.lo, self.hi
        value = self.kind(value)
        if value < lo:
            return self.kind(lo), f"set to {_fmt(self.kind(lo))}, the least the lab offers"
        if value > hi:
            return self.kind(hi), f"set to {_fmt(self.kind(hi))}, the most the lab offers"
        return value, None

    def parse(self, text: str):
        """A URL value as this field's type (not yet clamped); ``ValueError`` if it is not one."""
        text = text.strip()
        if not text:
            raise ValueError("empty")
        if self.kind is bool:
            if text not in ("0", "1"):
                raise ValueError("not 0 or 1")
            return text == "1"
        if self.kind is str:
            return text
        try:
            number = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        if self.kind is int and number != int(number):
            raise ValueError("not a whole number")
        return int(number) if self.kind is int else number

    @property
    def options(self) -> list:
        """What a choice widget lists (choices, or every whole value for a small range)."""
        if self.choices:
            return list(self.choices)
        return list(range(int(self.lo), int(self.hi) + 1))


def _block_fields(b: int) -> list[Field]:
    return [
        Field(f"filters{b}", f"f{b}", int, "Filters", "slider", 1, 128, block=b, role="filters"),
        Field(f"kernel{b}", f"k{b}", int, "Kernel size", "select_slider", choices=KERNEL_SIZES, block=b, role="kernel"),
        Field(f"convs{b}", f"c{b}", int, "Conv layers", "radio", 1, 2, block=b, role="convs",
              help="Two conv layers in a row see a wider patch before pooling (as in the batch-norm CNN)."),
        Field(f"stride{b}", f"s{b}", int, "Stride", "radio", 1, 2, block=b, role="stride",
              help="How far the first conv layer's kernel moves between output pixels: 2 halves the maps, as a "
                   "2×2 pool does, but the network learns what to keep instead of taking the maximum."),
        Field(f"pool{b}", f"p{b}", bool, "2×2 max-pool after", "checkbox", block=b, role="pool"),
    ]


FIELDS: tuple[Field, ...] = (
    Field("blocks", "b", int, "Conv blocks", "slider", 0, MAX_BLOCKS,
          help="0 makes a plain MLP: the 784 pixels go straight into the dense layers."),
    *[f for b in range(1, MAX_BLOCKS + 1) for f in _block_fields(b)],
    Field("padding", "pad", str, "Padding", "radio", choices=PADDINGS,
          help="'same' pads the border so a map keeps its size; 'valid' shrinks it by kernel − 1."),
    Field("batch_norm", "bn", bool, "Batch norm", "toggle",
          help="Normalise each layer's outputs over the batch (conv and dense layers), then apply the activation."),
    Field("conv_activation", "ca", str, "Conv activation", "selectbox", choices=ACTIVATIONS),
    Field("dense_layers", "dl", int, "Hidden dense layers", "slider", 0, MAX_DENSE),
    Field("units", "u", int, "Units per dense layer", "number_input", 1, 4096, step=1),
    Field("dense_activation", "da", str, "Dense activation", "selectbox", choices=ACTIVATIONS),
    Field("dropout", "do", float, "Dropout", "slider", 0.0, 0.8, step=0.05,
          help="The fraction of dense units switched off at random on each training step."),
    Field("optimizer", "opt", str, "Optimizer", "radio", choices=OPTIMIZER_NAMES),
    Field("learning_rate", "lr", float, "Learning rate", "select_slider", choices=LEARNING_RATES),
    Field("schedule", "sch", str, "Learning rate over time", "radio", choices=SCHEDULES),
    Field("batch_size", "bs", int, "Batch size", "select_slider", choices=BATCH_SIZES,
          help="Images per weight update. The course asks: what do 10,000 and 32 do to time and accuracy?"),
    Field("epochs", "ep", int, "Epochs", "slider", 1, 30),
    Field("augment", "aug", bool, "Augmentation", "toggle",
          help="Each batch is randomly rotated ±10°, shifted ±10 % and zoomed ±10 %."),
    Field("n_train", "n", int, "Training images", "select_slider", choices=TRAIN_SIZES,
          help="The first N training digits; the last 10 % of them are held out for the validation curve."),
    Field("weight_decay", "wd", float, "Weight decay (L2)", "select_slider", choices=WEIGHT_DECAYS,
          help="Each step also shrinks every weight by learning rate × this, pulling weights towards 0 as an L2 "
               "penalty does: a brake on memorising the training digits."),
    Field("seed", "seed", int, "Seed", "number_input", 0, 99_999, step=1,
          help="Decides the random starting weights and the order of the batches: the same seed and settings "
               "give the same run; another seed shows how much luck is in one run."),
)
FIELD = {f.name: f for f in FIELDS}
_BY_URL = {f.url: f for f in FIELDS}


@dataclass(frozen=True)
class ConvBlock:
    filters: int
    kernel: int
    convs: int
    pool: bool
    stride: int = 1


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
    stride1: int = 1
    stride2: int = 1
    stride3: int = 1
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
    seed: int = SEED
    weight_decay: float = 0.0

    def block(self, b: int) -> ConvBlock:
        """Conv block ``b`` (1-based), read through the table's per-block fields."""
        values = self.to_dict()
        return ConvBlock(**{f.role: values[f.name] for f in FIELDS if f.block == b})

    def to_config(self) -> ModelConfig:
        """The architecture these settings describe (not validated: see ``models.validate``)."""
        convs = []
        for b in range(1, self.blocks + 1):
            blk = self.block(b)
            for j in range(blk.convs):
                convs.append(ConvSpec(blk.filters, blk.kernel, self.padding, self.conv_activation, self.batch_norm,
                                      pool=blk.pool and j == blk.convs - 1, strides=blk.stride if j == 0 else 1))
        dense = tuple(DenseSpec(self.units, self.dense_activation, self.dropout, self.batch_norm)
                      for _ in range(self.dense_layers))
        return ModelConfig(convs=tuple(convs), dense=dense)

    def to_options(self) -> TrainOptions:
        """Training options; validation is always the last 10 % of the chosen images."""
        return TrainOptions(epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer,
                            learning_rate=self.learning_rate, lr_schedule=self.schedule, augment=self.augment,
                            n_train=self.n_train or None, validation_fraction=VALIDATION_FRACTION, seed=self.seed,
                            weight_decay=self.weight_decay)

    def summary(self) -> str:
        """One line, e.g. ``CNN 32@5×5 → 64@5×5 (same) · dense 1024 · adam 0.001 · batch 128 · 2 ep · 4,000 img``."""
        return f"{architecture_summary(self.to_config())} · {options_summary(self.to_options())}"

    def to_dict(self) -> dict:
        return asdict(self)


def within_table(settings: LabSettings) -> tuple[LabSettings, list[str]]:
    """The settings with every value brought inside the table, and a note per value that was changed."""
    changes, notes = {}, []
    for f in FIELDS:
        value = getattr(settings, f.name)
        try:
            fixed, why = f.clamp(value)
        except ValueError as exc:
            fixed, why = getattr(LabSettings(), f.name), f"{exc}; the default is used"
        if fixed != value or why:
            changes[f.name] = fixed
            notes.append(f"{f.label} {_fmt(value)}: {why}")
    return replace(settings, **changes), notes


def train_sizes(n_available: int) -> list[int]:
    """The ``n_train`` choices a data set of ``n_available`` training images offers (0 = all of them)."""
    return [n for n in TRAIN_SIZES if 0 < n < n_available] + [0]


def fit_to_data(settings: LabSettings, n_available: int) -> tuple[LabSettings, str | None]:
    """Settings whose number of training images this data set has, and a note if it had to change."""
    if settings.n_train in train_sizes(n_available):
        return settings, None
    return (replace(settings, n_train=0),
            f"Training images {settings.n_train:,}: this data set has {n_available:,}, so all of them are used")


def architecture_summary(config: ModelConfig) -> str:
    """A short description of an architecture, e.g. ``CNN 32@5×5 → 64@5×5 (same) · dense 1024 drop 0.4``."""
    parts = []
    if config.convs:
        pads = {c.padding for c in config.convs}
        convs = " → ".join(f"{c.filters}@{c.kernel_size}×{c.kernel_size}{f'/{c.strides}' if c.strides != 1 else ''}"
                           f"{'+BN' if c.batch_norm else ''}{' ↓' if c.pool else ''}" for c in config.convs)
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
    extra = ((" · aug" if options.augment else "") + (" · cosine" if options.lr_schedule == "cosine" else "")
             + (f" · wd {options.weight_decay:g}" if options.weight_decay else "")
             + (f" · seed {options.seed}" if options.seed != SEED else ""))
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
        if (cur and len(cur) == 1 and not cur[0].pool and c.strides == 1
                and (cur[0].filters, cur[0].kernel_size) == (c.filters, c.kernel_size)):
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
                   f"pool{b}": block[-1].pool, f"stride{b}": block[0].strides})
    if convs:
        ch.update(padding=convs[0].padding, conv_activation=convs[0].activation, batch_norm=convs[0].batch_norm)
    if config.dense:
        d = config.dense[0]
        ch.update(units=d.units, dense_activation=d.activation, dropout=d.dropout, batch_norm=d.batch_norm)
    if options is not None:
        ch.update(optimizer=options.optimizer, learning_rate=options.learning_rate, schedule=options.lr_schedule,
                  batch_size=options.batch_size, epochs=options.epochs, augment=options.augment)
    out = replace(base, **ch)
    if out.to_config() != config or within_table(out)[1]:
        raise ValueError("the lab's widgets cannot express this architecture")
    return out


def from_preset(key: str, base: LabSettings = LabSettings()) -> LabSettings:
    """A course preset's architecture and training options, keeping ``base``'s number of images."""
    p = PRESETS[key]
    return settings_from_config(p.config, p.train, base)


def check(settings: LabSettings) -> str | None:
    """The one-sentence reason these settings cannot be built, or ``None`` if they can."""
    from .models import validate

    try:
        validate(settings.to_config())
    except ConfigError as exc:
        return str(exc)
    return None


# --- the URL -----------------------------------------------------------------------------------

def _fmt(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def to_query(settings: LabSettings, defaults: LabSettings = LabSettings()) -> dict[str, str]:
    """URL parameters for the settings that differ from ``defaults`` (so a default lab has a clean URL)."""
    return {f.url: _fmt(getattr(settings, f.name)) for f in FIELDS
            if getattr(settings, f.name) != getattr(defaults, f.name)}


def from_query(params: dict, base: LabSettings = LabSettings()) -> tuple[LabSettings, list[str]]:
    """Settings from URL parameters (unknown keys ignored). Returns them and one note per parameter that
    was changed or dropped, e.g. ``ep=40 (set to 30, the most the lab offers)`` or ``do=abc (not a number; ignored)``."""
    changes, notes = {}, []
    for key, raw in params.items():
        f = _BY_URL.get(key)
        if f is None:
            continue
        text = str(raw[-1] if isinstance(raw, (list, tuple)) and raw else raw if not isinstance(raw, (list, tuple)) else "")
        try:
            value, why = f.clamp(f.parse(text))
        except (ValueError, TypeError, OverflowError) as exc:
            notes.append(f"{key}={text} ({exc}; ignored)")
            continue
        changes[f.name] = value
        if why:
            notes.append(f"{key}={text} ({why})")
    return replace(base, **changes), notes
