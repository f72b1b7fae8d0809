"""The app shell renders: home page with the active data and model, and the library stays UI-free."""

import re
import time
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
    at.session_state["input_index"] = 7  # as an evaluation list would set it
    at.run()
    assert at.sidebar.number_input(key="input_index").value == 7
    at.sidebar.number_input(key="input_index").set_value(11).run()
    assert at.session_state["input_index"] == 11
    # pages with the picker, pages without it (home, draw, lab), and back: the choice stays. (Not the
    # playground here: AppTest runs it as a legacy pages/-folder page, without app.py; the browser
    # journey covers it on a real server.)
    for page in ("pages/stage_conv.py", "pages/stage_pool.py", "pages/home.py", "pages/draw.py",
                 "pages/lab.py", "pages/stage_reshape.py"):
        at.switch_page(page).run()
        assert not at.exception, page
    assert at.sidebar.number_input(key="input_index").value == 11


def test_random_digit_and_class_filter_last_across_pages():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/overview.py").run()
    at.sidebar.selectbox(key="input_class").set_value(3).run()
    at.sidebar.button(key="input_random").click().run()
    picked = at.session_state["input_index"]
    for page in ("pages/stage_data.py", "pages/draw.py", "pages/stage_softmax.py"):
        at.switch_page(page).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="input_class").value == 3
    assert at.sidebar.number_input(key="input_index").value == picked
    from pages.shared import dataset
    assert dataset().y_test[picked] == 3


def test_each_page_shows_the_sidebar_parts_it_uses():
    from mnistviz import lessons

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    for lesson in lessons.available_lessons(redis=False):
        if lesson.path == "pages/playground.py":
            continue  # AppTest runs it without app.py (see above)
        at.switch_page(lesson.path).run()
        assert not at.exception, lesson.path
        keys = {w.key for w in at.sidebar.selectbox} | {w.key for w in at.sidebar.number_input}
        assert ("model_choice" in keys) == ("model" in lesson.sidebar), lesson.path
        assert ("input_index" in keys) == ("input" in lesson.sidebar), lesson.path


def test_overview_counts_layers_as_the_lab_does_and_links_none_to_1(model):
    from mnistviz import models

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    layers = next(m for m in at.metric if m.label == "Layers")
    assert int(layers.value) == len(model.layers) == len(models.layer_table(models.PRESETS["default"].config))
    assert any("reads 1" in c.value and "(1, 784)" in c.value for c in at.caption)
    at.switch_page("pages/stage_data.py").run()
    assert any("the Overview writes it None" in c.value for c in at.caption)


def test_runs_freeze_what_they_leave_and_a_full_collection_comes_back_in_time(monkeypatch):
    """Streamlit's clear_session after each run collects every unfrozen object; runs freeze what they leave,
    and once per FULL_COLLECT_EVERY_S everything is unfrozen so that cyclic garbage is collected after all."""
    import gc

    from pages import shared

    try:
        monkeypatch.setitem(shared._gc_pacing, "unfrozen_at", time.monotonic())
        shared.freeze_after_run()
        assert gc.get_freeze_count() > 0
        monkeypatch.setitem(shared._gc_pacing, "unfrozen_at", time.monotonic() - shared.FULL_COLLECT_EVERY_S - 1)
        shared.freeze_after_run()
        assert gc.get_freeze_count() == 0
        assert time.monotonic() - shared._gc_pacing["unfrozen_at"] < 5
    finally:
        gc.unfreeze()
