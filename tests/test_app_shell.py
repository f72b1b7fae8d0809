"""The app shell renders: home page with the active data and model, and the library stays UI-free."""

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def test_home_renders_and_says_which_data_and_model():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info)
    assert "bundled sample of 10,000 MNIST training digits" in text or "MNIST, 60,000 / 10,000" in text
    assert "default model" in text
    assert "conv1 → pool1 → conv2 → pool2 → flatten → dense → dropout → logits → softmax" in text


def test_library_never_imports_streamlit():
    for path in (ROOT / "mnistviz").rglob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+streamlit", path.read_text(), re.M), path


def test_input_choice_follows_code_and_pages():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/stage_data.py").run()
    assert not at.exception
    at.session_state["input_index"] = 7  # as the Draw page or an evaluation list would set it
    at.run()
    assert at.sidebar.number_input(key="_input_index_widget").value == 7
    at.sidebar.number_input(key="_input_index_widget").set_value(11).run()
    assert at.session_state["input_index"] == 11
    at.switch_page("pages/home.py").run()  # a page without the picker drops the widget's state…
    at.switch_page("pages/stage_reshape.py").run()
    assert at.sidebar.number_input(key="_input_index_widget").value == 11  # …but not the choice
    assert not at.exception
