"""mnistviz.activations against Keras itself: every stage and the probabilities of the default model and
of a tiny model, for a single image, padded small batches and the bulk path; the worker threads; the
XLA fallback."""

import logging
import threading

import keras
import numpy as np
import pytest

from mnistviz import activations, data, models


@pytest.fixture(scope="module")
def digits():
    ds = data.load_sample()
    return data.scale(ds.x_test[:300])  # (300, 28, 28) in [0, 1]


@pytest.fixture(scope="module")
def tiny():
    """A small MLP (not trained: the forward pass is what is checked)."""
    return models.build_model(models.ModelConfig(dense=(models.DenseSpec(12),)), seed=3)


def keras_stages(model, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output by Keras' own predict: the oracle."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    probe = keras.Model(inputs=model.inputs[0], outputs=[layer.output for layer in layers])
    out = probe.predict(activations.as_batch(x), verbose=0)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("which", ["default", "tiny"])
def test_every_stage_matches_keras(which, model, tiny, digits):
    m = model if which == "default" else tiny
    x = digits[:3]  # 3 images: padded to a batch of 4 on the XLA path
    ours = activations.stages(m, x)
    theirs = keras_stages(m, x)
    assert [s.name for s in ours] == [layer.name for layer in m.layers if not isinstance(layer, keras.layers.InputLayer)]
    for stage, expected in zip(ours, theirs, strict=True):
        assert stage.array.shape == expected.shape == stage.shape, stage.name
        np.testing.assert_allclose(stage.array, expected, atol=2e-4, rtol=1e-3, err_msg=stage.name)
    assert sum(s.params for s in ours) == m.count_params()


@pytest.mark.parametrize("n", [1, 5, 128, 129, 300])  # XLA path (padded to 1, 8, 128), then the bulk path
def test_probabilities_match_predict_for_every_batch_size(n, model, digits):
    ours = activations.probabilities(model, digits[:n])
    expected = model.predict(activations.as_batch(digits[:n]), verbose=0)
    assert ours.shape == (n, 10)
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    np.testing.assert_allclose(ours.sum(axis=1), 1, atol=1e-4)


def test_bulk_scoring_in_several_chunks_matches_one_pass(tiny, digits):
    runner = activations.runner_for(tiny)
    whole = runner.probabilities(digits, batch_size=4096)
    chunked = runner.probabilities(digits, batch_size=70)  # 70 + 70 + 70 + 70 + 20
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    assert runner.probabilities(digits[:0]).shape == (0, 10)


def test_one_image_in_every_accepted_shape_gives_the_same_answer(model, digits):
    img = digits[0]
    forms = [img, img.reshape(784), img.reshape(1, 784), img.reshape(1, 28, 28), img.reshape(1, 28, 28, 1)]
    answers = [activations.probabilities(model, f) for f in forms]
    for a in answers[1:]:
        np.testing.assert_array_equal(a, answers[0])


def test_run_from_an_edited_stage_continues_the_forward_pass(model, digits):
    full = activations.stage_dict(model, digits[0])
    rest = activations.run_from(model, "pool1", full["pool1"].array)
    for stage in rest:
        np.testing.assert_allclose(stage.array, full[stage.name].array, atol=2e-4, err_msg=stage.name)
    zeroed = full["pool1"].array.copy()
    zeroed[..., 0] = 0  # one filter switched off changes what follows
    assert not np.allclose(activations.run_from(model, "pool1", zeroed)[0].array, rest[0].array)
    with pytest.raises(KeyError, match="no layer"):
        activations.run_from(model, "nope", zeroed)


def test_a_stroke_never_waits_behind_a_bulk_job():
    """A bulk job (more than JIT_MAX_BATCH images) holds the bulk worker; a small batch meanwhile
    runs on a forward worker and finishes while the bulk job is still running."""
    release = threading.Event()
    started = threading.Event()

    def bulk_job():
        started.set()
        assert release.wait(60)
        return threading.current_thread().name

    bulk = threading.Thread(target=lambda: results.append(activations._on_worker(10_000, bulk_job)))
    results: list[str] = []
    bulk.start()
    assert started.wait(60)
    small = activations._on_worker(1, lambda: threading.current_thread().name)
    assert not release.is_set() and bulk.is_alive()  # the stroke came back while the bulk job ran
    release.set()
    bulk.join(60)
    assert small.startswith("mnistviz-forward") and results[0].startswith("mnistviz-bulk")


def test_xla_failure_falls_back_with_a_logged_reason(tiny, digits, caplog):
    import tensorflow as tf

    runner = activations.StageRunner(tiny)  # a fresh runner, not the cached one

    def cannot_compile(_):
        raise tf.errors.InvalidArgumentError(None, None, "Detected unsupported operations when trying to compile")

    runner._fn_xla = cannot_compile
    with caplog.at_level(logging.WARNING, logger="mnistviz.activations"):
        got = runner.stages(digits[:2])
    assert not runner.xla
    assert "XLA could not compile" in caplog.text and "unsupported operations" in caplog.text
    np.testing.assert_allclose(got[-1].array, tiny.predict(activations.as_batch(digits[:2]), verbose=0), atol=1e-5)


def test_a_bug_on_the_xla_path_is_not_swallowed(tiny, digits):
    runner = activations.StageRunner(tiny)

    def bug(_):
        raise ValueError("a real bug")

    runner._fn_xla = bug
    with pytest.raises(ValueError, match="a real bug"):
        runner.stages(digits[:1])
    assert runner.xla  # a bug does not silently switch the fast path off


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_lab_session_of_models_does_not_warn_of_retracing(monkeypatch, digits):
    """Seven models, each read once per stage and scored in bulk (a lab session): TensorFlow's "tf.function
    retracing" warning counts all functions made from the same code together, so runners built from one
    lambda tripped it after five models. Each runner's functions are counted on their own now."""
    from tensorflow.python.eager.polymorphic_function import polymorphic_function as pf

    # a fresh counter: earlier tests in this process may have used up TensorFlow's two warnings per function
    monkeypatch.setattr(pf, "_frequent_tracing_detector_manager", pf._FrequentTracingDetectorManager())
    collect = _Collect()
    logging.getLogger("tensorflow").addHandler(collect)
    try:
        for units in range(4, 11):
            m = models.build_model(models.ModelConfig(dense=(models.DenseSpec(units),)), seed=units)
            activations.stages(m, digits[0])
            activations.probabilities(m, digits)
    finally:
        logging.getLogger("tensorflow").removeHandler(collect)
    assert not [m for m in collect.messages if "retracing" in m]


def test_blank_stages_are_the_stages_of_an_empty_input_worked_out_once(model):
    blank = activations.blank_stages(model)
    fresh = activations.stages(model, np.zeros((28, 28), np.float32))
    assert [s.shape for s in blank] == [s.shape for s in fresh]
    assert all(np.allclose(b.array, f.array, atol=1e-5) for b, f in zip(blank, fresh))
    assert activations.blank_stages(model) is blank and not blank[0].array.flags.writeable


def test_a_model_no_longer_held_elsewhere_is_freed_with_its_runner(digits):
    """Each Lab run and upload gives a session a new model; once the session lets it go, its compiled runner
    must not keep it (and itself) in memory for the life of the process."""
    import gc
    import weakref

    m = models.build_model(models.ModelConfig(dense=(models.DenseSpec(8),)), seed=3)
    activations.stages(m, digits[0])
    activations.probabilities(m, digits)
    model_ref, runner_ref = weakref.ref(m), weakref.ref(activations.runner_for(m))
    del m
    gc.collect()
    assert model_ref() is None and runner_ref() is None
