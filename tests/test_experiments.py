"""The lab's runs: settings ↔ presets, shapes against Keras, store reuse, cancel (the URL: test_lab_settings)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mnistviz import experiments as ex
from mnistviz import models
from mnistviz.jobs import JobStatus
from mnistviz.data import load_sample
from mnistviz.store import ModelStore, data_fingerprint
from mnistviz.training import train

SMALL = ex.LabSettings(blocks=1, filters1=4, kernel1=3, units=16, dropout=0.0, epochs=1, batch_size=32, n_train=200)


@pytest.fixture(scope="module")
def digits():
    ds = load_sample()
    return ds.x_train[:400], ds.y_train[:400]


@pytest.mark.parametrize("key", list(models.PRESETS))
def test_every_course_preset_loads_into_the_widgets_exactly(key):
    p = models.PRESETS[key]
    s = ex.from_preset(key, replace(ex.LabSettings(), n_train=2000))
    assert s.to_config() == p.config
    assert (s.optimizer, s.learning_rate, s.batch_size, s.epochs, s.augment, s.schedule) == (
        p.train.optimizer, p.train.learning_rate, p.train.batch_size, p.train.epochs, p.train.augment,
        p.train.lr_schedule)
    assert s.n_train == 2000  # the number of images stays the person's choice
    assert models.count_params(s.to_config()) == p.course_params


def test_an_architecture_the_widgets_cannot_express_is_refused():
    odd = models.ModelConfig(convs=(models.ConvSpec(8, 3, "same"), models.ConvSpec(8, 3, "valid")))
    with pytest.raises(ValueError):
        ex.settings_from_config(odd)


@pytest.mark.parametrize("settings", [
    ex.LabSettings(),
    ex.LabSettings(blocks=3, filters1=8, filters2=16, filters3=24, kernel1=7, kernel2=3, kernel3=1, padding="valid",
                   dense_layers=2, units=40),
    ex.LabSettings(blocks=2, convs1=2, convs2=2, kernel1=3, kernel2=3, padding="valid", batch_norm=True, pool1=False),
    ex.LabSettings(blocks=0, dense_layers=0),
])
def test_layer_table_of_the_lab_settings_equals_keras(settings):
    config = settings.to_config()
    rows = models.layer_table(config)
    model = models.build_model(config)
    assert sum(r.params for r in rows) == model.count_params()
    keras_layers = [layer for layer in model.layers if layer.name != "pixels"]
    assert [r.name for r in rows[1:]] == [layer.name for layer in keras_layers]
    for row, layer in zip(rows[1:], keras_layers):
        assert tuple(layer.output.shape) == row.batch_shape, row.name
        assert layer.count_params() == row.params, row.name


def test_an_impossible_combination_is_one_sentence():
    msg = ex.check(ex.LabSettings(blocks=3, kernel1=7, kernel2=7, kernel3=7, padding="valid"))
    assert msg and msg.startswith("conv3") and "7×7" in msg and "\n" not in msg
    assert ex.check(ex.LabSettings()) is None


def test_describe_stop_and_format_seconds():
    where = JobStatus("k", "cancelled", epoch=2, epochs=9, batch=33, steps=57)
    assert ex.describe_stop(where) == "epoch 3 of 9, batch 34 of 57"
    assert ex.describe_stop(None) == ex.describe_stop(JobStatus("k", "cancelled")) == "before the first batch"
    assert ex.format_seconds(75.4) == "1 min 15 s" and ex.format_seconds(9.6) == "10 s"
    assert ex.format_seconds(float("nan")) == "…"


def test_cancel_after_two_batches_keeps_nothing(tmp_path, digits):
    """The real training function with a progress fn that cancels after 2 batches: cancelled, nothing stored."""
    x, y = digits
    store = ModelStore(tmp_path)
    seen = []

    def progress(p):
        seen.append((p.kind, p.batch))
        if p.kind == "batch" and p.batch == 1:
            p.cancel()

    out = ex.run_or_load(SMALL.to_config(), SMALL.to_options(), x, y, store, data_fingerprint(x, y), progress=progress)
    assert out.cancelled and out.model is None and not out.loaded
    assert seen[:2] == [("batch", 0), ("batch", 1)]
    assert not any(k == "batch" and b >= 2 for k, b in seen)
    assert store.entries() == [] and not list(tmp_path.glob("*.keras"))


def test_a_rerun_interrupt_keeps_nothing(tmp_path, digits):
    """Streamlit stops a script with a BaseException (RerunException) at the next st call: nothing is stored."""
    from streamlit.runtime.scriptrunner_utils.exceptions import RerunException

    x, y = digits
    store = ModelStore(tmp_path)

    def progress(p):
        if p.batch == 2:
            raise RerunException(None)

    with pytest.raises(RerunException):
        ex.run_or_load(SMALL.to_config(), SMALL.to_options(), x, y, store, data_fingerprint(x, y), progress=progress)
    assert store.entries() == []


def test_a_finished_run_is_stored_and_reloaded_and_a_corrupt_copy_retrained(tmp_path, digits):
    x, y = digits
    store = ModelStore(tmp_path)
    data_id = data_fingerprint(x, y)
    config, options = SMALL.to_config(), SMALL.to_options()
    first = ex.run_or_load(config, options, x, y, store, data_id)
    assert not first.cancelled and not first.loaded and first.epochs_done == 1
    assert set(first.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}

    calls = []

    def no_training(*a, **k):
        calls.append(1)
        return train(*a, **k)

    again = ex.run_or_load(config, options, x, y, store, data_id, train_fn=no_training)
    assert again.loaded and calls == [] and again.history == first.history
    probe = x[:5].reshape(5, 784).astype(np.float32) / 255
    np.testing.assert_allclose(again.model(probe, training=False), first.model(probe, training=False), atol=1e-5)

    model_path = store.paths(first.key)[0]
    model_path.write_bytes(model_path.read_bytes()[:100])  # truncate the stored file
    third = ex.run_or_load(config, options, x, y, store, data_id, train_fn=no_training)
    assert calls == [1] and not third.loaded and "unusable" in third.warning
    assert store.load(first.key) is not None  # retrained and stored again


def test_run_record_row_and_summaries():
    s = ex.from_preset("course_cnn")
    assert ex.architecture_summary(s.to_config()) == "CNN 32@5×5 ↓ → 64@5×5 ↓ (same) · dense 1024 drop 0.4"
    assert ex.architecture_summary(ex.from_preset("mlp512").to_config()) == "MLP · dense 512-512 drop 0.2"
    rec = ex.RunRecord("run 1", "k", s.summary(), s.to_config(), s.to_options(), 3_274_634, 12.34,
                       {"val_accuracy": [0.9, 0.95]}, 0.96)
    row = rec.table_row()
    assert row["validation accuracy"] == 0.95 and row["training time (s)"] == 12.3 and row["source"] == "trained"


def test_continuing_a_run_starts_from_its_weights_under_a_key_of_its_own(tmp_path):
    from dataclasses import replace

    import numpy as np

    from mnistviz import data, models
    from mnistviz.experiments import run_or_load
    from mnistviz.store import ModelStore, data_fingerprint

    ds = data.load_sample()
    x, y = ds.x_train[:500], ds.y_train[:500]
    store, data_id = ModelStore(tmp_path), data_fingerprint(ds.x_train[:500], ds.y_train[:500])
    config = models.ModelConfig(dense=(models.DenseSpec(16),))
    opts = models.TrainOptions(epochs=1, batch_size=100, n_train=500)
    first = run_or_load(config, opts, x, y, store, data_id)
    # zero learning rate: the continued run's weights are exactly where it started
    still = run_or_load(config, replace(opts, learning_rate=0.0, continue_from=first.key), x, y, store, data_id)
    assert still.key != first.key and not still.loaded
    for a, b in zip(first.model.get_weights(), still.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    more = run_or_load(config, replace(opts, continue_from=first.key), x, y, store, data_id)
    assert more.history["loss"][0] < first.history["loss"][0]  # it goes on from a trained model, not from scratch
    store.discard(first.key)
    with pytest.raises(ValueError, match="no longer in the model store"):
        run_or_load(config, replace(opts, epochs=2, continue_from=first.key), x, y, store, data_id)
