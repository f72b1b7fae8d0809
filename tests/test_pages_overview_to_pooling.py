"""AppTests of the first half of the walkthrough: overview, data, reshape, convolution, max pooling.

Each page: renders without an exception, shows the active model's real shapes and parameter counts,
and its figures change when the input digit changes (sidebar number input). One AppTest per page.
"""

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import mnistviz  # noqa: F401
from mnistviz import activations, data, models, pretrained

OTHER_INDEX = 7


@pytest.fixture(scope="module")
def model():
    return pretrained.load_default_model()


def open_page(path: str) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120).run()
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict:
    return {m.label: m.value for m in at.metric}


def chart(at: AppTest, key: str) -> dict:
    """The Plotly spec of the chart with widget key ``key``."""
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, f"no chart {key!r}"
    return json.loads(found[0].proto.spec)


def arr(value) -> np.ndarray:
    """A Plotly array from a spec: a list, or a typed array ``{"dtype", "bdata", "shape"}``."""
    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if shape:
            out = out.reshape([int(n) for n in str(shape).split(",")])
        return out
    return np.array(value)


def pixel_matrix(at: AppTest) -> str:
    return next(h.proto.body for h in at.get("html") if "pixel-matrix" in h.proto.body)


def pick_digit(at: AppTest, index: int) -> AppTest:
    at.sidebar.number_input(key="input_index").set_value(index).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_overview_matches_the_real_layers(model):
    at = open_page("pages/overview.py")
    m = metrics(at)
    assert m["Total parameters"] == f"{model.count_params():,}" == "3,274,634"
    table = at.dataframe[0].value
    assert list(table["Layer"]) == [layer.name for layer in model.layers]
    assert list(table["Parameters"]) == [layer.count_params() for layer in model.layers]
    shapes = dict(zip(table["Layer"], table["Output shape"]))
    assert shapes["conv1"] == "(None, 28, 28, 32)" and shapes["pool2"] == "(None, 7, 7, 64)"
    assert shapes["flatten"] == "(None, 3136)"
    arch = json.dumps(chart(at, "overview_arch"), ensure_ascii=False)
    assert "conv2" in arch and "14×14×64" in arch and "51,264<br>params" in arch
    # another digit with another predicted class changes the prediction shown
    ds = data.load_sample()
    preds = activations.probabilities(model, ds.x_test[:40]).argmax(axis=1)
    other = int(np.flatnonzero(preds != preds[0])[0])
    before = m["Prediction for the input digit"]
    pick_digit(at, other)
    assert metrics(at)["Prediction for the input digit"] == str(preds[other]) != before


def test_data_page_shows_the_digit_and_changes_with_it():
    at = open_page("pages/stage_data.py")
    m = metrics(at)
    assert m["Output shape"] == "(1, 784)" and m["Parameters"] == "0"
    z0 = arr(chart(at, "data_heatmap")["data"][0]["z"])
    assert z0.shape == (28, 28) and z0.max() <= 255
    matrix0 = pixel_matrix(at)
    assert matrix0.count("\n") == 27  # 28 printed rows
    assert any("to_categorical" in c.value for c in at.code)
    counts = chart(at, "data_counts")
    assert len(counts["data"]) == 2  # train and test bars
    pick_digit(at, OTHER_INDEX)
    assert not np.array_equal(arr(chart(at, "data_heatmap")["data"][0]["z"]), z0)
    assert pixel_matrix(at) != matrix0


def test_reshape_page_shapes_and_wrapping():
    at = open_page("pages/stage_reshape.py")
    m = metrics(at)
    assert m["Output shape"] == "(1, 28, 28, 1)"
    assert m["Batch in"] == "(5, 784)" and m["After reshape(-1, 28, 28, 1)"] == "(5, 28, 28, 1)"
    grid = chart(at, "reshape_grid")["data"][0]
    strip0 = chart(at, "reshape_strip")["data"][0]["z"]
    assert arr(grid["customdata"])[3, 5] == 3 * 28 + 5  # hover shows k for (row, col)
    assert arr(grid["z"]).shape == (28, 28) and arr(strip0).shape == (1, 784)
    np.testing.assert_allclose(arr(grid["z"]).ravel(), arr(strip0).ravel())  # the same numbers, wrapped
    captions = " ".join(c.value for c in at.caption)
    assert "(5, 4, 2) holds 5·4·2 = 40 numbers" in captions and "(3, 10, 2), which would need 60" in captions
    pick_digit(at, OTHER_INDEX)
    assert not np.array_equal(arr(chart(at, "reshape_strip")["data"][0]["z"]), arr(strip0))


def test_conv_page_conv1_conv2_random_and_filter_off():
    at = open_page("pages/stage_conv.py")
    m = metrics(at)
    assert m["Output shape"] == "(1, 28, 28, 32)" and m["Parameters"] == "832"
    assert any("the same number" in s.value for s in at.success)  # hand arithmetic == Keras
    maps0 = chart(at, "conv_maps_conv1")["data"][0]["source"]
    assert "conv_after" in {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    # filter 5's pixel (3, 2) chosen, then its window on the digit
    at.session_state["conv_f_conv1"], at.session_state["conv_row_conv1"], at.session_state["conv_col_conv1"] = 5, 3, 2
    at.run()
    assert any("How output pixel (3, 2) of filter 5" in md.value for md in at.markdown)
    box = chart(at, "conv_field")["layout"]["shapes"][0]
    assert (box["x0"], box["x1"], box["y0"], box["y1"]) == (-0.5, 4.5, 0.5, 5.5)  # rows 1-5, cols 0-4 (clipped at the left)
    assert any("**5×5** patch" in md.value for md in at.markdown)
    pick_digit(at, OTHER_INDEX)
    assert chart(at, "conv_maps_conv1")["data"][0]["source"] != maps0
    assert any("the same number" in s.value for s in at.success)

    at.session_state["conv_layer"] = "conv2"
    at.toggle(key="conv_random").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    assert m["Output shape"] == "(1, 14, 14, 64)" and m["Parameters"] == "51,264"
    assert any("the same number" in s.value for s in at.success)
    assert any("**14×14** patch" in md.value and "`pool1` (MaxPooling2D): 6×6 pixels" in md.value for md in at.markdown)
    contrib = chart(at, "conv_contrib")["data"][0]
    assert len(contrib["x"]) == 32  # one bar per input channel
    assert chart(at, "conv_random_maps")["data"][0]["source"] != chart(at, "conv_trained_maps")["data"][0]["source"]


def test_pool_page_halves_and_changes_with_the_digit():
    at = open_page("pages/stage_pool.py")
    m = metrics(at)
    assert m["Output shape"] == "(1, 14, 14, 32)" and m["Parameters"] == "0"
    assert not at.warning  # NumPy pooling equals Keras
    before0 = arr(chart(at, "pool_before")["data"][0]["z"])
    assert before0.shape == (28, 28)
    after0 = arr(chart(at, "pool_after")["data"][0]["z"])
    assert after0.shape == (14, 14)
    assert np.allclose(after0, before0.reshape(14, 2, 14, 2).max(axis=(1, 3)))  # each cell = its window's max
    # the −∞ lesson says when it applies: this model's pooling is 'valid' and never pads
    page_text = " ".join(x.value for x in [*at.markdown, *at.caption])
    assert "applies only to pooling with `padding='same'`" in page_text
    assert "`pool1`, `pool2`) uses `padding='valid'`, so it never pads" in page_text
    assert any(" −∞  −∞" in c.value and "→  −1  −4 /  −2  −5" in c.value for c in at.code)  # convarith.pool2d
    pick_digit(at, OTHER_INDEX)
    assert not np.array_equal(arr(chart(at, "pool_before")["data"][0]["z"]), before0)
    at.session_state["pool_layer"] = "pool2"
    at.run()
    assert not at.exception
    assert metrics(at)["Output shape"] == "(1, 7, 7, 64)"
    assert arr(chart(at, "pool_after")["data"][0]["z"]).shape == (7, 7)


def app_looking_through(config: models.ModelConfig, key: str):
    """The app, run once, with an untrained model of ``config`` as this session's active model; and the model."""
    from mnistviz.shelf import ModelShelf, ShelfModel

    model = models.build_model(config, seed=0)
    at = AppTest.from_file("../app.py", default_timeout=120)
    shelf = ModelShelf()
    shelf.use(shelf.add(ShelfModel(key, key, key, model, config)).key)
    at.session_state["model_shelf"] = shelf
    return at.run(), model


def test_pages_say_so_plainly_for_an_mlp():
    at, mlp = app_looking_through(models.PRESETS["mlp30"].config, "test:mlp30-untrained")
    for page, words in [("pages/stage_conv.py", "no convolution"), ("pages/stage_pool.py", "no pooling"),
                        ("pages/stage_reshape.py", "no reshape")]:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert any(words in i.value for i in at.info), page
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    assert metrics(at)["Total parameters"] == f"{mlp.count_params():,}"


def test_conv_page_arithmetic_follows_a_stride():
    config = models.ModelConfig(convs=(models.ConvSpec(6, 3, "same", pool=False, strides=2),),
                                dense=(models.DenseSpec(8),))
    at, _ = app_looking_through(config, "test:strided-untrained")
    at.switch_page("pages/stage_conv.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert metrics(at)["Output shape"] == "(1, 14, 14, 6)"
    for row, col in ((0, 0), (13, 13), (6, 3)):
        at.slider(key="conv_row_conv1").set_value(row)
        at.slider(key="conv_col_conv1").set_value(col).run()
        assert any("the same number" in s.value for s in at.success), (row, col)  # hand arithmetic = Keras


def test_conv_page_shows_the_patches_that_excite_the_filter_most(model):
    import keras

    from mnistviz.jobs import training_data
    from pages.shared import DATA_SOURCE, MAP_DIGITS

    digits = training_data(DATA_SOURCE)[0].x_test[:MAP_DIGITS]
    probe = keras.Model(model.inputs[0], model.get_layer("conv1").output)
    peaks = np.concatenate([np.asarray(probe(data.model_input(digits[i:i + 500]))).max(axis=(1, 2))
                            for i in range(0, len(digits), 500)])  # (N, 32): each digit's strongest place per filter
    at = open_page("pages/stage_conv.py")
    for f in (int(at.number_input(key="conv_f_conv1").value), 3):
        at.number_input(key="conv_f_conv1").set_value(f).run()
        assert not at.exception, [e.value for e in at.exception]
        spec = chart(at, "conv_top_patches")
        assert spec["data"][0]["source"].startswith("data:image/png")  # the patches are ONE image
        shown = [int(a["text"].split(":")[0].lstrip("#")) for a in spec["layout"]["annotations"]]
        assert len(shown) == 8 == len(set(shown))  # eight patches from eight different digits
        np.testing.assert_allclose(peaks[shown, f], -np.sort(-peaks[:, f])[:8], rtol=1e-4, atol=1e-5)
        assert any(f"filter {f} of `conv1` answers most strongly" in c.value and "5×5 patch" in c.value
                   for c in at.caption)
