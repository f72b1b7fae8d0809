"""The "Map of what it learned" page in AppTest: three maps, the k-NN numbers, the input's check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def open_map() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/map.py").run()
    return at


MAP_KEYS = ("map_pixels", "map_conv", "map_dense")


def plotly_array(array) -> np.ndarray:
    """A Plotly array as sent to the browser: a list, or a typed array ``{"dtype", "bdata"}`` (base64)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def plotly_charts(at: AppTest) -> list:
    return [e for e in at.main.get("plotly_chart")]


def test_map_page_shows_three_maps_and_the_knn_numbers():
    at = open_map()
    assert not at.exception
    assert at.title[0].value == "Map of what it learned"
    maps = {c.key: json.loads(c.proto.spec) for c in plotly_charts(at) if c.key in MAP_KEYS}
    assert set(maps) == set(MAP_KEYS)
    for spec in maps.values():
        traces = spec["data"]
        assert [t["name"] for t in traces[:10]] == [str(d) for d in range(10)]
        assert sum(len(plotly_array(t["x"])) for t in traces[:10]) == 2000  # the whole held-out sample
        assert traces[-1]["marker"]["symbol"] == "star"  # the input
    labels = [m.label for m in at.metric]
    assert any("raw pixels" in lbl for lbl in labels)
    assert any("pool2" in lbl for lbl in labels)
    assert any(lbl.startswith("dense") for lbl in labels)
    values = [float(m.value.rstrip("%")) for m in at.metric]
    assert values == sorted(values), "neighbours agree more at each depth for the default model"
    assert any("looks like" in s.value or "among the digits" in s.value for s in at.success)


def test_choosing_another_test_digit_moves_the_star():
    at = open_map()
    before = [c.proto.spec for c in plotly_charts(at)]
    at.sidebar.number_input(key="input_index").set_value(5).run()
    assert not at.exception
    assert "test digit #5" in " ".join(m.value for m in at.markdown)
    after = [c.proto.spec for c in plotly_charts(at)]
    assert before != after


def test_a_drawn_x_is_placed_and_called_not_a_digit():
    from test_embedding import drawn, letter_x

    at = open_map()
    at.session_state["drawing"] = drawn(letter_x)
    at.session_state["follow_drawing"] = True  # what shared.use_drawing sets on the Draw page
    at.run()
    at.run()  # the sidebar switches to the drawing on the run after it was made
    assert not at.exception
    assert any("your drawing" in m.value for m in at.markdown)
    assert any("does not look like any digit" in w.value for w in at.warning)
