"""Occlusion and gradient maps (mnistviz.attribution) on a real model, and the nudge transforms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mnistviz import activations, attribution, data


@pytest.fixture(scope="module")
def digit():
    ds = data.load_sample()
    return data.scale(ds.x_test[0])


def test_occluded_batch_covers_every_pixel(digit):
    batch, corners = attribution.occluded_batch(digit, patch=6, stride=2)
    assert batch.shape == (len(corners), 28, 28) and len(corners) == 12 * 12
    covered = np.zeros((28, 28), bool)
    for (r, c), img in zip(corners, batch):
        assert not img[r:r + 6, c:c + 6].any()
        covered[r:r + 6, c:c + 6] = True
    assert covered.all()
    assert np.array_equal(batch[0][6:, 6:], digit[6:, 6:])  # only the patch changes
    default, corners = attribution.occluded_batch(digit)  # the page's setting: 8×8 positions, 3 apart
    assert len(default) == 64 and corners[-1] == (21, 21)  # the last patch reaches the last row and column


def test_occlusion_matches_single_forward_passes(model, digit):
    occ = attribution.occlusion(model, digit, patch=6, stride=2)
    assert occ.drop.shape == (10, 28, 28) and np.allclose(occ.baseline.sum(), 1, atol=1e-4)
    assert np.allclose(occ.baseline, activations.probabilities(model, digit)[0], atol=1e-5)
    # an oracle for one pixel: average the drop of every patch covering it, one forward pass each
    batch, corners = attribution.occluded_batch(digit, patch=6, stride=2)
    r0, c0 = 13, 14
    drops = [occ.baseline - activations.probabilities(model, img)[0]
             for (r, c), img in zip(corners, batch) if r <= r0 < r + 6 and c <= c0 < c + 6]
    assert np.allclose(occ.drop[:, r0, c0], np.mean(drops, axis=0), atol=1e-5)
    # covering the empty corner changes nothing
    assert np.allclose(occ.drop[:, 0, 0], 0, atol=1e-5)
    pred = int(occ.baseline.argmax())
    assert occ.for_digit(pred).max() > 0  # hiding some of the ink lowers the predicted class


def test_saliency_is_a_normalised_map_on_the_ink(model, digit):
    pred = int(activations.probabilities(model, digit)[0].argmax())
    s = attribution.saliency(model, digit, pred)
    assert s.shape == (28, 28) and s.dtype == np.float32
    assert np.isclose(s.max(), 1.0) and s.min() >= 0
    near_ink = ndimage.binary_dilation(digit > 0.1, iterations=3)
    assert s[near_ink].mean() > s[~near_ink].mean()


def test_saliency_matches_a_finite_difference(model, digit):
    """The gradient at the most salient pixel against (p(x + h) − p(x − h)) / 2h."""
    import tensorflow as tf

    pred = int(activations.probabilities(model, digit)[0].argmax())
    x = tf.convert_to_tensor(digit.reshape(1, 784))
    with tf.GradientTape() as tape:
        tape.watch(x)
        p = model(x, training=False)[0, pred]
    grad = tape.gradient(p, x).numpy().reshape(28, 28)
    r, c = np.unravel_index(np.abs(grad).argmax(), grad.shape)
    h = 1e-2
    up, down = digit.copy(), digit.copy()
    up[r, c] += h
    down[r, c] -= h
    fd = (activations.probabilities(model, up)[0, pred] - activations.probabilities(model, down)[0, pred]) / (2 * h)
    assert np.isclose(fd, grad[r, c], rtol=0.1, atol=1e-3)


def test_nudge_identity_shift_rotate_thicken(digit):
    assert np.allclose(attribution.nudge(digit), digit)
    moved = attribution.nudge(digit, dx=3, dy=-2)
    cy, cx = ndimage.center_of_mass(digit)
    my, mx = ndimage.center_of_mass(moved)
    assert abs((mx - cx) - 3) < 0.3 and abs((my - cy) + 2) < 0.3
    bar = np.zeros((28, 28), np.float32)
    bar[4:24, 13:15] = 1.0  # a vertical bar
    turned = attribution.nudge(bar, angle=90)
    ys, xs = np.nonzero(turned > 0.5)
    assert xs.max() - xs.min() > 15 and ys.max() - ys.min() < 4  # now horizontal
    thick = attribution.nudge(bar, thicken=2)
    assert (thick > 0.5).sum() > (bar > 0.5).sum() and np.array_equal(thick[bar > 0.5], bar[bar > 0.5])
    thin = attribution.nudge(thick, thicken=-2)
    assert np.array_equal(thin > 0.5, bar > 0.5)
    for out in (moved, turned, thick, thin):
        assert out.shape == (28, 28) and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
