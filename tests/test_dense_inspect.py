"""mnistviz.dense_inspect against NumPy's reshape, Keras' Dropout, Keras' cross-entropy and the real default model."""

import numpy as np
import pytest

from mnistviz import activations, data, dense_inspect as di, figures, models, pretrained


@pytest.fixture(scope="module")
def default_model():
    return pretrained.load_default_model()


@pytest.fixture(scope="module")
def digit_stages(default_model):
    ds = data.load_sample()
    return activations.stage_dict(default_model, data.scale(ds.x_test[3]))


@pytest.mark.parametrize("hwc", [(7, 7, 64), (3, 3, 64), (14, 14, 32), (2, 5, 3), (1, 1, 1)])
def test_index_mapping_round_trips_and_matches_numpy_reshape(hwc):
    n = di.flattened_size(hwc)
    block = np.arange(n).reshape(hwc)  # each cell holds its own flat index under NumPy's C order
    for k in range(n):
        r, c, ch = di.unflat_index(k, hwc)
        assert di.flat_index(r, c, ch, hwc) == k
        assert block[r, c, ch] == k


def test_index_mapping_rejects_outside():
    with pytest.raises(IndexError):
        di.unflat_index(3136, (7, 7, 64))
    with pytest.raises(IndexError):
        di.flat_index(7, 0, 0, (7, 7, 64))


def test_flatten_of_real_pool2_follows_the_mapping(digit_stages):
    pool2, flat = digit_stages["pool2"].array[0], digit_stages["flatten"].array[0]
    hwc = pool2.shape
    assert hwc == (7, 7, 64) and di.flattened_size(hwc) == 3136 == flat.size
    assert np.array_equal(flat, pool2.reshape(-1))
    picked = np.array([pool2[di.unflat_index(k, hwc)] for k in range(flat.size)])
    assert np.array_equal(picked, flat)
    assert np.array_equal(di.strip_rows(flat, hwc)[3 * 7 + 4], pool2[3, 4])


def test_unit_weights_reshape_to_pool2_and_reproduce_the_dense_stage(default_model, digit_stages):
    layer = default_model.get_layer("dense")
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    unit = int(digit_stages["dense"].array[0].argmax())
    w = di.unit_weights(kernel, unit, (7, 7, 64))
    assert w.shape == (7, 7, 64)
    for r, c, ch in [(0, 0, 0), (3, 5, 17), (6, 6, 63)]:
        assert w[r, c, ch] == kernel[di.flat_index(r, c, ch, (7, 7, 64)), unit]
    z = di.unit_preactivation(kernel, bias, digit_stages["flatten"].array, unit)
    assert max(z, 0.0) == pytest.approx(float(digit_stages["dense"].array[0, unit]), abs=1e-4)
    with pytest.raises(ValueError):
        di.unit_weights(kernel, 0, (28, 28, 1))


def test_softmax_from_logits_equals_the_models_softmax_stage(digit_stages):
    z, p = digit_stages["logits"].array[0], digit_stages["softmax"].array[0]
    np.testing.assert_allclose(di.softmax(z), p, atol=1e-6)
    t = di.softmax_terms(z)
    np.testing.assert_allclose(t.probs, p, atol=1e-6)
    assert t.total == pytest.approx(t.exps.sum())


def test_cross_entropy_equals_keras_and_minus_log_p():
    import keras

    z = np.array([2.0, -1.0, 0.5, 7.0, 0.0, -3.0, 1.0, 1.5, 0.2, -0.4])
    for label in (3, 5):
        expected = float(keras.losses.sparse_categorical_crossentropy(np.array([label]), z[None], from_logits=True)[0])
        assert di.cross_entropy(z, label) == pytest.approx(expected, rel=1e-5)
        assert di.cross_entropy(z, label) == pytest.approx(-np.log(di.softmax(z)[label]))
    big = np.array([900.0, 0.0, -900.0])  # exp overflows without the shift
    assert di.cross_entropy(big, 0) == pytest.approx(0.0) and di.cross_entropy(big, 1) == pytest.approx(900.0)
    terms = di.softmax_terms(big)
    assert terms.shift == 900.0 and np.isfinite(terms.total) and terms.probs[0] == pytest.approx(1.0)


def test_dropout_simulation_matches_keras_dropout_statistics():
    import keras

    rate, n = 0.4, 200_000
    x = np.ones(n, np.float32)
    out, keep = di.apply_dropout(x, rate, seed=3)
    assert abs((~keep).mean() - rate) < 0.01
    assert np.all(out[~keep] == 0) and np.allclose(out[keep], 1 / (1 - rate))
    assert abs(out.mean() - 1.0) < 0.01  # the rescale keeps the total on average
    again, keep2 = di.apply_dropout(x, rate, seed=3)
    assert np.array_equal(again, out) and not np.array_equal(di.apply_dropout(x, rate, seed=4)[1], keep)

    kout = np.asarray(keras.layers.Dropout(rate, seed=1)(x[None], training=True))[0]
    k_zero = kout == 0
    assert abs(k_zero.mean() - rate) < 0.01
    np.testing.assert_allclose(kout[~k_zero], 1 / (1 - rate), rtol=1e-6)
    assert abs(kout.mean() - out.mean()) < 0.02
    assert np.array_equal(np.asarray(keras.layers.Dropout(rate)(x[None], training=False))[0], x)
    with pytest.raises(ValueError):
        di.dropout_mask(10, 1.0, 0)


@pytest.mark.parametrize("n,shape", [(1024, (32, 32)), (512, (16, 32)), (64, (8, 8)), (30, (5, 6)), (128, (8, 16)),
                                     (10, (2, 5)), (1, (1, 1))])
def test_grid_shape(n, shape):
    assert di.grid_shape(n) == shape


def test_grid_shape_of_a_prime_is_near_square():
    rows, cols = di.grid_shape(97)
    assert rows * cols >= 97 and cols <= 2 * rows
    g = di.as_grid(np.arange(97), (rows, cols))
    assert np.isnan(g.reshape(-1)[97:]).all() and g.reshape(-1)[96] == 96


def _kinds_names(config):
    rows = models.layer_table(config)[1:]  # the stages: every layer but the input
    return [r.kind for r in rows], [r.name for r in rows], [(1, *r.output_shape) for r in rows]


def test_hidden_dense_blocks_and_incoming_shapes():
    kinds, names, shapes = _kinds_names(models.PRESETS["default"].config)
    [b] = di.hidden_dense_blocks(kinds, names)
    assert (b.dense, b.output, b.dropout, b.source) == ("dense", "dense", "dropout", "flatten")
    shape, pos = di.incoming_shape(kinds, shapes, b.index)
    assert shape == (7, 7, 64) and names[pos] == "pool2"

    kinds, names, shapes = _kinds_names(models.PRESETS["bn_cnn"].config)
    [b] = di.hidden_dense_blocks(kinds, names)
    assert (b.output, b.dropout) == ("dense_act", "dropout")

    kinds, names, shapes = _kinds_names(models.PRESETS["mlp512"].config)
    b1, b2 = di.hidden_dense_blocks(kinds, names)
    assert di.incoming_shape(kinds, shapes, b1.index) == ((28, 28, 1), None)
    assert b2.source == "dropout" and di.incoming_shape(kinds, shapes, b2.index)[0] == (512,)

    kinds, names, _ = _kinds_names(models.ModelConfig(convs=(models.ConvSpec(8, 3),)))
    assert di.hidden_dense_blocks(kinds, names) == []


def test_npy_bytes_round_trip(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    path = tmp_path / "a.npy"
    path.write_bytes(data.npy_bytes(a))
    assert np.array_equal(np.load(path), a)


def test_mosaic_hover_coordinates_name_the_right_cell():
    block = np.random.default_rng(0).random((7, 7, 64)).astype(np.float32)
    fig = figures.dense.block_mosaic(block, highlight=(2, 3, 10))
    z, custom = np.asarray(fig.data[0].z, dtype=float), np.asarray(fig.data[0].customdata)
    for y, x in [(0, 0), (10, 20), (62, 62)]:
        ch, r, c = custom[y, x]
        if ch >= 0:
            assert z[y, x] == pytest.approx(block[r, c, ch])
    cell = fig.layout.shapes[1]  # the red cell: channel 10 sits at grid (1, 2) of an 8-wide mosaic
    assert (cell.x0 + 0.5, cell.y0 + 0.5) == (2 * 8 + 3, 1 * 8 + 2)


@pytest.mark.parametrize("value, text, latex", [
    (13012345.6, "1.301 × 10⁷", r"1.301 \times 10^{7}"),
    (2.049e-8, "2.049 × 10⁻⁸", r"2.049 \times 10^{-8}"),
    (9.99996e-7, "1.000 × 10⁻⁶", r"1.000 \times 10^{-6}"),  # the mantissa rounds up to 10: one more power
    (3.12734, "3.127", "3.127"),
    (0.00123, "0.001230", "0.001230"),
    (0.0, "0", "0"),
])
def test_numbers_are_written_for_people(value, text, latex):
    assert di.number_text(value) == text and di.number_latex(value) == latex
    assert not any(c.isdigit() and n == "e" for c, n in zip(latex, latex[1:]))  # never 1.3e+07
