"""One training step (mnistviz.backprop) against Keras: the loss is Keras' sparse categorical cross-entropy,
the gradient agrees with a finite difference, the step is w − lr·g and what Keras' SGD does, the model it
was asked about is unchanged, a small step lowers the loss and a far too large one raises it."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from mnistviz import backprop, data, models
from mnistviz.dense_inspect import softmax, softmax_at


@pytest.fixture(scope="module")
def small_cnn():
    config = models.ModelConfig(convs=(models.ConvSpec(4, 3),), dense=(models.DenseSpec(16),))
    return models.build_model(config, seed=3)


@pytest.fixture(scope="module")
def digit():
    ds = data.load_sample()
    return data.scale(ds.x_test[0]), int(ds.y_test[0])


def test_the_step_is_gradient_descent_and_leaves_the_model_alone(small_cnn, digit):
    image, label = digit
    weights = [w.copy() for w in small_cnn.get_weights()]
    step = backprop.one_step(small_cnn, image, label, 0.1)
    for a, b in zip(weights, small_cnn.get_weights()):
        np.testing.assert_array_equal(a, b)  # a copy was trained, not the model asked about
    x = image.reshape(1, 784)
    p = small_cnn(x, training=False).numpy()[0]
    assert step.loss == pytest.approx(-np.log(p[label]), rel=1e-5)
    assert step.layer == "conv1" and step.kernel.shape == step.gradient.shape == (3, 3, 1, 4)
    np.testing.assert_allclose(step.kernel_after, step.kernel - 0.1 * step.gradient, atol=1e-6)
    # Keras' own SGD on a clone lands on the same kernels
    clone = keras.models.clone_model(small_cnn)
    clone.set_weights(small_cnn.get_weights())
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(np.array([label]), clone(x, training=False))
    keras.optimizers.SGD(0.1).apply_gradients(zip(tape.gradient(loss, clone.trainable_variables),
                                                  clone.trainable_variables))
    np.testing.assert_allclose(clone.get_layer("conv1").kernel.numpy(), step.kernel_after, atol=1e-6)


def test_the_gradient_agrees_with_a_finite_difference(small_cnn, digit):
    image, label = digit
    step = backprop.one_step(small_cnn, image, label, 0.0)
    i = np.unravel_index(int(np.abs(step.gradient).argmax()), step.gradient.shape)
    clone = keras.models.clone_model(small_cnn)
    eps = 1e-3
    losses = []
    for sign in (1, -1):
        clone.set_weights(small_cnn.get_weights())
        k = clone.get_layer("conv1").kernel
        bumped = k.numpy()
        bumped[i] += sign * eps
        k.assign(bumped)
        p = clone(image.reshape(1, 784), training=False).numpy()[0]
        losses.append(-np.log(np.float64(p[label])))
    assert (losses[0] - losses[1]) / (2 * eps) == pytest.approx(float(step.gradient[i]), rel=0.05)


def test_a_rate_far_too_high_learns_the_digit_and_wrecks_the_rest(model, digit):
    image, true = digit
    label = (true + 1) % 10  # a label the model disagrees with: a large loss, a large gradient
    ds = data.load_sample()
    others = data.scale(ds.x_test[1:301]), ds.y_test[1:301]
    curves = backprop.learning_curve(model, image, label, [1e-4, 0.1], *others, steps=2)
    gentle, wild = curves[1e-4], curves[0.1]
    assert len(gentle.loss) == len(gentle.others) == 3
    assert gentle.loss[-1] < gentle.loss[0] and wild.loss[-1] < 0.01 < wild.loss[0]  # both learn this digit
    assert gentle.others[0] == wild.others[0] > 0.95  # the trained model, before any step
    assert gentle.others[-1] > 0.95  # small steps keep what it knew
    assert wild.others[-1] < 0.5  # steps far too large wreck it
    right = backprop.learning_curve(model, image, true, [0.1], *others, steps=1)[0.1]
    assert right.loss[0] < 1e-3 and right.others[-1] == right.others[0]  # a digit it gets right barely moves it


def test_softmax_temperature():
    z = np.array([2.0, 1.0, -1.0])
    np.testing.assert_allclose(softmax_at(z, 1.0), softmax(z))
    assert softmax_at(z, 0.01)[0] == pytest.approx(1.0)  # T → 0: all on the largest logit
    np.testing.assert_allclose(softmax_at(z, 1e6), np.full(3, 1 / 3), atol=1e-5)  # large T: even
    with pytest.raises(ValueError):
        softmax_at(z, 0.0)
