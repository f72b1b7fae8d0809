"""mnistviz.evaluation against Keras' own numbers: accuracy and loss equal ``model.evaluate``, the
predictions equal ``model.predict``, and the confusion matrix, per-digit accuracy and mistakes agree
with them, on a small model trained here and on the shipped default model."""

import json

import numpy as np
import pytest

from mnistviz import data, evaluation, models, training


@pytest.fixture(scope="module")
def sample():
    return data.load_sample()


@pytest.fixture(scope="module")
def small(sample):
    """A deliberately weak MLP (one epoch on 1,000 digits), so that it makes mistakes to count."""
    config = models.ModelConfig(dense=(models.DenseSpec(16),))
    model = training.train(config, sample.x_train[:1000], sample.y_train[:1000],
                           models.TrainOptions(epochs=1, validation_fraction=0.0, seed=3)).model
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("which", ["small", "default"])
def test_scores_equal_keras(which, request, sample):
    model = request.getfixturevalue("small" if which == "small" else "model")
    if which == "default":  # a copy: the shared fixture stays as the app loads it (not compiled)
        import keras

        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        copy.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model = copy
    x, y = sample.x_test[:600], sample.y_test[:600]
    ev = evaluation.evaluate(model, x, y)
    keras_loss, keras_acc = model.evaluate(data.model_input(x), y, verbose=0)
    assert ev.n == 600
    assert ev.accuracy == pytest.approx(keras_acc, abs=1e-6)
    assert ev.loss == pytest.approx(keras_loss, rel=1e-4)
    proba = model.predict(data.model_input(x), verbose=0)
    np.testing.assert_array_equal(ev.predictions, proba.argmax(axis=1))
    np.testing.assert_allclose(ev.confidence, proba.max(axis=1), atol=1e-5)


def test_confusion_per_digit_and_mistakes_agree(small, sample):
    x, y = sample.x_test[:600], sample.y_test[:600]
    ev = evaluation.evaluate(small, x, y)
    assert ev.confusion.sum() == 600
    np.testing.assert_array_equal(ev.confusion.sum(axis=1), np.bincount(y, minlength=10))
    assert np.trace(ev.confusion) == round(ev.accuracy * 600)
    wrong = ev.wrong(y)
    assert len(wrong) == 600 - np.trace(ev.confusion) and len(wrong) > 0  # a weak model: mistakes to count
    assert np.all(ev.predictions[wrong] != y[wrong])
    for d in range(10):
        mine = y == d
        assert ev.per_class[d] == pytest.approx(np.mean(ev.predictions[mine] == d))
    report = ev.to_json()
    assert json.loads(json.dumps(report))["confusion"] == ev.confusion.tolist()


def test_a_missing_digit_reads_nan_and_an_empty_set_does_not_crash():
    proba = np.eye(10, dtype=np.float32)[[1, 1, 2]]
    ev = evaluation.evaluate_probabilities(proba, np.array([1, 2, 2]))
    assert ev.accuracy == pytest.approx(2 / 3)
    assert np.isnan(ev.per_class[0]) and ev.per_class[1] == 1.0 and ev.per_class[2] == 0.5
    assert ev.to_json()["per_class"][0] is None
    empty = evaluation.evaluate_probabilities(np.zeros((0, 10), np.float32), np.zeros(0))
    assert empty.n == 0 and np.isnan(empty.accuracy)
