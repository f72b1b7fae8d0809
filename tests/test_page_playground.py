"""AppTest of the convolution playground: it opens on the course's worked example and reacts to its widgets."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _open():
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception, at.exception
    return at


def _grid_text(at, key_suffix):
    """The numbers written in the cells of the Plotly grid whose element id ends with ``key_suffix``."""
    for el in at.get("plotly_chart"):
        if el.proto.id.endswith(key_suffix):
            return json.loads(el.proto.spec)["data"][0]["text"]
    raise AssertionError(f"no chart {key_suffix}")


@pytest.fixture(scope="module")
def page():
    return _open()


def test_opens_on_the_worked_example(page):
    at = page
    assert not at.error
    assert _grid_text(at, "pg_out_still") == [["0", "0", "0"], ["6000", "6000", "6000"],
                                              ["6000", "6000", "6000"], ["0", "0", "0"]]
    assert _grid_text(at, "pg_keras_out") == _grid_text(at, "pg_out_still")
    assert any(c.value.endswith("= 6000") for c in at.code)  # the selected window's sum written out
    assert any("⌊(6 + 2·0 − 3)/1⌋ + 1 = 4" in m.value for m in at.markdown)
    assert any("Conv2D gives the same" in s.value for s in at.success)
    assert any("MaxPooling2D" in s.value for s in at.success)


def test_minus_infinity_example_and_parameter_table(page):
    at = page
    assert "−∞" in sum(_grid_text(at, "pg_pool_in"), [])
    assert _grid_text(at, "pg_pool_zero") == [["−1", "0"], ["0", "0"]]  # what zero padding would wrongly give
    table = at.dataframe[0].value
    assert table["Keras count_params()"].tolist() == [10, 10, 26, 28, 56, 280]


def test_kernel_stride_and_padding_change_the_output():
    at = _open()
    before = _grid_text(at, "pg_out_still")
    at.selectbox(key="pg_kernel").set_value("vertical edge").run()
    assert not at.exception
    vertical = _grid_text(at, "pg_out_still")
    assert vertical != before and vertical == [["0", "0", "0"]] * 4  # no vertical edge in this image
    at.selectbox(key="pg_kernel").set_value("horizontal edge").run()
    at.radio(key="pg_stride").set_value(2).run()
    assert _grid_text(at, "pg_out_still") == [["0", "0"], ["6000", "6000"]]
    at.radio(key="pg_padding").set_value("full").run()
    assert not at.exception
    assert len(_grid_text(at, "pg_out_still")) == 4  # ⌊(6 + 2·2 − 3)/2⌋ + 1
    assert any("Conv2D gives the same" in s.value for s in at.success)


def test_kernel_larger_than_input_is_one_clear_message():
    at = _open()
    at.selectbox(key="pg_input").set_value("letters").run()
    at.slider(key="pg_ksize").set_value(5).run()
    assert not at.exception
    assert len(at.error) == 1 and "larger than the 3×3 padded input" in at.error[0].value
    at.radio(key="pg_padding").set_value("full").run()  # padding makes room again
    assert not at.exception and not at.error
