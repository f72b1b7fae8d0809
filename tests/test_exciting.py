"""mnistviz.exciting against Keras itself: a ``keras.Model`` to the layer's output on the same digits, sorted with
NumPy, must rank the same digits first; a conv patch is exactly the input region the receptive field names, and
for conv1 (which sees only its patch) the kernel applied to the patch gives the activation back."""

from __future__ import annotations

import numpy as np
import pytest

from mnistviz import data, exciting, models
from mnistviz import receptive_field as rf

keras = pytest.importorskip("keras")
K = 8


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return data.load_sample().x_test[:300]  # (300, 28, 28) uint8


@pytest.fixture(scope="module")
def summary(model, digits) -> exciting.Exciting:
    return exciting.summarise(model, digits, chunk=150)  # two chunks: the merge across chunks is tested too


def keras_output(model, layer: str, digits: np.ndarray) -> np.ndarray:
    probe = keras.Model(inputs=model.inputs[0], outputs=model.get_layer(layer).output)
    return np.asarray(probe(data.model_input(digits), training=False))


def well_separated(scores: np.ndarray) -> int:
    """A column of ``(N, units)`` whose top K+1 values are positive and clearly apart (no near-ties to reorder)."""
    top = -np.sort(-scores, axis=0)[:K + 1]
    gaps = np.diff(-top, axis=0).min(axis=0)
    ok = np.flatnonzero((top[-1] > 0) & (gaps > 1e-3 * np.abs(top[0])))
    assert len(ok), "no unit with a clear top ranking"
    return int(ok[0])


def test_dense_unit_top_digits_are_the_ones_keras_ranks_highest(model, digits, summary):
    acts = keras_output(model, "dense", digits)  # (N, 1024)
    unit = well_separated(acts)
    idx, values = exciting.top_digits(summary, "dense", unit, K)
    np.testing.assert_array_equal(idx, np.argsort(-acts[:, unit], kind="stable")[:K])
    np.testing.assert_allclose(values, acts[idx, unit], rtol=1e-4, atol=1e-5)
    assert np.all(np.diff(values) <= 0)


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_conv_filter_top_patches_match_keras_and_the_receptive_field(model, digits, summary, layer):
    maps = keras_output(model, layer, digits)  # (N, H, W, filters)
    per_digit = maps.reshape(len(maps), -1, maps.shape[-1]).max(axis=1)
    f = well_separated(per_digit)
    patches = exciting.top_patches(model, summary, digits, layer, f, K)
    ranked = np.argsort(-per_digit[:, f], kind="stable")[:K]
    assert [p.digit for p in patches] == ranked.tolist()
    assert len({p.digit for p in patches}) == K  # k patches from k different digits
    field = rf.field_of(model, layer)
    images = data.scale(digits)
    for p in patches:
        np.testing.assert_allclose(p.activation, maps[p.digit, p.row, p.col, f], rtol=1e-4, atol=1e-5)
        assert p.activation == pytest.approx(maps[p.digit, ..., f].max(), rel=1e-4)
        assert p.window == rf.window(model, layer, p.row, p.col)
        t, b, left, right = p.window
        np.testing.assert_array_equal(p.pixels, images[p.digit, t:b, left:right])
        assert p.framed.shape == field.size
    if layer == "conv1":  # conv1 sees only its patch: the kernel on the (zero-padded) patch gives the activation
        kernel, bias = (w.numpy() for w in model.get_layer("conv1").weights)
        top = patches[0]
        recomputed = max(float((top.framed * kernel[:, :, 0, f]).sum() + bias[f]), 0.0)
        assert recomputed == pytest.approx(top.activation, rel=1e-4, abs=1e-5)


def test_valid_padding_model_patches(digits):
    model = models.build_model(models.PRESETS["tf_tutorial"].config, seed=0)  # three 'valid' 3×3 convs
    summary = exciting.summarise(model, digits[:200])
    maps = keras_output(model, "conv2", digits[:200])
    per_digit = maps.reshape(len(maps), -1, maps.shape[-1]).max(axis=1)
    f = well_separated(per_digit)
    patches = exciting.top_patches(model, summary, digits[:200], "conv2", f, K)
    assert [p.digit for p in patches] == np.argsort(-per_digit[:, f], kind="stable")[:K].tolist()
    for p in patches:
        t, b, left, right = p.window
        assert (b - t, right - left) == rf.field_of(model, "conv2").size  # 'valid': never clipped
        np.testing.assert_array_equal(p.pixels, data.scale(digits[p.digit, t:b, left:right]))
    tiles = exciting.patch_tiles(patches)
    assert tiles.shape == (K, 28, 28) and tiles.max() <= 1.0


def test_mlp_has_no_feature_maps_but_its_units_have_top_digits(digits):
    model = models.build_model(models.PRESETS["mlp30"].config, seed=0)
    summary = exciting.summarise(model, digits[:200])
    assert not any(top.is_map for top in summary.layers.values())
    dense = next(layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense))
    acts = keras_output(model, dense, digits[:200])
    unit = well_separated(acts)
    idx, _ = exciting.top_digits(summary, dense, unit, K)
    np.testing.assert_array_equal(idx, np.argsort(-acts[:, unit], kind="stable")[:K])
    with pytest.raises(ValueError, match="no feature maps"):
        exciting.top_patches(model, summary, digits[:200], dense, 0, K)
