"""Bring your own model: a Keras model built here (an architecture unlike every preset), saved, uploaded on
the Home page through AppTest, and walked through on every page; and each way an upload is rejected.

The model: two 3×3 convolutions without padding, a BatchNormalization and an Activation, average
pooling, two dense layers ending in logits, reading (None, 28, 28, 1), as people write it for MNIST.
"""

from __future__ import annotations

import io
import re
import zipfile

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import mnistviz  # noqa: F401
from mnistviz import activations, lessons, model_upload

L = keras.layers


def keras_bytes(model, tmp_path, name="model.keras") -> bytes:
    path = tmp_path / name
    model.save(path)
    return path.read_bytes()


def own_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(6, 3, activation="relu", name="edges"),
        L.Conv2D(12, 3, name="strokes"),
        L.BatchNormalization(name="norm"),
        L.Activation("relu", name="relu"),
        L.AveragePooling2D(2, name="avgpool"),
        L.Flatten(name="flat"),
        L.Dense(24, activation="relu", name="hidden"),
        L.Dropout(0.25, name="drop"),
        L.Dense(10, name="scores"),
    ], name="two_valid_convs")


@pytest.fixture(scope="module")
def uploaded(tmp_path_factory):
    model = own_model()
    return model, keras_bytes(model, tmp_path_factory.mktemp("upload"))


def test_the_upload_reads_784_pixels_and_keeps_every_layer_as_a_stage(uploaded):
    model, raw = uploaded
    up = model_upload.read_uploaded_model(raw)
    assert up.added == ("reshape", "softmax")
    assert up.params == model.count_params()
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    stages = activations.stages(up.model, x)
    names = [s.name for s in stages]
    assert names == ["to_model_input", "edges", "strokes", "norm", "relu", "avgpool", "flat", "hidden", "drop",
                     "scores", "softmax_added"]
    by_name = {s.name: s for s in stages}
    assert by_name["strokes"].shape == (5, 24, 24, 12)  # 28 → 26 → 24 without padding
    assert by_name["avgpool"].shape == (5, 12, 12, 12)
    # the same numbers as the person's own model, on its own input shape
    want = keras.ops.softmax(model(x[..., None], training=False)).numpy()
    np.testing.assert_allclose(stages[-1].array, want, atol=1e-5)
    np.testing.assert_allclose(by_name["strokes"].array,
                               keras.Model(model.inputs, model.get_layer("strokes").output)(x[..., None]).numpy(),
                               atol=1e-5)
    # each of its layers is explained on the page of its kind
    pages = {layer.name: lesson.stage for layer, lesson in zip(up.model.layers, lessons.lessons_for_layers(up.model.layers))}
    assert (pages["edges"], pages["norm"], pages["avgpool"], pages["hidden"], pages["scores"]) == (
        "conv", "conv", "pool", "dense", "softmax")
    assert up.key == model_upload.read_uploaded_model(raw).key  # keyed by the file's content


def test_a_softmax_model_on_flat_input_is_used_as_it_is(tmp_path):
    model = keras.Sequential([keras.Input((784,)), L.Dense(10, activation="softmax")])
    up = model_upload.read_uploaded_model(keras_bytes(model, tmp_path))
    assert up.added == ()
    assert up.model is not None and up.input_shape == (784,)


def _truncated(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _zip_without_config() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


REJECTIONS = {
    "not an archive": (lambda raw, tmp: b"this is a text file, not a model", "not a Keras model"),
    "truncated": (lambda raw, tmp: _truncated(raw), "not a Keras model"),
    "zip without a model": (lambda raw, tmp: _zip_without_config(), "no config.json"),
    "lambda layer": (lambda raw, tmp: keras_bytes(keras.Sequential([keras.Input((784,)), L.Lambda(lambda t: t * 2),
                                                                    L.Dense(10)]), tmp), "Lambda layer"),
    "wrong input": (lambda raw, tmp: keras_bytes(keras.Sequential([keras.Input((32, 32, 3)), L.Flatten(), L.Dense(10)]),
                                                 tmp), "reads (None, 32, 32, 3)"),
    "wrong outputs": (lambda raw, tmp: keras_bytes(keras.Sequential([keras.Input((784,)), L.Dense(5)]), tmp),
                      "outputs (None, 5)"),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_each_rejection_is_one_sentence(uploaded, tmp_path, case):
    make, words = REJECTIONS[case]
    with pytest.raises(model_upload.UploadError, match=re.escape(words)):
        model_upload.read_uploaded_model(make(uploaded[1], tmp_path))


def test_too_many_parameters_says_the_limit(uploaded):
    with pytest.raises(model_upload.UploadError, match="at most 1,000"):
        model_upload.read_uploaded_model(uploaded[1], max_params=1000)


def test_a_custom_layer_is_refused_in_safe_mode(tmp_path):
    @keras.saving.register_keras_serializable(package="someone")
    class Doubler(L.Layer):
        def call(self, x):
            return x * 2

    raw = keras_bytes(keras.Sequential([keras.Input((784,)), Doubler(), L.Dense(10)]), tmp_path)
    keras.saving.get_custom_objects().pop("someone>Doubler", None)  # a fresh server does not know the class
    with pytest.raises(model_upload.UploadError, match="custom layer"):
        model_upload.read_uploaded_model(raw)


WALK = ["pages/draw.py", "pages/overview.py", "pages/stage_data.py", "pages/stage_reshape.py", "pages/stage_conv.py",
        "pages/stage_pool.py", "pages/stage_flatten.py", "pages/stage_dense.py", "pages/stage_softmax.py",
        "pages/map.py"]


def test_upload_on_home_then_walk_through_every_page(uploaded):
    model, raw = uploaded
    at = AppTest.from_file("../app.py", default_timeout=180).run()
    assert not at.exception
    at.file_uploader(key="model_upload").set_value(("mine.keras", raw, "application/octet-stream")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("mine.keras is now your active model" in s.value for s in at.success)
    assert "Uploaded: mine.keras" in at.sidebar.selectbox(key="model_choice").format_func(
        at.sidebar.selectbox(key="model_choice").value)
    assert "edges → strokes" in " ".join(m.value for m in at.markdown)
    for page in WALK:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
        assert not at.warning, (page, [w.value for w in at.warning])  # e.g. NumPy's pooling ≠ Keras'
        if page == "pages/stage_conv.py":  # its layers without a page of their own, in a plain view
            assert {"norm (BatchNormalization)", "relu (Activation)"} <= {h.value for h in at.subheader}
        if page == "pages/stage_pool.py":
            assert any("**average** pooling" in i.value for i in at.info)
    at.switch_page("pages/overview.py").run()
    table = at.dataframe[0].value
    assert list(table["Layer"])[1:] == ["to_model_input", "edges", "strokes", "norm", "relu", "avgpool", "flat",
                                        "hidden", "drop", "scores", "softmax_added"]
    # a rejected file changes nothing: the uploaded model stays active, and the page says why
    at.switch_page("pages/home.py").run()
    at.file_uploader(key="model_upload").set_value(("notes.keras", b"not a model", "application/octet-stream")).run()
    assert not at.exception
    assert any("notes.keras: This file is not a Keras model" in e.value for e in at.error)
    assert at.session_state["model_shelf"].active.name == "mine.keras"


def test_another_session_never_sees_the_upload(uploaded):
    _, raw = uploaded
    mine = AppTest.from_file("../app.py", default_timeout=180).run()
    mine.file_uploader(key="model_upload").set_value(("mine.keras", raw, "application/octet-stream")).run()
    theirs = AppTest.from_file("../app.py", default_timeout=180).run()
    assert not theirs.exception
    options = theirs.sidebar.selectbox(key="model_choice").options
    assert len(options) == 1  # only the default
