"""The map of what the network learned (mnistviz.embedding), with the real default model on the 2,000
held-out sample digits: PCA against NumPy's full SVD, projection of fitted points, k-NN accuracy rising
layer by layer, and the not-a-digit check on an X, a dot and a scribble drawn like a person would."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnistviz import data, embedding, models, preprocess


@pytest.fixture(scope="module")
def test_split():
    ds = data.load_data("sample")
    return ds.x_test, ds.y_test


@pytest.fixture(scope="module")
def fitted(model, test_split):
    x, y = test_split
    return embedding.fit(model, x, y)


def drawn(paint) -> np.ndarray:
    """A 280×280 canvas (white ink on black, as the Draw page's) through the app's preprocessing → (28, 28)."""
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    paint(ImageDraw.Draw(canvas))
    return preprocess.preprocess_image(np.asarray(canvas), polarity="white-on-black").image


INK = (255, 255, 255, 255)


def letter_x(d):
    d.line([(60, 60), (220, 220)], fill=INK, width=18)
    d.line([(220, 60), (60, 220)], fill=INK, width=18)


def single_dot(d):
    d.ellipse([130, 130, 150, 150], fill=INK)


def scribble(d):
    points = np.random.default_rng(0).integers(30, 250, (12, 2))
    d.line([tuple(int(v) for v in p) for p in points], fill=INK, width=14)


def test_depths_of_the_default_model(model):
    layers = embedding.depth_layers(model)
    assert [d.depth for d in layers] == list(embedding.DEPTHS)
    assert [d.layer for d in layers] == [None, "pool2", "dense"]
    assert "3,136" in layers[1].title and "1,024" in layers[2].title


@pytest.mark.parametrize("preset, layers, stand_in", [
    ("bn_cnn", [None, "pool2", "dense_act"], ""),  # batch norm: the activation after it ends the block
    ("mlp512", [None, "dense", "dense2"], "no convolution"),
    ("mlp30", [None, "dense", "dense"], "one hidden layer"),
])
def test_depths_of_other_architectures(preset, layers, stand_in):
    model = models.build_model(models.PRESETS[preset].config, seed=0)
    found = embedding.depth_layers(model)
    assert [d.layer for d in found] == layers
    assert stand_in in " ".join(d.note for d in found)


def test_pca_matches_numpy_full_svd(test_split):
    x = data.flatten(data.scale(test_split[0][:300])).astype(np.float64)
    pca = embedding.fit_pca(x)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    for axis in range(2):  # the same axis up to its sign
        assert abs(float(pca.components[:, axis] @ vt[axis])) == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(pca.explained, s[:2] ** 2 / (s ** 2).sum(), rtol=1e-3)
    coords = pca.project(x)
    reference = centred @ vt[:2].T
    np.testing.assert_allclose(np.abs(coords), np.abs(reference), atol=1e-3)


def test_projecting_a_fitted_digit_lands_on_its_place(model, fitted, test_split):
    for i in (0, 7, 1999):
        places = fitted.project(model, data.scale(test_split[0][i]))
        for depth, place in places.items():
            np.testing.assert_allclose(place, fitted.spaces[depth].coords[i], rtol=1e-3, atol=1e-3)


def test_digits_separate_layer_by_layer(fitted):
    acc = {k: s.knn_accuracy for k, s in fitted.spaces.items()}
    on_map = {k: s.map_knn_accuracy for k, s in fitted.spaces.items()}
    print(f"\nk-NN accuracy (k={embedding.K_NEIGHBOURS}, leave-one-out, 2,000 digits): full space {acc}; "
          f"2-D map {on_map}; fit {fitted.fit_seconds:.1f} s")
    assert acc["pixels"] < acc["conv"] < acc["dense"]
    assert on_map["pixels"] < on_map["conv"] < on_map["dense"]
    assert acc["dense"] > 0.97


def test_knn_accuracy_on_a_tiny_example():
    pts = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2], [0.15]])
    labels = np.array([0, 0, 0, 1, 1, 1, 1])  # the last point sits among the zeros
    d = embedding.pairwise_distances(pts, pts)
    np.fill_diagonal(d, np.inf)
    assert embedding.knn_accuracy(d, labels, k=3) == pytest.approx(6 / 7)


@pytest.mark.parametrize("paint", [letter_x, single_dot, scribble], ids=["X", "dot", "scribble"])
def test_not_a_digit_is_flagged(model, fitted, paint):
    check = fitted.looks_like_a_digit(model, drawn(paint))
    print(f"\n{paint.__name__}: dense ratio {check.dense_ratio:.2f}, pixel ratio {check.pixel_ratio:.2f}")
    assert not check.is_digit
    assert check.reason


def test_real_digits_pass(model, fitted, test_split):
    x, _ = test_split
    for i in range(10):
        assert fitted.looks_like_a_digit(model, data.scale(x[i])).is_digit
    # A drawn digit (a 1 and a 7, through the same preprocessing as the X) passes too.
    assert fitted.looks_like_a_digit(model, drawn(lambda d: d.line([(140, 40), (140, 240)], fill=INK, width=18))).is_digit
    assert fitted.looks_like_a_digit(
        model, drawn(lambda d: d.line([(70, 50), (210, 50), (120, 240)], fill=INK, width=18))).is_digit


def test_false_alarms_on_held_out_digits(fitted):
    """Leave-one-out on the 2,000 held-out digits, and honestly held out: references from the first
    1,000 digits, checked on the other 1,000."""
    loo = fitted.false_alarm_rate()
    which = [s.layer for s in fitted.spaces.values()]
    half = embedding.from_features(which, {k: s.features[:1000] for k, s in fitted.spaces.items()},
                                   fitted.labels[:1000], fitted.predictions[:1000])
    flagged = [not half.check({k: s.features[i] for k, s in fitted.spaces.items()}).is_digit
               for i in range(1000, 2000)]
    held_out = float(np.mean(flagged))
    print(f"\nfalse alarms: leave-one-out {loo:.2%} of 2,000; fitted on 1,000, checked on the other 1,000: {held_out:.2%}")
    assert loo <= 0.015
    assert held_out <= 0.04
