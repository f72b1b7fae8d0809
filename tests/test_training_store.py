"""Training (progress, cancel, determinism) and the model store (atomic, keyed, corrupt files) with real Keras."""

import json

import numpy as np
import pytest

from mnistviz import activations, data, models, store, training
from mnistviz.models import ConvSpec, DenseSpec, ModelConfig, TrainOptions

TINY = ModelConfig(convs=(ConvSpec(4, 3, "same"),), dense=(DenseSpec(16, dropout=0.2),))
OPTS = TrainOptions(epochs=2, batch_size=40, learning_rate=0.01, validation_fraction=0.2, seed=3)


@pytest.fixture(scope="module")
def sample():
    return data.load_sample()


def test_training_reports_progress_and_learns(sample):
    events = []
    result = training.train(TINY, sample.x_train[:600], sample.y_train[:600], OPTS, progress=events.append)
    batches = [e for e in events if e.kind == "batch"]
    epochs = [e for e in events if e.kind == "epoch"]
    assert len(epochs) == 2 and len(batches) == 2 * 12  # 480 training images / 40 = 12 steps
    assert batches[0].steps == 12 and epochs[-1].fraction == 1.0
    assert "val_accuracy" in epochs[-1].logs and "loss" in batches[0].logs
    assert not result.cancelled and result.epochs_done == 2
    ev_acc = np.mean(activations.probabilities(result.model, sample.x_test[:300]).argmax(1) == sample.y_test[:300])
    assert ev_acc > 0.5  # far above chance (0.1) after 2 short epochs


def test_same_seed_same_weights(sample):
    a = training.train(TINY, sample.x_train[:300], sample.y_train[:300], OPTS)
    b = training.train(TINY, sample.x_train[:300], sample.y_train[:300], OPTS)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        assert np.array_equal(wa, wb)


def test_augmented_training_runs(sample):
    opts = TrainOptions(epochs=1, batch_size=100, augment=True, validation_fraction=0.0, seed=1)
    r = training.train(TINY, sample.x_train[:300], sample.y_train[:300], opts)
    assert r.epochs_done == 1 and np.isfinite(r.history["loss"][0])


def test_cancel_stops_and_is_marked(sample):
    def cancel_after_two(p):
        return not (p.kind == "batch" and p.batch >= 1)

    r = training.train(TINY, sample.x_train[:600], sample.y_train[:600], TrainOptions(epochs=5, batch_size=50),
                       progress=cancel_after_two)
    assert r.cancelled and r.epochs_done <= 1


def test_store_round_trip_is_keyed_and_atomic(tmp_path, sample):
    r = training.train(TINY, sample.x_train[:200], sample.y_train[:200], TrainOptions(epochs=1, batch_size=50))
    s = store.ModelStore(tmp_path)
    fp = store.data_fingerprint(sample.x_train[:200], sample.y_train[:200])
    key = store.model_key(TINY, r.options, fp)
    assert key != store.model_key(TINY, TrainOptions(epochs=2, batch_size=50), fp)
    assert key != store.model_key(TINY, r.options, store.data_fingerprint(sample.x_train[:199], sample.y_train[:199]))
    assert s.load(key) is None
    s.save(key, r.model, {"accuracy": 0.5})
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    loaded = s.load(key)
    x = sample.x_test[:5]
    np.testing.assert_allclose(activations.probabilities(loaded.model, x), activations.probabilities(r.model, x),
                               atol=1e-6)
    assert loaded.meta["accuracy"] == 0.5 and s.entries()[0]["key"] == key


def test_store_size_cap_evicts_the_least_recently_used_and_never_the_shipped_model(tmp_path, sample, monkeypatch):
    import os

    from mnistviz import pretrained

    r = training.train(TINY, sample.x_train[:100], sample.y_train[:100], TrainOptions(epochs=1, batch_size=50))
    probe = store.ModelStore(tmp_path / "probe", max_bytes=0)
    probe.save("one", r.model, {})
    entry = sum(p.stat().st_size for p in probe.paths("one"))
    s = store.ModelStore(tmp_path / "capped", max_bytes=int(entry * 2.5))  # room for two entries
    s.save("a", r.model, {})
    s.save("b", r.model, {})
    for i, key in enumerate(("a", "b")):  # a was used long ago, b a little later
        for p in s.paths(key):
            os.utime(p, (1_000_000 + i, 1_000_000 + i))
    assert s.load("a") is not None  # a load is a use: now b is the least recently used
    s.save("c", r.model, {})
    assert s.load("b") is None and s.load("a") is not None and s.load("c") is not None
    assert not list((tmp_path / "capped").glob(".*"))

    monkeypatch.setenv("MNISTVIZ_CACHE_MAX_MB", "0.001")
    assert store.ModelStore(tmp_path / "x").max_bytes == 1048
    shipped = store.ModelStore(pretrained.ASSETS)  # even a store rooted at the package's assets keeps them
    before = sorted(p.name for p in pretrained.ASSETS.iterdir())
    assert shipped.trim() == [] and sorted(p.name for p in pretrained.ASSETS.iterdir()) == before


def test_store_detects_truncated_and_corrupt_files(tmp_path, sample):
    r = training.train(TINY, sample.x_train[:100], sample.y_train[:100], TrainOptions(epochs=1, batch_size=50))
    s = store.ModelStore(tmp_path)
    s.save("k1", r.model, {})
    model_path, meta_path = s.paths("k1")
    model_path.write_bytes(model_path.read_bytes()[:1000])  # truncated
    with pytest.raises(store.StoreError, match="checksum"):
        s.load("k1")
    s.save("k2", r.model, {})
    m2, j2 = s.paths("k2")
    meta = json.loads(j2.read_text())
    meta.pop("sha256")
    j2.write_text(json.dumps(meta))
    m2.write_bytes(b"garbage")
    with pytest.raises(store.StoreError, match="cannot be loaded"):
        s.load("k2")
    j2.write_text("{not json")
    with pytest.raises(store.StoreError, match="unreadable"):
        s.load("k2")
    s.discard("k2")
    assert s.load("k2") is None


def test_stages_come_from_one_pass_and_match_keras(sample):
    r = training.train(TINY, sample.x_train[:100], sample.y_train[:100], TrainOptions(epochs=1, batch_size=50))
    x = sample.x_test[:3]
    st = activations.stages(r.model, x)
    assert [s.name for s in st] == ["reshape", "conv1", "pool1", "flatten", "dense", "dropout", "logits", "softmax"]
    assert st[1].shape == (3, 28, 28, 4) and st[1].params == 40
    np.testing.assert_allclose(st[-1].array, r.model.predict(data.model_input(x), verbose=0), atol=1e-5)
    one = activations.stages(r.model, sample.x_test[0])  # a single (28, 28) image
    assert one[1].shape == (1, 28, 28, 4)


def test_streamlit_style_clear_session_in_another_thread_does_not_disturb_training(sample):
    """Streamlit calls keras.backend.clear_session() (+ gc) after every rerun of any session; a run in
    progress in another session must give bit-identical weights anyway."""
    import threading
    import time

    import keras

    opts = TrainOptions(epochs=1, batch_size=25, seed=5, augment=True, validation_fraction=0.0)
    x, y = sample.x_train[:400], sample.y_train[:400]
    reference = training.train(TINY, x, y, opts).model.get_weights()
    stop = threading.Event()
    calls = []

    def other_sessions_rerunning():
        # clear_session() runs a full gc.collect() itself; late in a test session the heap is large, so
        # a tighter loop would hold the interpreter lock most of the time and only make the test slow.
        while not stop.is_set():
            keras.backend.clear_session()
            calls.append(1)
            time.sleep(0.05)

    t = threading.Thread(target=other_sessions_rerunning)
    t.start()
    try:
        disturbed = training.train(TINY, x, y, opts)
    finally:
        stop.set()
        t.join()
    assert len(calls) > 3
    assert all(np.array_equal(a, b) for a, b in zip(reference, disturbed.model.get_weights()))


def test_precision_setting_resolves_to_a_keras_dtype_policy():
    assert TrainOptions().precision == "float32"  # what the lab trains with, inside the Streamlit server
    assert models.PRESETS["default"].train.precision == "auto"  # the CLI recipe of the shipped model
    assert training.compute_dtype(TrainOptions(precision="float32")) is None
    assert training.compute_dtype(TrainOptions(precision="mixed_bfloat16")) == "mixed_bfloat16"
    auto = training.compute_dtype(TrainOptions(precision="auto"))
    assert auto == ("mixed_bfloat16" if training.native_bfloat16() else None)
    with pytest.raises(ValueError):
        training.compute_dtype(TrainOptions(precision="float8"))


def test_bfloat16_training_learns_and_hands_back_a_float32_model(sample):
    opts = TrainOptions(epochs=2, batch_size=40, learning_rate=0.01, validation_fraction=0.0, seed=3,
                        precision="mixed_bfloat16")
    r = training.train(TINY, sample.x_train[:600], sample.y_train[:600], opts)
    assert {layer.dtype_policy.name for layer in r.model.layers} == {"float32"}
    assert all(w.dtype == np.float32 for w in r.model.get_weights())
    acc = np.mean(activations.probabilities(r.model, sample.x_test[:300]).argmax(1) == sample.y_test[:300])
    assert acc > 0.5
    again = training.train(TINY, sample.x_train[:600], sample.y_train[:600], opts)
    assert all(np.array_equal(a, b) for a, b in zip(r.model.get_weights(), again.model.get_weights()))


def test_mixed_model_keeps_the_softmax_in_float32():
    m = models.build_model(TINY, dtype="mixed_bfloat16")
    assert m.get_layer("conv1").compute_dtype == "bfloat16" and m.get_layer("conv1").variable_dtype == "float32"
    assert m.get_layer("softmax").compute_dtype == "float32"
    assert m.count_params() == models.build_model(TINY).count_params()


def test_compiled_paths_agree_for_any_batch_size_and_survive_clear_session(sample):
    """Small batches go through the XLA-compiled pass (padded to a power of two), big ones through the
    plain compiled pass; both must give Keras' numbers, also right after Streamlit-style clear_session."""
    import keras

    r = training.train(TINY, sample.x_train[:200], sample.y_train[:200], TrainOptions(epochs=1, batch_size=50))
    runner = activations.runner_for(r.model)
    x = sample.x_test[:300]
    reference = r.model.predict(data.model_input(x), verbose=0)
    for n in (1, 3, 64, 129, 300):  # 3 → padded to 4; 129 and 300 take the plain path
        np.testing.assert_allclose(activations.probabilities(r.model, x[:n]), reference[:n], atol=1e-5)
    keras.backend.clear_session()
    three = activations.stages(r.model, x[:3])
    assert three[1].shape == (3, 28, 28, 4) and three[-1].shape == (3, 10)
    np.testing.assert_allclose(three[-1].array, reference[:3], atol=1e-5)
    assert runner.xla  # the chain models of mnistviz.models all compile with XLA
    assert [activations._bucket(n) for n in (1, 2, 3, 64, 65)] == [1, 2, 4, 64, 128]
