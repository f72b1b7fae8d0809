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
from dataclasses import asdict, dataclass, field

from .data import INPUT_PIXELS, INPUT_SIDE

NUM_CLASSES = 10
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "linear")
PADDINGS = ("same", "valid")
#: Each optimizer's name as a person reads it, which is also its class in ``keras.optimizers``.
OPTIMIZER_LABELS = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}


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
    strides: int = 1  # how far the kernel moves per output pixel (2 halves the map, as pooling does)

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["strides"] == 1:  # absent means 1: runs stored before strides existed keep their keys
            del d["strides"]
        return d


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
        return {"convs": [c.to_dict() for c in self.convs], "dense": [asdict(d) for d in self.dense],
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
    # Decoupled weight decay (the optimizer's ``weight_decay``): every step also shrinks each weight by
    # learning rate × weight_decay, the L2 penalty's effect without its gradient term.
    weight_decay: float = 0.0
    # The store key of a finished run whose weights this one starts from ("continue for N more epochs");
    # "" starts from random weights.
    continue_from: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        for name in ("weight_decay", "continue_from"):  # absent means unset: earlier runs keep their keys
            if not d[name]:
                del d[name]
        return d

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


def _dense_names(j: int) -> tuple[str, str, str, str]:
    suffix = "" if j == 0 else str(j + 1)
    return f"dense{suffix}", f"dense{suffix}_bn", f"dense{suffix}_act", f"dropout{suffix}"


def _fused_activation(activation: str, batch_norm: bool) -> str | None:
    """The activation a Conv2D/Dense applies itself: none when batch norm comes between (an ``Activation``
    layer follows the normalisation instead) or when it is linear."""
    return None if batch_norm or activation == "linear" else activation


def _keras_value(v: object) -> str:
    return "None" if v is None else repr(v)


@dataclass(frozen=True)
class PlannedLayer:
    """One Keras layer of a config's plan: its class and arguments, and what it outputs (batch axis left out)."""

    name: str
    kind: str  # the Keras class, e.g. "Conv2D"; "InputLayer" for the input
    args: tuple = ()  # positional arguments of ``keras.layers.<kind>``
    kwargs: tuple[tuple[str, object], ...] = ()  # keyword arguments besides ``name``
    output_shape: tuple[int, ...] = ()
    params: int = 0
    formula: str = "no parameters"  # the parameter count written out, e.g. "(5·5·1 + 1)·32 = 832"
    comment: str = ""  # shown after the Keras line

    def keras_line(self) -> str:
        """One line of Keras code that makes this layer, e.g. ``layers.Dense(10, name='logits')``."""
        if self.kind == "InputLayer":
            return f"keras.Input(shape={self.output_shape!r}, name={self.name!r})"
        parts = [_keras_value(a) for a in self.args] + [f"{k}={_keras_value(v)}" for k, v in self.kwargs]
        line = f"layers.{self.kind}({', '.join(parts + [f'name={self.name!r}'])})"
        return f"{line}  # {self.comment}" if self.comment else line

    def build(self, dtype: str | None = None):
        """The Keras layer itself (``dtype``: a dtype policy; the softmax always computes in float32)."""
        from keras import layers

        extra = {"dtype": "float32"} if self.kind == "Softmax" else ({"dtype": dtype} if dtype else {})
        return getattr(layers, self.kind)(*self.args, **dict(self.kwargs), name=self.name, **extra)


def _check_spec(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def layer_plan(config: ModelConfig) -> list[PlannedLayer]:
    """Every Keras layer of ``config`` in order, with output shapes and parameter counts computed by hand.

    ``build_model``, ``layer_table`` and ``keras_code`` are all read off this plan. Raises
    ``ConfigError`` naming the layer and shapes when a feature map would shrink below 1×1.
    """
    from .convarith import conv_params, params_formula

    plan = [PlannedLayer("pixels", "InputLayer", output_shape=(INPUT_PIXELS,))]
    n_in = INPUT_PIXELS
    if config.convs:
        plan.append(PlannedLayer("reshape", "Reshape", ((INPUT_SIDE, INPUT_SIDE, 1),), (), (INPUT_SIDE, INPUT_SIDE, 1),
                                 comment="same as tf.reshape(x, [-1, 28, 28, 1])"))
        h = w = INPUT_SIDE
        c = 1
        n_pool = 0
        for i, spec in enumerate(config.convs, start=1):
            k, s = spec.kernel_size, spec.strides
            _check_spec(spec.padding in PADDINGS, f"conv{i}: padding must be 'same' or 'valid', got {spec.padding!r}")
            _check_spec(s >= 1, f"conv{i}: the stride must be at least 1, got {s}")
            _check_spec(spec.activation in ACTIVATIONS, f"conv{i}: unknown activation {spec.activation!r}")
            _check_spec(spec.filters >= 1 and k >= 1,
                        f"conv{i}: needs at least one filter and a kernel of at least 1×1")
            if spec.padding == "valid":
                nh, nw = (h - k) // s + 1, (w - k) // s + 1
                _check_spec(h >= k and w >= k,
                            f"conv{i}: a {k}×{k} kernel with 'valid' padding does not fit its {h}×{w}×{c} input "
                            f"(it needs at least {k}×{k}); use a smaller kernel, 'same' padding or fewer conv blocks")
                h, w = nh, nw
            else:
                h, w = -(-h // s), -(-w // s)  # 'same': ⌈n / s⌉
            params = conv_params(k, c, spec.filters)
            stride_arg = (("strides", s),) if s != 1 else ()
            plan.append(PlannedLayer(
                f"conv{i}", "Conv2D", (spec.filters, (k, k)),
                (*stride_arg, ("padding", spec.padding), ("activation", _fused_activation(spec.activation, spec.batch_norm))),
                (h, w, spec.filters), params, params_formula(k, c, spec.filters)))
            c = spec.filters
            if spec.batch_norm:
                plan += _batch_norm_layers(f"bn{i}", f"act{i}", (h, w, c), spec.activation)
            if spec.pool:
                n_pool += 1
                nh, nw = h // 2, w // 2
                _check_spec(nh >= 1 and nw >= 1,
                            f"pool{n_pool}: 2×2 max-pooling of the {h}×{w}×{c} output of conv{i} would give {nh}×{nw}; "
                            "use 'same' padding, smaller kernels or fewer conv blocks")
                h, w = nh, nw
                plan.append(PlannedLayer(f"pool{n_pool}", "MaxPooling2D", ((2, 2),), (("strides", 2),), (h, w, c)))
        n_in = h * w * c
        plan.append(PlannedLayer("flatten", "Flatten", output_shape=(n_in,),
                                 formula=f"{h}·{w}·{c} = {n_in:,} values, no parameters",
                                 comment="hwc[0] * hwc[1] * hwc[2] values"))
    for j, spec in enumerate(config.dense):
        name, bn_name, act_name, drop_name = _dense_names(j)
        _check_spec(spec.units >= 1, f"{name}: needs at least one unit")
        _check_spec(0.0 <= spec.dropout < 1.0, f"{drop_name}: dropout rate must be in [0, 1), got {spec.dropout}")
        plan.append(_dense_layer(name, n_in, spec.units, _fused_activation(spec.activation, spec.batch_norm)))
        if spec.batch_norm:
            plan += _batch_norm_layers(bn_name, act_name, (spec.units,), spec.activation)
        if spec.dropout > 0:
            plan.append(PlannedLayer(drop_name, "Dropout", (spec.dropout,), (), (spec.units,)))
        n_in = spec.units
    plan.append(_dense_layer("logits", n_in, config.num_classes, None, with_activation=False))
    plan.append(PlannedLayer("softmax", "Softmax", output_shape=(config.num_classes,)))
    return plan


def _dense_layer(name: str, n_in: int, units: int, activation: str | None,
                 with_activation: bool = True) -> PlannedLayer:
    params = (n_in + 1) * units
    kwargs = (("activation", activation),) if with_activation else ()
    return PlannedLayer(name, "Dense", (units,), kwargs, (units,), params, f"({n_in:,} + 1)·{units:,} = {params:,}")


def _batch_norm_layers(bn_name: str, act_name: str, shape: tuple[int, ...], activation: str) -> list[PlannedLayer]:
    """Batch normalisation (4 numbers per channel) and the activation moved after it."""
    c = shape[-1]
    return [PlannedLayer(bn_name, "BatchNormalization", output_shape=shape, params=4 * c,
                         formula=f"4·{c} = {4 * c:,} (γ, β trainable; mean, variance not)"),
            PlannedLayer(act_name, "Activation", (activation,), (), shape)]


@dataclass(frozen=True)
class LayerRow:
    """One layer of an architecture as the explainer shows it (shapes without the batch axis)."""

    name: str
    kind: str  # the Keras class: "InputLayer", "Reshape", "Conv2D", "BatchNormalization", "MaxPooling2D", …
    output_shape: tuple[int, ...]
    params: int
    formula: str  # the parameter count written out, e.g. "(5·5·1 + 1)·32 = 832"
    keras: str  # one line of Keras code that makes this layer

    @property
    def batch_shape(self) -> tuple:
        return (None, *self.output_shape)


def layer_table(config: ModelConfig) -> list[LayerRow]:
    """Every layer's output shape and parameter count, computed by hand (no Keras), in order.

    One row per layer of ``build_model(config).layers``, from the input to the softmax. Raises
    ``ConfigError`` naming the layer and shapes when a feature map would shrink below 1×1.
    """
    return [LayerRow(p.name, p.kind, p.output_shape, p.params, p.formula, p.keras_line()) for p in layer_plan(config)]


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
    plan = layer_plan(config)
    import keras

    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=plan[0].output_shape, name=plan[0].name)
    x = inputs
    for layer in plan[1:]:
        x = layer.build(dtype)(x)
    return keras.Model(inputs, x, name=name)


def keras_code(config: ModelConfig, options: TrainOptions | None = None) -> str:
    """Standalone Python that builds (and, given ``options``, compiles) the same model."""
    lines = [
        "import keras",
        "from keras import layers",
        "",
    ]
    plan = layer_plan(config)
    lines += [f"inputs = {plan[0].keras_line()}  # flat 28×28 images, scaled to [0, 1]", "x = inputs"]
    for layer in plan[1:]:
        code, _, comment = layer.keras_line().partition("  #")
        lines.append(f"x = {code}(x)" + (f"  #{comment}" if comment else ""))
    lines += ["outputs = x", "model = keras.Model(inputs, outputs)"]
    if options is not None:
        opt = OPTIMIZER_LABELS[options.optimizer]
        decay = f", weight_decay={options.weight_decay:g}" if options.weight_decay else ""
        lines.insert(2, f"keras.utils.set_random_seed({options.seed})  # the same seed, the same starting weights")
        lines += [
            f"model.compile(optimizer=keras.optimizers.{opt}(learning_rate={options.learning_rate}{decay}),",
            "              loss='sparse_categorical_crossentropy', metrics=['accuracy'])",
            f"# model.fit(x_train.reshape(-1, 784) / 255, y_train, epochs={options.epochs}, batch_size={options.batch_size})",
        ]
    lines.append("model.summary()")
    return "\n".join(lines) + "\n"
