"""AppTest of the lab: the live table equals Keras, impossible settings are explained, a short real run on
the training queue completes with accuracy and a confusion matrix, cancel keeps nothing, the URL
reproduces the settings and a link with values outside the table shows one note, never an exception."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistviz import experiments as ex
from mnistviz import models

from lab_support import lab_of as _lab, until_done as _until_done

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/lab.py"
QUICK = {"blocks": 1, "filters1": 4, "kernel1": 3, "units": 16, "dropout": 0.0, "epochs": 1, "batch_size": 64,
         "n_train": 500}


@pytest.fixture(autouse=True)
def private_store(monkeypatch, tmp_path):
    monkeypatch.setenv("MNISTVIZ_CACHE", str(tmp_path / "store"))
    return tmp_path / "store"


def _open(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    if query:
        at.query_params.update(query)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _set(at: AppTest, **values) -> AppTest:
    """Set lab widgets by setting name (widget key ``lab_w_<name>``), one run per change, as a person would."""
    for name, value in values.items():
        key = f"lab_w_{name}"
        widget = next(w for kind in ("slider", "select_slider", "radio", "selectbox", "number_input", "toggle",
                                     "checkbox") for w in at.get(kind) if getattr(w, "key", None) == key)
        widget.set_value(value).run()
        assert not at.exception, at.exception
    return at


def _settings(at: AppTest) -> ex.LabSettings:
    return _lab(at).settings


def _table(at: AppTest):
    return next(df.value for df in at.dataframe if "how the count is made" in df.value.columns)


def _chart(at: AppTest, key_suffix: str) -> dict | None:
    for el in at.get("plotly_chart"):
        if el.proto.id.endswith(key_suffix):
            return json.loads(el.proto.spec)
    return None


def _z(spec: dict) -> np.ndarray:
    """A heatmap's values from Plotly's JSON (plain lists, or the typed-array form ``{dtype, bdata, shape}``)."""
    z = spec["data"][0]["z"]
    if isinstance(z, dict):
        shape = tuple(int(n) for n in str(z["shape"]).split(","))
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)
    return np.asarray(z)


def _assert_table_is_keras(at: AppTest) -> None:
    table = _table(at)
    config = _settings(at).to_config()
    model = models.build_model(config)
    keras_layers = [layer for layer in model.layers if layer.name != "pixels"]
    assert list(table["layer"])[1:] == [layer.name for layer in keras_layers]
    for (_, row), layer in zip(table.iloc[1:].iterrows(), keras_layers):
        assert row["output shape"].replace("None (batch)", "None") == str(tuple(layer.output.shape)), row["layer"]
        assert row["parameters"] == f"{layer.count_params():,}", row["layer"]  # 3,212,288, as on every page
    assert sum(int(p.replace(",", "")) for p in table["parameters"]) == model.count_params()
    assert next(m for m in at.metric if m.label == "Layers").value == str(len(table))
    metric = next(m for m in at.metric if m.label == "Parameters")
    assert metric.value == f"{model.count_params():,}"


def test_sliders_change_the_table_and_it_always_equals_keras():
    at = _open()
    assert not at.error
    _assert_table_is_keras(at)
    assert "(5·5·1 + 1)·32 = 832" in list(_table(at)["how the count is made"])
    before = _table(at)
    _set(at, filters1=8)
    after = _table(at)
    assert after.loc[after.layer == "conv1", "output shape"].item() == "(None (batch), 28, 28, 8)"
    assert after.loc[after.layer == "conv1", "parameters"].item() == str((5 * 5 * 1 + 1) * 8)
    assert not before.equals(after)
    _assert_table_is_keras(at)
    _set(at, kernel2=3, padding="valid")
    _assert_table_is_keras(at)
    _set(at, blocks=3, kernel3=3, pool3=False, convs3=2, batch_norm=True, dense_layers=2, units=40)
    _assert_table_is_keras(at)
    _set(at, blocks=1, stride1=2)  # 'valid': conv1 (28 − 5)//2 + 1 = 12
    _assert_table_is_keras(at)
    assert _table(at).loc[lambda t: t.layer == "conv1", "output shape"].item() == "(None (batch), 12, 12, 8)"
    _set(at, blocks=0)  # an MLP: no reshape, no feature maps
    _assert_table_is_keras(at)
    assert "reshape" not in list(_table(at)["layer"])
    assert any("no feature maps" in i.value for i in at.info)


def test_untrained_feature_maps_one_mosaic_per_conv_layer():
    at = _open()
    _set(at, blocks=2, convs2=2, kernel2=3)
    assert _chart(at, "lab_fresh_conv1") and _chart(at, "lab_fresh_conv2") and _chart(at, "lab_fresh_conv3")
    assert _chart(at, "lab_fresh_conv4") is None


def test_an_impossible_combination_is_explained_and_cannot_be_trained():
    at = _open()
    _set(at, blocks=3, padding="valid", kernel1=7, kernel2=7, kernel3=7)
    assert not at.exception
    assert len(at.error) == 1
    assert "conv3" in at.error[0].value and "7×7" in at.error[0].value
    assert at.button(key="lab_train").disabled
    assert not any("how the count is made" in df.value.columns for df in at.dataframe)
    _set(at, padding="same")  # fixed: the message goes, the button comes back
    assert not at.error and not at.button(key="lab_train").disabled


def test_preset_picker_loads_the_course_model():
    at = _open()
    at.selectbox(key="lab_preset").set_value("tf_tutorial").run()
    assert not at.exception
    s = _settings(at)
    assert s.to_config() == models.PRESETS["tf_tutorial"].config
    assert at.select_slider(key="lab_w_batch_size").value == 1000
    assert at.slider(key="lab_w_blocks").value == 3
    assert next(m for m in at.metric if m.label == "Parameters").value == "93,322"


def test_short_real_training_run_shows_accuracy_confusion_and_is_reused(private_store):
    at = _open()
    _set(at, **QUICK)
    at.button(key="lab_train").click().run()
    assert not at.exception, at.exception
    assert at.button(key="lab_train").disabled  # one job at a time; the page keeps working meanwhile
    _until_done(at)
    acc = next(m for m in at.metric if m.label == "Test accuracy")
    assert acc.value.endswith("%") and 0.0 < float(acc.value.rstrip("%")) <= 100.0
    assert any("held-out part of the bundled sample" in c.value or "test split" in c.value for c in at.caption)
    confusion = _chart(at, "lab_confusion")
    assert confusion is not None
    z = _z(confusion)
    run = _lab(at).runs[0]
    assert z.shape == (10, 10) and z.sum() == len(run.extra["evaluation"].predictions)
    wrong, total = next(m for m in at.metric if m.label == "Misclassified").value.replace(",", "").split(" of ")
    assert int(wrong) == z.sum() - np.trace(z) and int(total) == z.sum()
    assert _chart(at, "lab_wrong") is not None and _chart(at, "lab_per_class") is not None
    assert _chart(at, "lab_trained_conv1") is not None
    assert len(_lab(at).runs) == 1
    assert list(private_store.glob("*.keras"))  # kept in the store
    assert not at.button(key="lab_train").disabled  # controls are back after the run
    kept = at.session_state["model_shelf"].get(run.key)
    assert kept is not None and getattr(kept.model, "optimizer", None) is None  # the store's optimizer-free model
    headers = [h.value.split(" · ")[0] for h in at.header]
    assert headers == [str(i) for i in range(1, len(headers) + 1)]  # sections numbered as shown

    at.button(key="lab_use").click().run()  # use it everywhere, for this session only
    assert at.session_state["model_shelf"].active_key == run.key

    _watch_it_learn(at)

    at.button(key="lab_train").click().run()  # identical settings: loaded, not retrained
    _until_done(at)
    runs = _lab(at).runs
    assert len(runs) == 2 and runs[1].loaded and runs[1].history == runs[0].history
    assert any("loaded instead of retrained" in i.value for i in at.info)
    assert _chart(at, "lab_compare") is not None

    # continue the run for one more epoch: a new run that starts from its trained weights
    at.number_input(key="lab_more_epochs").set_value(1).run()
    at.button(key="lab_continue").click().run()
    _until_done(at)
    first, third = _lab(at).runs[0], _lab(at).runs[2]
    assert third.options.continue_from == first.key and third.key != first.key
    assert "continues run 1" in third.summary
    assert third.history["loss"][0] < first.history["loss"][0]  # it went on from the trained weights


def _watch_it_learn(at: AppTest) -> None:
    """The finished run's replay: 500 images (450 train) in batches of 64 are 8 steps an epoch, so snapshots come
    before training, after batches 1, 2 and 4, and at the epoch's end; scrub back, then play."""
    scrubber = at.select_slider(key="replay_at")
    options = scrubber.options
    assert options == ["before training", "epoch 0.12 (batch 1)", "epoch 0.25 (batch 2)", "epoch 0.50 (batch 4)",
                       "epoch 1"]
    assert scrubber.value == "epoch 1"  # opens on the trained model
    trained = next(m for m in at.metric if m.label == "Held-out accuracy").value
    scrubber.set_value("before training").run()
    assert not at.exception
    assert next(m for m in at.metric if m.label == "Held-out accuracy").value != trained
    at.button(key="replay_play").click().run()  # plays from here, one snapshot a tick
    assert at.session_state["replay_playing"]
    assert at.select_slider(key="replay_at").value == "before training"
    at.run()  # the next tick shows the next snapshot
    assert at.select_slider(key="replay_at").value == options[1]


def test_cancel_reports_where_it_stopped_and_keeps_nothing(private_store):
    at = _open()
    _set(at, **{**QUICK, "epochs": 20, "n_train": 4000})
    at.button(key="lab_train").click().run()
    deadline = time.monotonic() + 120
    while not (_lab(at).status and _lab(at).status.state == "running" and _lab(at).status.steps):
        assert time.monotonic() < deadline
        time.sleep(0.3)
        at.run()
    job_id = _lab(at).job_id
    at.button(key="lab_cancel_btn").click().run()
    assert not at.exception, at.exception
    seen = _lab(at).status
    note = next(w.value for w in at.warning if "Training cancelled" in w.value)
    assert f"epoch {seen.epoch + 1} of 20" in note and f"of {seen.steps}." in note
    from mnistviz.jobs import training_queue

    final = training_queue().wait(job_id, timeout=120)
    assert final.state == "cancelled"
    assert _lab(at).runs == [] and not _lab(at).following
    assert not list(private_store.glob("*.keras")) and not list(private_store.glob("*.json"))
    assert not any(m.label == "Test accuracy" for m in at.metric)
    assert not at.button(key="lab_train").disabled


@pytest.mark.parametrize("bad", ["99999", "-3", "1e30", "abc", ""])
def test_a_link_with_every_field_out_of_the_table_shows_one_note(bad):
    at = _open({f.url: bad for f in ex.FIELDS})
    assert not at.exception, at.exception
    notes = [w.value for w in at.warning if "link" in w.value]
    assert len(notes) == 1
    assert ex.within_table(_settings(at))[1] == []


@pytest.mark.parametrize("query, name, value", [({"ep": "40"}, "epochs", 30), ({"f1": "200"}, "filters1", 128),
                                               ({"do": "0.85"}, "dropout", 0.8)])
def test_the_links_that_crashed_the_page_are_clamped(query, name, value):
    at = _open(query)
    assert not at.exception, at.exception
    assert getattr(_settings(at), name) == value
    assert sum("link" in w.value for w in at.warning) == 1


def test_the_url_reproduces_the_settings():
    settings = ex.LabSettings(blocks=1, filters1=12, kernel1=3, padding="valid", optimizer="sgd", batch_size=10_000,
                              learning_rate=1e-2, n_train=1000)
    at = _open(ex.to_query(settings))
    assert _settings(at) == settings
    assert at.slider(key="lab_w_filters1").value == 12
    assert at.radio(key="lab_w_optimizer").value == "sgd"
    _set(at, epochs=3)
    assert at.query_params["ep"] == "3" and at.query_params["f1"] == "12"
    back, skipped = ex.from_query(at.query_params)
    assert back == ex.LabSettings(**{**settings.to_dict(), "epochs": 3}) and skipped == []


def test_keras_code_is_shown_when_asked_and_builds_the_same_model():
    at = _open()
    _set(at, blocks=1, filters1=6, kernel1=3, units=20)
    assert not [c for c in at.code if "keras.Model(inputs, outputs)" in c.value]  # shown when asked
    at.toggle(key="lab_show_code").set_value(True).run()
    code = next(c.value for c in at.code if "keras.Model(inputs, outputs)" in c.value)
    scope: dict = {}
    exec(code.replace("model.summary()", ""), scope)
    config = _settings(at).to_config()
    assert scope["model"].count_params() == models.count_params(config)


def _npz(**arrays) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_train_on_your_own_digits_from_an_npz(private_store):
    from mnistviz import data

    sample = data.load_sample()
    x, y = sample.x_train[:300], sample.y_train[:300]
    at = _open()
    at.file_uploader(key="lab_npz").set_value(("bad.npz", _npz(x=x, y=y + 5), "application/octet-stream")).run()
    assert not at.exception
    assert any("bad.npz: y's labels must be digits 0-9" in e.value for e in at.error)  # one sentence, nothing lost
    at.file_uploader(key="lab_npz").set_value(("mine.npz", _npz(x=x, y=y), "application/octet-stream")).run()
    assert not at.exception, at.exception
    assert any("Training on your digits from mine.npz: 240 to train, 60 held out" in s.value for s in at.success)
    saved = list((private_store / "data").glob("*.npz"))
    assert len(saved) == 1  # in the store, where a worker on another machine reads it
    saved[0].unlink()  # the store's cap removed it (a set counts like a model): the next run writes it again
    at.run()
    assert not at.exception and saved[0].exists(), at.exception
    _set(at, blocks=0, units=16, epochs=1, batch_size=64)
    at.button(key="lab_train").click().run()
    _until_done(at)
    run = _lab(at).runs[0]
    assert run.test_label == "test split of " + saved[0].name + " (60)"
    assert len(run.extra["evaluation"].predictions) == 60  # scored on the held-out part of the person's digits
    from mnistviz.jobs import training_data
    from mnistviz.store import model_key

    own_id = training_data(str(saved[0]))[1]
    assert own_id != training_data("sample")[1]
    assert run.key == model_key(run.config, run.options, own_id)  # the data's fingerprint is in the store key
