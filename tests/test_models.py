"""Architectures: every preset against what Keras reports for the course's own code; config validation."""

import keras
import numpy as np
import pytest
from keras import layers

from mnistviz import models
from mnistviz.models import ConfigError, ConvSpec, DenseSpec, ModelConfig


def _course_models():
    """The course's own Keras code (shapes as in the notebooks), built here as the oracle."""
    def seq(*ls, shape=(28, 28, 1)):
        return keras.Sequential([keras.Input(shape=shape), *ls])

    return {
        "course_cnn": seq(layers.Reshape((28, 28, 1)), layers.Conv2D(32, 5, padding="same", activation="relu"),
                          layers.MaxPooling2D(2, 2), layers.Conv2D(64, 5, padding="same", activation="relu"),
                          layers.MaxPooling2D(2, 2), layers.Flatten(), layers.Dense(1024, activation="relu"),
                          layers.Dropout(0.4), layers.Dense(10), shape=(784,)),
        "tf_tutorial": seq(layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                           layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                           layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
                           layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")),
        "digit_recognition": seq(layers.Conv2D(28, kernel_size=(3, 3)), layers.MaxPooling2D(pool_size=(2, 2)),
                                 layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.2),
                                 layers.Dense(10, activation="softmax")),
        "convnet3": seq(layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
                        layers.Conv2D(64, (3, 3), activation="relu"), layers.Flatten(),
                        layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")),
        "bn_cnn": seq(layers.Conv2D(32, (3, 3)), layers.BatchNormalization(axis=-1), layers.Activation("relu"),
                      layers.Conv2D(32, (3, 3)), layers.BatchNormalization(axis=-1), layers.Activation("relu"),
                      layers.MaxPooling2D(pool_size=(2, 2)),
                      layers.Conv2D(64, (3, 3)), layers.BatchNormalization(axis=-1), layers.Activation("relu"),
                      layers.Conv2D(64, (3, 3)), layers.BatchNormalization(axis=-1), layers.Activation("relu"),
                      layers.MaxPooling2D(pool_size=(2, 2)), layers.Flatten(),
                      layers.Dense(512), layers.BatchNormalization(), layers.Activation("relu"), layers.Dropout(0.2),
                      layers.Dense(10), layers.Activation("softmax")),
        "mlp30": seq(layers.Flatten(), layers.Dense(30, activation="relu"), layers.Dense(10, activation="softmax"),
                     shape=(28, 28)),
        "mlp512": seq(layers.Dense(512), layers.Activation("relu"), layers.Dropout(0.2), layers.Dense(512),
                      layers.Activation("relu"), layers.Dropout(0.2), layers.Dense(10), layers.Activation("softmax"),
                      shape=(784,)),
    }


def test_every_preset_matches_the_course_code_and_keras():
    course = _course_models()
    course["default"] = course["course_cnn"]
    assert set(course) == set(models.PRESETS)
    for key, preset in models.PRESETS.items():
        built = models.build_model(preset.config)
        assert built.count_params() == course[key].count_params() == preset.course_params, key
        assert models.count_params(preset.config) == built.count_params(), key


def test_course_figures():
    assert models.PRESETS["tf_tutorial"].course_params == 93_322
    rows = {r.name: r for r in models.layer_table(models.PRESETS["course_cnn"].config)}
    assert rows["conv1"].formula == "(5·5·1 + 1)·32 = 832"
    assert rows["conv2"].params == 51_264
    assert rows["pool2"].output_shape == (7, 7, 64)
    assert rows["flatten"].output_shape == (3136,)
    assert rows["dense"].params == 3_212_288


@pytest.mark.parametrize("config", [
    models.PRESETS["default"].config,
    models.PRESETS["bn_cnn"].config,
    models.PRESETS["mlp512"].config,
    ModelConfig(convs=(ConvSpec(8, 7, "valid"), ConvSpec(4, 1, "same", activation="tanh"),
                       ConvSpec(3, 3, "valid", pool=False)), dense=(DenseSpec(17, dropout=0.5),)),
    # strides: 'same' 28 → 14 → 5 (⌈14/3⌉); 'valid' (28 − 5)//2 + 1 = 12, pooled to 6, then (6 − 3)//2 + 1 = 2
    ModelConfig(convs=(ConvSpec(4, 3, "same", pool=False, strides=2), ConvSpec(4, 3, "same", pool=False, strides=3))),
    ModelConfig(convs=(ConvSpec(4, 5, "valid", strides=2), ConvSpec(2, 3, "valid", pool=False, strides=2))),
])
def test_layer_table_equals_keras_layer_by_layer(config):
    model = models.build_model(config)
    rows = models.layer_table(config)
    # one row per Keras layer, input and softmax included: "Layers" counts the same everywhere
    assert len(rows) == len(model.layers)
    assert [r.name for r in rows] == [layer.name for layer in model.layers]
    assert (rows[0].kind, rows[-2].name, rows[-1].kind) == ("InputLayer", "logits", "Softmax")
    for row in rows:
        layer = model.get_layer(row.name)
        assert tuple(layer.output.shape[1:]) == row.output_shape, row.name
        assert layer.count_params() == row.params, row.name
        assert type(layer).__name__ == row.kind


def test_a_stride_of_1_leaves_a_config_as_it_was_stored():
    plain = models.PRESETS["course_cnn"].config
    assert "strides" not in plain.to_dict()["convs"][0]  # keys of runs stored before strides existed stay
    strided = ModelConfig(convs=(ConvSpec(strides=2),))
    assert ModelConfig.from_dict(strided.to_dict()) == strided and strided.fingerprint() != plain.fingerprint()


def test_stage_names_are_stable():
    names = [layer.name for layer in models.build_model(models.PRESETS["default"].config).layers]
    assert names == ["pixels", "reshape", "conv1", "pool1", "conv2", "pool2", "flatten", "dense", "dropout",
                     "logits", "softmax"]


def test_impossible_configs_name_the_layer_and_shapes():
    too_small = ModelConfig(convs=(ConvSpec(8, 7, "valid"), ConvSpec(8, 7, "valid"), ConvSpec(8, 7, "valid")),
                            dense=(DenseSpec(10),))
    with pytest.raises(ConfigError, match=r"conv3: a 7×7 kernel with 'valid' padding does not fit its 2×2×8 input \(it needs at least 7×7\)"):
        models.validate(too_small)
    pools = ModelConfig(convs=(ConvSpec(4, 3, "same"),) * 5, dense=())
    with pytest.raises(ConfigError, match=r"pool5: 2×2 max-pooling of the 1×1×4 output of conv5 would give 0×0"):
        models.validate(pools)
    with pytest.raises(ConfigError):
        models.build_model(too_small)  # rejected before Keras sees it


def test_config_round_trips_and_fingerprints():
    cfg = models.PRESETS["bn_cnn"].config
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.fingerprint() != models.PRESETS["convnet3"].config.fingerprint()


def test_keras_code_builds_the_same_model():
    cfg = models.PRESETS["tf_tutorial"].config
    namespace: dict = {}
    exec(models.keras_code(cfg, models.PRESETS["tf_tutorial"].train).replace("model.summary()", ""), namespace)
    assert namespace["model"].count_params() == 93_322
    x = np.zeros((1, 784), np.float32)
    assert namespace["model"](x).shape == (1, 10)


def test_keras_code_lines_are_the_layer_table_lines():
    cfg = models.PRESETS["bn_cnn"].config
    code = models.keras_code(cfg)
    for row in models.layer_table(cfg)[1:]:
        assert f"x = {row.keras.partition('  #')[0]}(x)" in code, row.name
    assert "keras.optimizers" not in code  # compiled only when options are given
    assert "keras.optimizers.RMSprop(" in models.keras_code(cfg, models.TrainOptions(optimizer="rmsprop"))


def test_optimizer_labels_cover_every_optimizer_keras_knows_by_that_name():
    for key, label in models.OPTIMIZER_LABELS.items():
        assert getattr(keras.optimizers, label)().__class__.__name__ == label, key
