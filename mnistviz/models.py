"""Architectures: a config object, the course's presets, shape and parameter arithmetic, building.

Every model takes the flat 784-pixel input and, if it has convolutions, reshapes it to NHWC
``(N, 28, 28, 1)`` as its first layer (the course text's ``tf.reshape(inputs, [-1, 28, 28, 1])``).
Logits and softmax are separate layers so that both can be shown. Layer names are stable per
stage: ``reshape``, ``conv1``, [``bn1``, ``act1``], ``pool1``, ``conv2``, …, ``flatten``,
``dense``, ``dropout``, ``dense2``, ``dropout2``, …, ``logits``, ``softmax``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace

INPUT_SIDE = 28
NUM_CLASSES = 10
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "linear")
PADDINGS = ("same", "valid")
OPTIMIZERS = ("adam", "rmsprop", "sgd")


class ConfigError(ValueError):
    """An architecture that cannot be built, with a message that names the layer and the shapes."""


@dataclass(frozen=True)
class ConvSpec:
    """One ``Conv2D`` (optionally batch-normalised), optionally followed by a 2×2 max-pool."""

    filters: int = 32
    kernel_size: int = 5
    padding: str = "same"
    activation: str = "relu"
    batch_norm: bool = False
    pool: bool = True


@dataclass(frozen=True)
class DenseSpec:
    """One hidden ``Dense`` layer (optionally batch-normalised), optionally followed by dropout."""

    units: int = 1024
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False


@dataclass(frozen=True)
class ModelConfig:
    """An architecture: conv layers (each maybe pooled), then hidden dense layers, then 10 logits."""

    convs: tuple[ConvSpec, ...] = ()
    dense: tuple[DenseSpec, ...] = ()
    num_classes: int = NUM_CLASSES

    def to_dict(self) -> dict:
        return {"convs": [asdict(c) for c in self.convs], "dense": [asdict(d) for d in self.dense],
                "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(
            convs=tuple(ConvSpec(**c) for c in d.get("convs", ())),
            dense=tuple(DenseSpec(**x) for x in d.get("dense", ())),
            num_classes=int(d.get("num_classes", NUM_CLASSES)),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    @property
    def is_cnn(self) -> bool:
        return bool(self.convs)


@dataclass(frozen=True)
class TrainOptions:
    """Everything about a training run except the architecture and the data."""

    epochs: int = 5
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # or "cosine": decays to 0 over the run
    augment: bool = False  # random rotation ±10°, shift ±10 %, zoom ±10 % per batch
    n_train: int | None = None  # use only the first n training images (None: all)
    validation_fraction: float = 0.1
    seed: int = 42
    # "float32", or "auto": bfloat16 arithmetic (float32 weights) where the CPU computes bfloat16
    # natively, which about halves training time there. Only for a process of its own (the CLI):
    # Keras keeps its bfloat16 autocast switch in global state that keras.backend.clear_session()
    # wipes for every thread, and Streamlit calls that after each rerun of any session, so a
    # bfloat16 run inside the app would not be reproducible.
    precision: str = "float32"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainOptions":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    source: str  # which course material it comes from
    config: ModelConfig
    train: TrainOptions = field(default_factory=TrainOptions)
    course_params: int = 0  # what Keras reports for the course's own code


COURSE_CNN = ModelConfig(
    convs=(ConvSpec(32, 5, "same"), ConvSpec(64, 5, "same")),
    dense=(DenseSpec(1024, dropout=0.4),),
)

PRESETS: dict[str, Preset] = {p.key: p for p in [
    Preset("default", "Default model (course CNN, trained with augmentation)",
           "the course text's LeNet-style CNN, trained on the bundled sample with augmentation and a cosine schedule",
           COURSE_CNN,
           TrainOptions(epochs=16, batch_size=128, learning_rate=2e-3, lr_schedule="cosine", augment=True,
                        validation_fraction=0.0, seed=7, precision="auto"),
           3_274_634),
    Preset("course_cnn", "Course text: LeNet-style CNN",
           "course text (MNISTModel): 32@5×5 same → pool → 64@5×5 same → pool → dense 1024 → dropout 0.4 → 10",
           COURSE_CNN, TrainOptions(epochs=5, batch_size=128), 3_274_634),
    Preset("tf_tutorial", "TensorFlow tutorial CNN",
           "CNN notebook (TensorFlow tutorial): 32@3×3 → pool → 64@3×3 → pool → 64@3×3 → dense 64 → 10",
           ModelConfig(convs=(ConvSpec(32, 3, "valid"), ConvSpec(64, 3, "valid"), ConvSpec(64, 3, "valid", pool=False)),
                       dense=(DenseSpec(64),)),
           TrainOptions(epochs=10, batch_size=1000), 93_322),
    Preset("digit_recognition", "Digit-recognition notebook CNN",
           "digit-recognition notebook: Conv2D(28, 3×3, no activation) → pool → dense 128 → dropout 0.2 → 10",
           ModelConfig(convs=(ConvSpec(28, 3, "valid", activation="linear"),), dense=(DenseSpec(128, dropout=0.2),)),
           TrainOptions(epochs=5, batch_size=32), 607_394),
    Preset("convnet3", "Three-conv convnet (64 filters)",
           "intro-to-CNNs notebook: 64@3×3 → pool → 64@3×3 → pool → 64@3×3 → dense 64 → 10, RMSprop",
           ModelConfig(convs=(ConvSpec(64, 3, "valid"), ConvSpec(64, 3, "valid"), ConvSpec(64, 3, "valid", pool=False)),
                       dense=(DenseSpec(64),)),
           TrainOptions(epochs=5, batch_size=64, optimizer="rmsprop"), 112_074),
    Preset("bn_cnn", "Batch-norm CNN with augmentation",
           "'Hello World' notebook: 2×(32@3×3+BN) → pool → 2×(64@3×3+BN) → pool → dense 512+BN → dropout 0.2 → 10",
           ModelConfig(convs=(ConvSpec(32, 3, "valid", batch_norm=True, pool=False), ConvSpec(32, 3, "valid", batch_norm=True),
                              ConvSpec(64, 3, "valid", batch_norm=True, pool=False), ConvSpec(64, 3, "valid", batch_norm=True)),
                       dense=(DenseSpec(512, dropout=0.2, batch_norm=True),)),
           TrainOptions(epochs=5, batch_size=128, augment=True), 597_738),
    Preset("mlp30", "MLP, one hidden layer of 30",
           "intro-to-CNNs notebook: Flatten → dense 30 → 10, RMSprop",
           ModelConfig(dense=(DenseSpec(30),)), TrainOptions(epochs=5, batch_size=64, optimizer="rmsprop"), 23_860),
    Preset("mlp512", "MLP, 512-512 with dropout 0.2",
           "'Hello World' notebook: dense 512 → dropout 0.2 → dense 512 → dropout 0.2 → 10",
           ModelConfig(dense=(DenseSpec(512, dropout=0.2), DenseSpec(512, dropout=0.2))),
           TrainOptions(epochs=5, batch_size=128), 669_706),
]}

DEFAULT_PRESET = "default"


@dataclass(frozen=True)
class LayerRow:
    """One layer of an architecture as the explainer shows it (shapes without the batch axis)."""

    name: str
    kind: str  # "Input", "Reshape", "Conv2D", "BatchNormalization", "Activation", "MaxPooling2D", …
    output_shape: tuple[int, ...]
    params: int
    formula: str  # the parameter count written out, e.g. "(5·5·1 + 1)·32 = 832"
    keras: str  # one line of Keras code that makes this layer

    @property
    def batch_shape(self) -> tuple:
        return (None, *self.output_shape)


def _dense_names(j: int) -> tuple[str, str, str, str]:
    suffix = "" if j == 0 else str(j + 1)
    return f"dense{suffix}", f"dense{suffix}_bn", f"dense{suffix}_act", f"dropout{suffix}"


def layer_table(config: ModelConfig) -> list[LayerRow]:
    """Every layer's output shape and parameter count, computed by hand (no Keras), in order.

    Raises ``ConfigError`` naming the layer and shapes when a feature map would shrink below 1×1.
    """
    rows = [LayerRow("pixels", "Input", (784,), 0, "no parameters", "keras.Input(shape=(784,))")]
    if config.convs:
        rows.append(LayerRow("reshape", "Reshape", (28, 28, 1), 0, "no parameters",
                             "layers.Reshape((28, 28, 1))  # same as tf.reshape(x, [-1, 28, 28, 1])"))
        h = w = INPUT_SIDE
        c = 1
        n_pool = 0
        for i, spec in enumerate(config.convs, start=1):
            k = spec.kernel_size
            if spec.padding not in PADDINGS:
                raise ConfigError(f"conv{i}: padding must be 'same' or 'valid', got {spec.padding!r}")
            if spec.activation not in ACTIVATIONS:
                raise ConfigError(f"conv{i}: unknown activation {spec.activation!r}")
            if spec.filters < 1 or k < 1:
                raise ConfigError(f"conv{i}: needs at least one filter and a kernel of at least 1×1")
            if spec.padding == "valid":
                nh, nw = h - k + 1, w - k + 1
                if nh < 1 or nw < 1:
                    raise ConfigError(
                        f"conv{i}: a {k}×{k} kernel with 'valid' padding does not fit its {h}×{w}×{c} input "
                        f"(it needs at least {k}×{k}); use a smaller kernel, 'same' padding or fewer conv blocks")
                h, w = nh, nw
            params = (k * k * c + 1) * spec.filters
            act = "None" if spec.batch_norm or spec.activation == "linear" else repr(spec.activation)
            rows.append(LayerRow(
                f"conv{i}", "Conv2D", (h, w, spec.filters), params,
                f"({k}·{k}·{c} + 1)·{spec.filters} = {params:,}",
                f"layers.Conv2D({spec.filters}, ({k}, {k}), padding={spec.padding!r}, activation={act}, name='conv{i}')"))
            c = spec.filters
            if spec.batch_norm:
                rows.append(LayerRow(f"bn{i}", "BatchNormalization", (h, w, c), 4 * c,
                                     f"4·{c} = {4 * c:,} (γ, β trainable; mean, variance not)",
                                     f"layers.BatchNormalization(name='bn{i}')"))
                rows.append(LayerRow(f"act{i}", "Activation", (h, w, c), 0, "no parameters",
                                     f"layers.Activation({spec.activation!r}, name='act{i}')"))
            if spec.pool:
                n_pool += 1
                nh, nw = h // 2, w // 2
                if nh < 1 or nw < 1:
                    raise ConfigError(
                        f"pool{n_pool}: 2×2 max-pooling of the {h}×{w}×{c} output of conv{i} would give {nh}×{nw}; "
                        "use 'same' padding, smaller kernels or fewer conv blocks")
                h, w = nh, nw
                rows.append(LayerRow(f"pool{n_pool}", "MaxPooling2D", (h, w, c), 0, "no parameters",
                                     f"layers.MaxPooling2D((2, 2), strides=2, name='pool{n_pool}')"))
        n_in = h * w * c
        rows.append(LayerRow("flatten", "Flatten", (n_in,), 0, f"{h}·{w}·{c} = {n_in:,} values, no parameters",
                             "layers.Flatten(name='flatten')  # hwc[0] * hwc[1] * hwc[2] values"))
    else:
        n_in = 784
    for j, spec in enumerate(config.dense):
        name, bn_name, act_name, drop_name = _dense_names(j)
        if spec.units < 1:
            raise ConfigError(f"{name}: needs at least one unit")
        if not 0.0 <= spec.dropout < 1.0:
            raise ConfigError(f"{drop_name}: dropout rate must be in [0, 1), got {spec.dropout}")
        params = (n_in + 1) * spec.units
        act = "None" if spec.batch_norm or spec.activation == "linear" else repr(spec.activation)
        rows.append(LayerRow(name, "Dense", (spec.units,), params, f"({n_in:,} + 1)·{spec.units:,} = {params:,}",
                             f"layers.Dense({spec.units}, activation={act}, name='{name}')"))
        if spec.batch_norm:
            rows.append(LayerRow(bn_name, "BatchNormalization", (spec.units,), 4 * spec.units,
                                 f"4·{spec.units} = {4 * spec.units:,} (γ, β trainable; mean, variance not)",
                                 f"layers.BatchNormalization(name='{bn_name}')"))
            rows.append(LayerRow(act_name, "Activation", (spec.units,), 0, "no parameters",
                                 f"layers.Activation({spec.activation!r}, name='{act_name}')"))
        if spec.dropout > 0:
            rows.append(LayerRow(drop_name, "Dropout", (spec.units,), 0, "no parameters",
                                 f"layers.Dropout({spec.dropout}, name='{drop_name}')"))
        n_in = spec.units
    params = (n_in + 1) * config.num_classes
    rows.append(LayerRow("logits", "Dense", (config.num_classes,), params,
                         f"({n_in:,} + 1)·{config.num_classes} = {params:,}",
                         f"layers.Dense({config.num_classes}, name='logits')"))
    rows.append(LayerRow("softmax", "Softmax", (config.num_classes,), 0, "no parameters",
                         "layers.Softmax(name='softmax')"))
    return rows


def validate(config: ModelConfig) -> None:
    """Raise ``ConfigError`` if ``config`` cannot be built (see ``layer_table``)."""
    layer_table(config)


def count_params(config: ModelConfig) -> int:
    """Total parameters (trainable and not), as ``model.count_params()`` reports."""
    return sum(r.params for r in layer_table(config))


def build_model(config: ModelConfig, seed: int | None = None, name: str = "mnistviz_cnn", dtype: str | None = None):
    """Build (not compile) the Keras model for ``config``: flat ``(N, 784)`` in, ``(N, 10)`` probabilities out.

    ``dtype`` is a Keras dtype policy for every layer but the softmax, e.g. ``"mixed_bfloat16"``
    for fast training (weights stay float32; the softmax always computes in float32).
    """
    validate(config)
    import keras
    from keras import layers

    if seed is not None:
        keras.utils.set_random_seed(seed)
    d = {"dtype": dtype} if dtype else {}
    inputs = keras.Input(shape=(784,), name="pixels")
    x = inputs
    if config.convs:
        x = layers.Reshape((INPUT_SIDE, INPUT_SIDE, 1), name="reshape", **d)(x)
        n_pool = 0
        for i, spec in enumerate(config.convs, start=1):
            act = None if spec.batch_norm or spec.activation == "linear" else spec.activation
            x = layers.Conv2D(spec.filters, spec.kernel_size, padding=spec.padding, activation=act, name=f"conv{i}",
                              **d)(x)
            if spec.batch_norm:
                x = layers.BatchNormalization(name=f"bn{i}", **d)(x)
                x = layers.Activation(spec.activation, name=f"act{i}", **d)(x)
            if spec.pool:
                n_pool += 1
                x = layers.MaxPooling2D((2, 2), strides=2, name=f"pool{n_pool}", **d)(x)
        x = layers.Flatten(name="flatten", **d)(x)
    for j, spec in enumerate(config.dense):
        dense_name, bn_name, act_name, drop_name = _dense_names(j)
        act = None if spec.batch_norm or spec.activation == "linear" else spec.activation
        x = layers.Dense(spec.units, activation=act, name=dense_name, **d)(x)
        if spec.batch_norm:
            x = layers.BatchNormalization(name=bn_name, **d)(x)
            x = layers.Activation(spec.activation, name=act_name, **d)(x)
        if spec.dropout > 0:
            x = layers.Dropout(spec.dropout, name=drop_name, **d)(x)
    x = layers.Dense(config.num_classes, name="logits", **d)(x)
    outputs = layers.Softmax(name="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def keras_code(config: ModelConfig, options: TrainOptions | None = None) -> str:
    """Standalone Python that builds (and, given ``options``, compiles) the same model."""
    lines = [
        "import keras",
        "from keras import layers",
        "",
        "inputs = keras.Input(shape=(784,), name='pixels')  # flat 28×28 images, scaled to [0, 1]",
        "x = inputs",
    ]
    for row in layer_table(config)[1:]:
        code, _, comment = row.keras.partition("  #")
        lines.append(f"x = {code}(x)" + (f"  #{comment}" if comment else ""))
    lines += ["outputs = x", "model = keras.Model(inputs, outputs)"]
    if options is not None:
        opt = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}[options.optimizer]
        lines += [
            f"model.compile(optimizer=keras.optimizers.{opt}(learning_rate={options.learning_rate}),",
            "              loss='sparse_categorical_crossentropy', metrics=['accuracy'])",
            f"# model.fit(x_train.reshape(-1, 784) / 255, y_train, epochs={options.epochs}, batch_size={options.batch_size})",
        ]
    lines.append("model.summary()")
    return "\n".join(lines) + "\n"


def with_conv(config: ModelConfig, index: int, **changes) -> ModelConfig:
    """A copy of ``config`` with conv layer ``index`` (0-based) changed."""
    convs = list(config.convs)
    convs[index] = replace(convs[index], **changes)
    return replace(config, convs=tuple(convs))

