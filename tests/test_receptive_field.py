"""Receptive fields (mnistviz.receptive_field) against the gradient of one unit with respect to the input:
the pixels where that gradient is nonzero (over a batch of random positive inputs, so ReLUs and max
pooling let every pixel through at least once) are exactly the computed window."""

from __future__ import annotations

import numpy as np
import pytest

from mnistviz import receptive_field as rf

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
L = keras.layers


def gradient_region(model, layer_name: str, row: int, col: int, batch: int = 64) -> np.ndarray:
    """Boolean (28, 28): where d unit(layer, row, col) / d input is nonzero for some input of a batch of
    random positive images. The unit's channels are summed: a ReLU filter may be dead for every input."""
    probe = keras.Model(inputs=model.inputs[0], outputs=model.get_layer(layer_name).output)
    shape = (batch, *model.inputs[0].shape[1:])
    x = tf.constant(np.random.default_rng(0).uniform(0.1, 1.0, shape).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        unit = tf.reduce_sum(tf.cast(probe(x, training=False)[:, row, col, :], tf.float32))
    grad = np.abs(tape.gradient(unit, x).numpy()).sum(axis=0)
    return grad.reshape(28, 28) > 0


def window_mask(window: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = window
    mask = np.zeros((28, 28), bool)
    mask[top:bottom, left:right] = True
    return mask


def tiny(*layers) -> "keras.Model":
    keras.utils.set_random_seed(1)
    inp = keras.Input((28, 28, 1))
    out = inp
    for layer in layers:
        out = layer(out)
    return keras.Model(inp, out)


TINY_MODELS = {
    "valid-stride1-pool": lambda: tiny(L.Conv2D(2, 3, padding="valid", name="c1"), L.MaxPooling2D(2, name="p1"),
                                       L.Conv2D(2, 3, padding="valid", name="c2")),
    "same-stride2": lambda: tiny(L.Conv2D(2, 4, strides=2, padding="same", name="c1"),
                                 L.Conv2D(2, 3, strides=2, padding="same", name="c2"),
                                 L.AveragePooling2D(2, strides=1, padding="same", name="p1")),
    "valid-stride2-pool-same": lambda: tiny(L.Conv2D(2, 5, strides=2, padding="valid", name="c1"),
                                            L.MaxPooling2D(3, strides=2, padding="same", name="p1"),
                                            L.Conv2D(2, 2, padding="same", name="c2")),
}


def units(field: rf.Field) -> list[tuple[int, int]]:
    """Corner, edge and middle units of a layer's grid."""
    h, w = field.grid
    return sorted({(0, 0), (h - 1, w - 1), (0, w - 1), (h // 2, w // 2), (h // 3, 0)})


@pytest.mark.parametrize("name", list(TINY_MODELS))
def test_tiny_models_windows_match_the_gradient(name):
    model = TINY_MODELS[name]()
    # linear activations: no dead units, so the gradient is nonzero wherever the unit depends on a pixel
    for field in rf.fields(model):
        assert field.grid == tuple(model.get_layer(field.layer).output.shape[1:3])
        for row, col in units(field):
            np.testing.assert_array_equal(gradient_region(model, field.layer, row, col),
                                          window_mask(field.window(row, col)),
                                          err_msg=f"{name}: {field.layer} unit ({row}, {col}), {field}")


def test_default_model_fields(model):
    by_name = {f.layer: f for f in rf.fields(model)}
    assert (by_name["conv1"].size, by_name["conv1"].jump, by_name["conv1"].start) == ((5, 5), (1, 1), (-2, -2))
    assert (by_name["pool1"].size, by_name["pool1"].jump) == ((6, 6), (2, 2))
    assert (by_name["conv2"].size, by_name["conv2"].jump) == ((14, 14), (2, 2))
    assert (by_name["pool2"].size, by_name["pool2"].jump, by_name["pool2"].grid) == ((16, 16), (4, 4), (7, 7))
    assert by_name["dense"].whole and by_name["dense"].window(0, 0) == (0, 28, 0, 28)
    assert rf.window(model, "conv1", 0, 0) == (0, 3, 0, 3)  # clipped: "same" padding reaches past the edge
    # on pool1's 14×14 maps, a conv2 unit sees its own 5×5 kernel ("same": centred, clipped at the edge)
    assert rf.window_on(model, "conv2", 3, 3, "pool1") == (1, 6, 1, 6)
    assert rf.window_on(model, "conv2", 13, 0, "pool1") == (11, 14, 0, 3)
    assert rf.window_on(model, "pool2", 0, 0, "conv2") == (0, 2, 0, 2)


@pytest.mark.parametrize("layer_name", ["conv1", "pool1", "conv2", "pool2"])
def test_default_model_windows_match_the_gradient(model, layer_name):
    field = rf.field_of(model, layer_name)
    for row, col in units(field):
        np.testing.assert_array_equal(gradient_region(model, layer_name, row, col),
                                      window_mask(field.window(row, col)),
                                      err_msg=f"{layer_name} unit ({row}, {col}), {field}")


@pytest.mark.parametrize("name", list(TINY_MODELS))
def test_window_on_an_earlier_layer_matches_the_gradient(name):
    """The last layer's units on the first layer's maps: the gradient w.r.t. that layer's output."""
    model = TINY_MODELS[name]()
    first, *rest = [layer for layer in model.layers if not isinstance(layer, L.InputLayer)]
    x = tf.constant(np.random.default_rng(0).uniform(0.1, 1.0, (64, 28, 28, 1)).astype(np.float32))
    field = rf.fields(model)[-1]
    for row, col in units(field):
        maps = first(x)
        with tf.GradientTape() as tape:
            tape.watch(maps)
            out = maps
            for layer in rest:
                out = layer(out)
            unit = tf.reduce_sum(out[:, row, col, :])
        region = np.abs(tape.gradient(unit, maps).numpy()).sum(axis=(0, 3)) > 0
        top, bottom, left, right = rf.window_on(model, field.layer, row, col, first.name)
        expected = np.zeros(region.shape, bool)
        expected[top:bottom, left:right] = True
        np.testing.assert_array_equal(region, expected, err_msg=f"{name}: {field.layer} ({row}, {col}) on {first.name}")
