"""conv_inspect against the real default model's conv1/conv2/pool outputs and against Keras layers."""

import numpy as np
import pytest

import mnistviz  # noqa: F401
from mnistviz import activations, conv_inspect as ci, convarith as ca, data


@pytest.fixture(scope="module")
def digit():
    ds = data.load_sample()
    return data.scale(ds.x_test[3])


@pytest.fixture(scope="module")
def st_(model, digit):
    return activations.stage_dict(model, digit)


POSITIONS = [(0, 0), (0, 27), (27, 0), (27, 27), (1, 13), (14, 14), (20, 5)]


def test_finds_layers_by_class_and_graph(model):
    convs = ci.conv_layers(model)
    assert [c.name for c in convs] == ["conv1", "conv2"]
    assert [p.name for p in ci.pool_layers(model)] == ["pool1", "pool2"]
    names = activations.runner_for(model).names  # the stage order the pages show
    assert ci.feeding_stage(names, "conv1") == "reshape"
    assert ci.feeding_stage(names, "conv2") == "pool1" and ci.feeding_stage(names, "pool2") == "conv2"
    with pytest.raises(ValueError, match="first stage"):
        ci.feeding_stage(names, "reshape")
    assert ci.activation_name(convs[0]) == "relu"
    k, b = ci.kernels(convs[0])
    assert k.shape == (5, 5, 1, 32) and b.shape == (32,)
    k2, _ = ci.kernels(convs[1])
    assert k2.shape == (5, 5, 32, 64)
    assert k2.size + 64 == convs[1].count_params() == 51_264


@pytest.mark.parametrize("row,col", POSITIONS)
def test_conv1_pixel_equals_keras(model, st_, row, col):
    layer = model.get_layer("conv1")
    k, b = ci.kernels(layer)
    x = st_["reshape"].array[0]
    keras_out = st_["conv1"].array[0]
    for f in (0, 7, 31):
        px = ci.conv_pixel(x, k, b, row, col, f, layer.padding, ci.activation_name(layer))
        assert px.window.shape == (5, 5, 1)
        assert px.output == pytest.approx(float(keras_out[row, col, f]), abs=1e-4)
        assert px.pre_activation == pytest.approx(px.products.sum() + px.bias, abs=1e-5)


def test_conv1_border_window_is_zero_padded(model, st_):
    layer = model.get_layer("conv1")
    k, b = ci.kernels(layer)
    px = ci.conv_pixel(st_["reshape"].array[0], k, b, 0, 0, 0)
    # 'same' with a 5×5 kernel: two rows and two columns of zeros above and left of pixel (0, 0)
    assert np.all(px.window[:2] == 0) and np.all(px.window[:, :2] == 0)
    np.testing.assert_array_equal(px.window[2:, 2:, 0], st_["reshape"].array[0, :3, :3, 0])


@pytest.mark.parametrize("row,col", [(0, 0), (13, 13), (0, 13), (6, 9)])
def test_conv2_pixel_and_channel_contributions(model, st_, row, col):
    layer = model.get_layer("conv2")
    k, b = ci.kernels(layer)
    x = st_["pool1"].array[0]
    for f in (0, 40, 63):
        px = ci.conv_pixel(x, k, b, row, col, f, layer.padding, "relu")
        assert px.per_channel.shape == (32,)
        assert px.per_channel.sum() == pytest.approx(px.total, abs=1e-4)
        assert px.output == pytest.approx(float(st_["conv2"].array[0, row, col, f]), abs=1e-4)


def test_whole_layer_numpy_equals_keras(model, st_):
    for name, src in (("conv1", "reshape"), ("conv2", "pool1")):
        layer = model.get_layer(name)
        k, b = ci.kernels(layer)
        ours = ci.conv_forward(st_[src].array[0], k, b, layer.padding, "relu")
        np.testing.assert_allclose(ours, st_[name].array[0], atol=1e-4)


@pytest.mark.parametrize("padding,k,stride", [("valid", 3, 1), ("same", 4, 1), ("same", 3, 1), ("valid", 5, 1),
                                              ("same", 3, 2), ("valid", 3, 2), ("same", 4, 3)])
def test_padding_and_stride_match_a_real_keras_conv(padding, k, stride):
    import keras

    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 9, 8, 3)).astype(np.float32)
    layer = keras.layers.Conv2D(4, k, strides=stride, padding=padding, activation="tanh")
    y = np.asarray(layer(x))
    kern, b = ci.kernels(layer)
    np.testing.assert_allclose(ci.conv_forward(x[0], kern, b, padding, "tanh", stride), y[0], atol=1e-5)
    for row, col in ((0, 0), (y.shape[1] - 1, y.shape[2] - 1)):
        px = ci.conv_pixel(x[0], kern, b, row, col, 2, padding, "tanh", stride)
        assert px.output == pytest.approx(float(y[0, row, col, 2]), abs=1e-5)


def test_pool_equals_keras_and_argmax_points_at_the_max(st_):
    for src, dst in (("conv1", "pool1"), ("conv2", "pool2")):
        before, after = st_[src].array[0], st_[dst].array[0]
        for c in (0, 5, 31):
            p = ca.pool2d(before[..., c], 2)
            np.testing.assert_array_equal(p.output, after[..., c])
            at = p.argmax()
            r, q = at[..., 0], at[..., 1]
            np.testing.assert_array_equal(before[r, q, c], p.output)
            assert np.all(r // 2 == np.arange(p.output.shape[0])[:, None])


def test_same_pool_argmax_is_in_unpadded_coordinates():
    import keras

    m = np.array([[-3, -1, -2], [-4, -5, -6], [-1, -2, -7]], np.float32)
    p = ca.pool2d(m, 2, padding="same")
    keras_out = np.asarray(keras.layers.MaxPooling2D(2, padding="same")(m[None, :, :, None]))[0, :, :, 0]
    np.testing.assert_array_equal(p.output, keras_out)
    assert p.argmax().tolist() == [[[0, 1], [0, 2]], [[2, 0], [2, 2]]]  # never on a −∞ cell
    assert ca.pool2d(np.arange(49, dtype=np.float32).reshape(7, 7), 2).output.shape == (3, 3)

def test_zero_channel_and_run_from_moves_probabilities(model, st_):
    conv1 = st_["conv1"].array
    edited = ci.zero_channel(conv1, [3, 4])
    assert np.all(edited[..., 3:5] == 0) and np.array_equal(edited[..., 5], conv1[..., 5])
    assert np.any(conv1[..., 3] != 0)  # the original is untouched
    same = activations.run_from(model, "conv1", conv1)[-1].array
    np.testing.assert_allclose(same, st_["softmax"].array, atol=1e-5)
    everything_off = activations.run_from(model, "conv1", ci.zero_channel(conv1, range(32)))[-1].array
    assert not np.allclose(everything_off, st_["softmax"].array, atol=1e-3)


def test_samples_per_class():
    ds = data.load_sample()
    maps = ci.samples_per_class(ds.x_train, ds.y_train, per_class=4, seed=1)
    assert maps.shape == (28, 28, 40)
    for d in range(10):  # ordered digit by digit: each block of 4 maps is one class
        block = maps[..., 4 * d:4 * d + 4]
        assert all(any(np.array_equal(block[..., j], x) for x in ds.x_train[ds.y_train == d]) for j in range(4))


def test_a_click_on_the_mosaic_picks_the_map_under_it_and_on_a_map_its_cell():
    from mnistviz.figures import heatmap
    from mnistviz.figures.conv import pickable_cells, pickable_mosaic

    maps = np.random.default_rng(0).random((6, 5, 11)).astype(np.float32)  # 11 maps of 6×5, 4 per row
    fig = pickable_mosaic(maps, 4, "maps", 300)
    layer = fig.data[1]
    assert list(layer.customdata) == list(range(11)) and fig.layout.hoverdistance == -1
    # map 9 sits in mosaic row 2, column 1; each mosaic pixel is 4 screen pixels (upscale), borders 1 pixel
    assert (layer.x[9], layer.y[9]) == ((1 * 6 + 2) * 4 + 1.5, (2 * 7 + 2.5) * 4 + 1.5)
    assert ci.clicked_map([{"curve_number": 1, "x": layer.x[9], "y": layer.y[9], "customdata": 9}]) == 9
    assert ci.clicked_map([]) is None

    cells = pickable_cells(heatmap(maps[..., 0]), maps[..., 0])
    overlay = cells.data[1]
    k = next(i for i in range(len(overlay.x)) if (overlay.x[i], overlay.y[i]) == (3, 4))
    assert overlay.customdata[k] == pytest.approx(maps[4, 3, 0])
    assert ci.clicked_cell([{"curve_number": 1, "x": 3, "y": 4, "customdata": float(maps[4, 3, 0])}]) == (4, 3)
    assert ci.clicked_cell([]) is None
