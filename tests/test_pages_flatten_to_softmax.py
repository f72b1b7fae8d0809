"""AppTest of the walkthrough's second half: 5 · Flatten, 6 · Dense and dropout, 7 · Logits and softmax.

Each page is opened through app.py's navigation, checked for the active model's shapes, and
re-run with another input digit (picked through the sidebar's index box, as a person would).
"""

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

FLATTEN, DENSE, SOFTMAX = "pages/stage_flatten.py", "pages/stage_dense.py", "pages/stage_softmax.py"


def open_page(page: str, **state) -> AppTest:
    at = AppTest.from_file("../app.py", default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def pick_digit(at: AppTest, index: int) -> None:
    at.sidebar.number_input(key="input_index").set_value(index).run()
    assert not at.exception, [e.value for e in at.exception]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.code] + [c.value for c in at.caption])


def test_flatten_page_shapes_traceability_and_input():
    at = open_page(FLATTEN)
    m = metrics(at)
    assert m["Output shape"] == "(1, 3136)" and m["Parameters"] == "0"
    assert "hwc[0] * hwc[1] * hwc[2]    # 7 * 7 * 64 = 3,136" in text(at)
    assert "equals NumPy's `pool2.reshape(1, -1)` exactly" in text(at)

    at.number_input(key="flat_k_3136").set_value(100).run()  # 100 = (0·7 + 1)·64 + 36
    assert "**row 0, col 1, channel 36**" in text(at)

    at.number_input(key="rev_r_3136").set_value(6)
    at.number_input(key="rev_c_3136").set_value(6)
    at.number_input(key="rev_ch_3136").set_value(63).run()
    assert "= **3135**" in text(at)
    at.button(key="rev_go_3136").click().run()
    assert at.number_input(key="flat_k_3136").value == 3135
    assert "**row 6, col 6, channel 63**" in text(at)

    before = (m["Non-zero values"], m["Largest value"])
    pick_digit(at, 7)
    after = metrics(at)
    assert (after["Non-zero values"], after["Largest value"]) != before
    assert after["Output shape"] == "(1, 3136)"


def test_dense_page_shapes_dropout_unit_and_input():
    at = open_page(DENSE)
    m = metrics(at)
    assert [v for k, v in [(x.label, x.value) for x in at.metric] if k == "Output shape"] == ["(1, 1024)", "(1, 1024)"]
    assert [x.value for x in at.metric if x.label == "Parameters"] == ["3,212,288", "0"]  # dense, dropout
    assert "(7 × 7 × 64)" in text(at)
    assert any("identical to `dense`" in s.value for s in at.success)
    active_before = m["Active units (> 0)"]
    assert active_before.endswith("of 1,024")

    at.toggle(key="dropout_training").set_value(True).run()
    assert not at.exception
    zeroed = metrics(at)["Units zeroed"]
    n_zeroed = int(zeroed.split(" of ")[0].replace(",", ""))
    assert 300 < n_zeroed < 520  # about 40 % of 1024
    assert metrics(at)["Survivors scaled by"] == "× 1.667"

    unit_box = "dense_unit_dense_1024"
    top = at.pills(key="dense_top_pick")
    third = int(top.options[2].split(" ")[0].lstrip("#"))  # options read "#439 (1.45)", strongest first
    assert at.number_input(key=unit_box).value == int(top.options[0].split(" ")[0].lstrip("#"))
    fires = metrics(at)["Fires for this input"]
    top.set_value(third).run()
    assert not at.exception
    assert at.number_input(key=unit_box).value == third
    assert metrics(at)["Fires for this input"] != fires

    pick_digit(at, 7)
    assert metrics(at)["Active units (> 0)"] != active_before


def read_numbers(texts) -> np.ndarray:
    """``"0.9998"``, ``"2.049 × 10⁻⁸"`` → floats (the page writes numbers as ``dense_inspect.number_text``)."""
    sup = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
    out = []
    for t in texts:
        mantissa, _, power = str(t).partition(" × 10")
        out.append(float(mantissa) * (10.0 ** int(power.translate(sup)) if power else 1.0))
    return np.array(out)


def test_softmax_page_shapes_formula_and_input():
    at = open_page(SOFTMAX)
    m = metrics(at)
    assert [x.value for x in at.metric if x.label == "Output shape"] == ["(1, 10)", "(1, 10)"]
    assert "matches the model's softmax stage" in text(at)
    table = at.dataframe[0].value
    ours, keras_p = read_numbers(table["÷ sum = p"]), read_numbers(table["model's softmax"])
    np.testing.assert_allclose(ours, keras_p, rtol=2e-3, atol=1e-12)
    assert np.all(ours > 0) and abs(ours.sum() - 1) < 1e-2  # every digit's share reads, however small
    assert any(r"L = -\log p_" in x.value for x in at.latex)
    for formula in at.latex:  # powers of ten in LaTeX, never 1.301e+07 (read as algebra)
        assert not re.search(r"\de[+-]?\d", formula.value), formula.value
    loss_before = m["Loss for this input"]
    pick_digit(at, 7)
    assert metrics(at)["Loss for this input"] != loss_before
    assert not at.exception


def test_softmax_page_lets_a_drawing_choose_its_label():
    drawing = np.zeros((28, 28), np.float32)
    drawing[4:24, 13:16] = 1.0  # a plain "1"
    at = open_page(SOFTMAX, drawing=drawing, input_kind="drawing")
    assert "your drawing" in text(at)
    pick = at.selectbox(key="softmax_true_label")
    first = metrics(at)["Loss for this input"]
    pick.set_value((pick.value + 1) % 10).run()
    assert not at.exception and metrics(at)["Loss for this input"] != first


@pytest.fixture(scope="module")
def mlp_state():
    from mnistviz import models
    from mnistviz.shelf import ModelShelf, ShelfModel

    config = models.ModelConfig(dense=(models.DenseSpec(30),))
    model = models.build_model(config, seed=0)
    shelf = ModelShelf()
    shelf.add(ShelfModel("test:mlp30-untrained", "mlp", "MLP 30 (untrained)", model, config))
    shelf.use("test:mlp30-untrained")
    return {"model_shelf": shelf}


def test_pages_with_an_mlp_say_what_is_missing(mlp_state):
    at = open_page(FLATTEN, **mlp_state)
    assert any("no Flatten stage" in i.value for i in at.info)

    at.switch_page(DENSE).run()
    assert not at.exception
    assert [x.value for x in at.metric if x.label == "Output shape"] == ["(1, 30)"]
    assert "(28 × 28 × 1)" in text(at)
    assert any("no dropout" in i.value for i in at.info)

    at.switch_page(SOFTMAX).run()
    assert not at.exception
    assert [x.value for x in at.metric if x.label == "Parameters"] == ["310", "0"]  # logits (30 + 1)·10, softmax


def shown_digits(at: AppTest, key: str) -> list[int]:
    """The test-split indices captioned ``#i: activation`` above the tiles of the gallery chart ``key``."""
    import json

    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, f"no chart {key!r}"
    spec = json.loads(found[0].proto.spec)
    assert spec["data"][0]["source"].startswith("data:image/png")  # the tiles are ONE image
    return [int(a["text"].split(":")[0].lstrip("#")) for a in spec["layout"]["annotations"]]


def test_dense_page_shows_the_digits_keras_ranks_highest_for_the_unit():
    import keras

    from mnistviz import data, pretrained
    from mnistviz.jobs import training_data
    from pages.shared import DATA_SOURCE, MAP_DIGITS

    digits = training_data(DATA_SOURCE)[0].x_test[:MAP_DIGITS]
    model = pretrained.load_default_model()
    acts = np.asarray(keras.Model(model.inputs[0], model.get_layer("dense").output)(data.model_input(digits)))
    at = open_page(DENSE)
    for unit in (int(at.session_state["dense_unit_dense_1024"]), 17):
        at.number_input(key="dense_unit_dense_1024").set_value(unit).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = shown_digits(at, "dense_unit_digits")
        assert len(shown) == 8 == len(set(shown))
        # the shown digits' Keras activations are Keras' 8 highest, in order (robust to exact ties)
        np.testing.assert_allclose(acts[shown, unit], -np.sort(-acts[:, unit])[:8], rtol=1e-4, atol=1e-5)
        assert any(f"excite unit #{unit} most" in m.value for m in at.markdown)


def chart_probabilities(at: AppTest, key: str) -> np.ndarray:
    import json

    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}"))
    y = spec["data"][0]["y"]
    if isinstance(y, dict):  # Plotly's typed-array form
        import base64

        y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    return np.asarray(y, np.float64)


def test_softmax_play_and_one_training_step():
    from mnistviz.dense_inspect import softmax_at

    at = open_page("pages/stage_softmax.py")
    logits = at.data_editor(key="softmax_logits").value["logit"].to_numpy(np.float64)
    np.testing.assert_allclose(chart_probabilities(at, "softmax_played"), softmax_at(logits, 1.0), atol=1e-6)
    at.select_slider(key="softmax_temperature").set_value(4.0).run()
    hot = chart_probabilities(at, "softmax_played")
    np.testing.assert_allclose(hot, softmax_at(logits, 4.0), atol=1e-6)
    assert hot.max() < softmax_at(logits, 1.0).max()  # a higher temperature evens them out
    # give digit 3 a towering logit, as a person typing into the table does
    at.session_state["softmax_logits"] = {"edited_rows": {3: {"logit": 50.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert int(chart_probabilities(at, "softmax_played").argmax()) == 3
    # one training step, with a label the model disagrees with: the loss drops, the kernels move
    at.selectbox(key="step_label").set_value(7).run()
    at.button(key="step_go").click().run()
    assert not at.exception, at.exception
    before, after = (float(metrics(at)[k]) for k in ("Loss before", "Loss after one step"))
    assert after < before
    assert any("moved by" in c.value for c in at.caption)
