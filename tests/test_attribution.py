"""Occlusion and gradient maps (mnistviz.attribution) on a real model, and the nudge transforms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mnistviz import activations, attribution, data, figures, models


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


# --- gradient, integrated gradients, Grad-CAM: against Keras' own logits and intermediate outputs -------

@pytest.fixture(scope="module")
def digits():
    ds = data.load_sample()
    return data.scale(ds.x_test[:4])


def asked(model, image) -> tuple[int, int]:
    """The predicted digit and the runner-up, as the page compares them."""
    order = np.argsort(activations.probabilities(model, image)[0])
    return int(order[-1]), int(order[-2])


def keras_logits(model) -> "keras.Model":
    """The oracle: Keras' own model from the pixels to the ``logits`` layer."""
    import keras

    return keras.Model(model.inputs[0], model.get_layer("logits").output)


def test_logit_gradient_matches_gradient_tape_and_a_finite_difference(model, digit):
    import tensorflow as tf

    pair = asked(model, digit)
    grads = attribution.logit_gradient(model, digit, pair)
    assert grads.shape == (2, 28, 28) and grads.dtype == np.float32
    logits = keras_logits(model)
    x = tf.convert_to_tensor(digit.reshape(1, 784))
    for d, g in zip(pair, grads):
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = logits(x, training=False)[0, d]
        np.testing.assert_allclose(g, tape.gradient(z, x).numpy().reshape(28, 28), atol=1e-4, rtol=1e-3)
    # signed: the strongest grey pixel for and the strongest against, each against (z(x + h) − z(x − h)) / 2h.
    # Grey ink, not the black background: at 0 the background sits on ReLU and max-pool kinks (ties), where
    # the slopes left and right of the pixel differ and no derivative exists.
    g = grads[0]
    h = 2e-3
    grey = np.where((digit > 0.05) & (digit < 0.95), g, 0)
    for r, c in (np.unravel_index(grey.argmax(), g.shape), np.unravel_index(grey.argmin(), g.shape)):
        up, down = digit.copy(), digit.copy()
        up[r, c] += h
        down[r, c] -= h
        z = logits.predict(np.stack([up, down]).reshape(2, 784), verbose=0)[:, pair[0]]
        assert np.isclose((z[0] - z[1]) / (2 * h), g[r, c], rtol=0.1, atol=1e-3)
    assert grey.max() > 0.1 and grey.min() < -0.1
    assert not np.allclose(grads[0], grads[1], atol=0.2 * np.abs(grads).max())  # the two digits' maps differ


def test_integrated_gradients_add_up_to_the_logit_change_from_black(model, digits):
    """Completeness: the map's sum equals logit(x) − logit(black image) within 1 %, by Keras' own logits."""
    logits = keras_logits(model)
    black = logits.predict(np.zeros((1, 784), np.float32), verbose=0)[0]
    for image in digits:
        pair = asked(model, image)
        ig = attribution.integrated_gradients(model, image, pair)
        z = logits.predict(image.reshape(1, 784), verbose=0)[0]
        change = z[list(pair)] - black[list(pair)]
        np.testing.assert_allclose(ig.logit - ig.baseline_logit, change, rtol=1e-4, atol=1e-4)
        sums = ig.maps.reshape(2, -1).sum(axis=1)
        assert np.all(np.abs(sums - change) <= 0.01 * np.abs(change)), (pair, sums, change, ig.steps)
        assert not ig.maps[:, image == 0].any()  # black pixels get nothing against a black baseline


def test_grad_cam_is_zero_where_every_conv2_map_is_zero(model, digits):
    import keras
    import tensorflow as tf

    probe = keras.Model(model.inputs[0], [model.get_layer("conv2").output, model.get_layer("logits").output])
    dead_total = 0
    for image in digits:
        pair = asked(model, image)
        cam = attribution.grad_cam(model, image, pair)
        assert cam.layer == "conv2" and cam.maps.shape == (2, 14, 14)
        x = tf.convert_to_tensor(image.reshape(1, 784))
        with tf.GradientTape(persistent=True) as tape:
            maps, z = probe(x, training=False)
            chosen = [z[0, d] for d in pair]
        np.testing.assert_allclose(cam.activations, maps.numpy()[0], atol=1e-4)
        dead = (maps.numpy()[0] == 0).all(axis=-1)  # places where all 64 conv2 maps are 0 (after ReLU)
        dead_total += int(dead.sum())
        assert not cam.maps[:, dead].any()
        for d_map, zd in zip(cam.maps, chosen):  # Grad-CAM written out: ReLU(Σ_c mean(∂z/∂A_c) · A_c)
            w = tf.reduce_mean(tape.gradient(zd, maps), axis=[1, 2]).numpy()[0]
            np.testing.assert_allclose(d_map, np.maximum((maps.numpy()[0] * w).sum(-1), 0), atol=1e-4, rtol=1e-3)
        assert cam.on_input().shape == (2, 28, 28) and np.array_equal(cam.on_input()[:, ::2, ::2], cam.maps)
    assert dead_total > 0  # the property was put to the test somewhere


def test_both_maps_share_one_scale_the_largest_value_of_either(model, digit):
    pair = asked(model, digit)
    for key, method in attribution.METHODS.items():
        got = attribution.compare(model, digit, pair, key)
        assert got.method is method and got.digits == pair and got.maps.shape == (2, 28, 28)
        assert got.scale == pytest.approx(max(np.abs(got.maps[0]).max(), np.abs(got.maps[1]).max()))
        assert got.scale > 0
        fig = figures.heatmap(got.maps[1], diverging=True, zmax=got.scale)
        assert (fig.data[0].zmin, fig.data[0].zmax) == pytest.approx((-got.scale, got.scale))
    grads = attribution.logit_gradient(model, digit, pair)
    assert attribution.compare(model, digit, pair, "gradient").scale == pytest.approx(np.abs(grads).max())
    assert attribution.shared_scale(np.array([[0.5, -2.0]]), np.array([[1.0]])) == 2.0


def test_an_mlp_has_no_grad_cam_and_a_dense_softmax_gives_its_logits(digit):
    """The MLP presets: Grad-CAM says why not; a model ending in Dense(10, softmax) (as many uploaded ones
    do) has its logits found inside that layer: for one linear layer, ∂ logit(d) / ∂ x is the kernel's column d."""
    import keras

    mlp = models.build_model(models.ModelConfig(dense=(models.DenseSpec(12),)), seed=3)
    with pytest.raises(attribution.NotApplicable, match="convolution layer"):
        attribution.compare(mlp, digit, (1, 2), "grad_cam")
    assert attribution.logit_gradient(mlp, digit, [1]).any()
    inputs = keras.Input((784,))
    linear = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(inputs))
    w = linear.layers[-1].kernel.numpy()
    np.testing.assert_allclose(attribution.logit_gradient(linear, digit, [3, 8]),
                               w[:, [3, 8]].T.reshape(2, 28, 28), atol=1e-6)
    ig = attribution.integrated_gradients(linear, digit, [3])
    np.testing.assert_allclose(ig.maps[0], digit * w[:, 3].reshape(28, 28), atol=1e-6)


@pytest.mark.parametrize("config, layer", [
    (models.ModelConfig(convs=(models.ConvSpec(4, 3, "valid"), models.ConvSpec(6, 3, "valid"),
                               models.ConvSpec(6, 3, "valid", pool=False)), dense=(models.DenseSpec(8),)), "conv3"),
    (models.ModelConfig(convs=(models.ConvSpec(4, 3, "valid", batch_norm=True),), dense=(models.DenseSpec(8),)), "act1"),
], ids=["tf_tutorial-like", "batch-norm"])
def test_a_lab_model_gets_grad_cam_on_its_last_conv_block(config, layer, digit):
    """Small models of the presets' shapes: three valid convs (the last unpooled), and a batch-normalised
    conv whose rectified output is read (after bn1 and act1)."""
    import keras

    lab = models.build_model(config, seed=5)
    assert attribution.gradcam_layer(lab) == layer
    cam = attribution.grad_cam(lab, digit, (0, 1))
    expected = keras.Model(lab.inputs[0], lab.get_layer(layer).output).predict(digit.reshape(1, 784), verbose=0)[0]
    np.testing.assert_allclose(cam.activations, expected, atol=1e-4)
    assert cam.maps.shape == (2, *expected.shape[:2]) and cam.on_input().shape == (2, 28, 28)
    ig = attribution.integrated_gradients(lab, digit, (0,))
    assert ig.completeness_gap.max() <= 0.01


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


@pytest.mark.browser
def test_draw_page_explains_with_grad_cam_on_one_printed_scale_in_chromium(browser, app_url, screenshot_dir):
    from playwright.sync_api import expect

    from browser_support import (DRAW_PAGE, draw, drawn_and_taken, open_folded, open_page, vertical_stroke,
                                 wait_for_figures)

    page = open_page(browser, app_url, DRAW_PAGE)
    try:
        draw(page, vertical_stroke())
        drawn_and_taken(page, "1")  # the canvas's answer alone does not say the page has the drawing yet
        open_folded(page, "What made it decide")  # opened, it explains the latest drawing at once
        wait_for_figures(page, at_least=2)  # the first method's two maps: the section has run with the drawing
        page.get_by_text("Grad-CAM", exact=True).click()
        expect(page.get_by_text("Where logit(1) relies on the last conv maps")).to_be_visible(timeout=60_000)
        wait_for_figures(page, at_least=2)  # the two maps (the bars are plain HTML)
        expect(page.get_by_text("for both maps", exact=False)).to_be_visible()
        expect(page.get_by_text("Read on conv2's 64 maps of 14×14", exact=False)).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        page.get_by_text("for both maps", exact=False).scroll_into_view_if_needed()  # the maps and their scale
        page.screenshot(path=screenshot_dir / "draw_explain_grad_cam.png")
    finally:
        page.close()
