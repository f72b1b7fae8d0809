"""AppTest of the Draw page: a blank canvas prompts, a drawing fed through the canvas' state gives a
"Prediction" metric, the walkthrough follows the drawing, and nothing raises."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from canvas_pictures import data_url, drawn
from mnistviz import activations
from mnistviz.preprocess import preprocess_image

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/draw.py"


def canvas_state(picture: np.ndarray | None) -> dict:
    """The value the Draw page's canvas (pages/draw_canvas.js) keeps under its key: ``drawing`` is the PNG data
    URL of what is on it, the stroke's number, and which model's answer the canvas showed from the answer
    route (none here: AppTest has no browser); ``None`` once cleared. Only this helper knows the format."""
    if picture is None or not np.asarray(picture)[..., :3].any():
        return {"drawing": None}
    return {"drawing": {"png": data_url(picture), "seq": 1, "answered": None}}


@pytest.fixture()
def page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def open_sections(at, *names: str) -> None:
    """Open the Draw page's folded activities ("keep", "explain", "nudge") at the next run. Set this way, the
    state skips a click's callback: an opened explain section waits for its button, as the browser's does not."""
    for name in names:
        at.session_state[f"draw_open_{name}"] = True


def notes(at, kind: str) -> list[str]:
    """The texts of the Draw page's notes of ``kind`` ("info", "warning"): its notes panel is one ``st.html``
    (the canvas rewrites it after a stroke from the answer route's reply), not Streamlit alerts."""
    return [html.unescape(re.sub(r"<[^>]+>", "", body)) for h in at.html
            for body in re.findall(rf'<div class="mv-note mv-{kind}"[^>]*>(.*?)</div>', h.value)]


def metric(at, label: str):
    found = [m for m in at.metric if m.label == label]
    return found[0] if found else None


def test_blank_canvas_prompts_to_draw(page):
    assert metric(page, "Prediction") is None
    assert any("Draw a digit" in text for text in notes(page, "info"))
    page.session_state["canvas"] = canvas_state(drawn("blank"))  # cleared after drawing: all black
    page.run()
    assert not page.exception and metric(page, "Prediction") is None
    assert any("Draw a digit" in text for text in notes(page, "info"))


def test_drawing_shows_a_prediction_and_follows_into_the_walkthrough(page):
    page.session_state["canvas"] = canvas_state(drawn("one"))
    page.run()
    assert not page.exception
    m = metric(page, "Prediction")
    assert m is not None and m.value in {str(d) for d in range(10)}
    assert "sure" in m.delta
    # the activities are folded, and build nothing until opened (each element is redrawn at every stroke)
    assert [e.label for e in page.expander] == ["Teach it your handwriting", "What made it decide", "Nudge it"]
    assert not page.button  # no keep, explain or nudge controls while folded
    assert not [t for t in chart_titles(page) if "p(" in t]
    open_sections(page, "explain", "nudge")
    page.run()
    assert [b.key for b in page.button] == ["explain_go", "nudge_go", "nudge_reset"]
    assert not [t for t in chart_titles(page) if "p(" in t]  # no click, no callback: the maps wait for the button
    page.button(key="explain_go").click().run()
    assert len([t for t in chart_titles(page) if "p(" in t]) == 2
    assert metric(page, "Nudged prediction") is not None
    image = page.session_state["drawing"]
    assert image.shape == (28, 28) and image.dtype == np.float32 and image.max() > 0.5
    assert not page.warning and not notes(page, "warning")  # a clean stroke needs no warning
    # the nudge sliders and the explanation controls rerun without trouble
    page.slider(key="nudge_angle").set_value(30).run()
    page.radio(key="explain_method").set_value("Gradient").run()
    assert not page.exception
    assert metric(page, "Prediction").value == m.value
    page.switch_page("pages/stage_conv.py").run()
    assert not page.exception
    assert page.session_state["input_kind"] == "drawing"  # the walkthrough follows the drawing


def test_a_stroke_the_route_answered_is_not_read_again_by_its_page_run(page, monkeypatch):
    """The canvas posts a stroke to the answer route, then hands it to the page: the page's run reuses the
    route's reading (one decoding, preprocessing and forward pass per stroke, not two)."""
    from mnistviz import answer_route, canvas_reading
    from pages.draw_canvas import TOKEN

    state = canvas_state(drawn("seven"))
    seven = state["drawing"]["png"]
    status, reply = answer_route._reply(json.dumps({"token": page.session_state[TOKEN], "png": seven}).encode())
    assert status == 200
    real, calls = canvas_reading.preprocess_image, []
    monkeypatch.setattr(canvas_reading, "preprocess_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    page.session_state["canvas"] = state
    page.run()
    assert not page.exception and calls == []
    assert metric(page, "Prediction").value == str(reply["digit"])
    # a picture the route never saw (nor any other test: readings are kept per model) is read by the page
    page.session_state["canvas"] = canvas_state(np.roll(drawn("one"), 13, axis=1))
    page.run()
    assert calls == [1] and metric(page, "Prediction").value == "1"


def test_a_stroke_the_route_answered_needs_no_run_and_the_next_run_draws_the_same_panels(page):
    """The route's reply carries the live panels the canvas puts in place (no script run); the session's next
    run takes the route's drawing up (not the canvas's older hand-over) and draws the same panels."""
    from mnistviz import answer_route
    from pages.draw_canvas import TOKEN

    page.session_state["canvas"] = canvas_state(drawn("seven"))  # a hand-over through Streamlit (no route)
    page.run()
    assert metric(page, "Prediction").value == "7"
    one = canvas_state(drawn("one"))["drawing"]["png"]
    request = {"token": page.session_state[TOKEN], "png": one, "seq": 2, "mount": "m", "want": ["draw-steps"]}
    status, reply = answer_route._reply(json.dumps(request).encode())
    assert status == 200 and reply["digit"] == 1
    assert set(reply["panels"]) == {"draw-notes", "draw-bars", "draw-step-pictures"}  # the network is off screen
    page.run()  # the session's next run, e.g. a section scrolled into view
    assert not page.exception
    assert metric(page, "Prediction") is None  # the canvas shows the route's answer
    assert page.session_state["draw_latest"][1].argmax() == 1  # the route's drawing, not the older 7
    bodies = [re.sub(r'^<div data-mv-run="\d+">(.*)</div>$', r"\1", h.value, flags=re.S) for h in page.html]
    assert reply["panels"]["draw-bars"] in bodies and reply["panels"]["draw-notes"] in bodies
    request.update(png=None, seq=3)  # cleared
    assert answer_route._reply(json.dumps(request).encode())[1]["digit"] is None
    page.run()
    assert any("Draw a digit" in text for text in notes(page, "info"))


def test_single_dot_warns(page):
    page.session_state["canvas"] = canvas_state(drawn("dot"))
    page.run()
    assert not page.exception
    assert metric(page, "Prediction") is not None
    assert any("little ink" in text for text in notes(page, "warning"))


def test_upload_mode_prompts(page):
    page.radio(key="draw_source").set_value("Upload a picture").run()
    assert not page.exception and metric(page, "Prediction") is None
    assert any("Draw a digit" in text for text in notes(page, "info"))


def chart_titles(at) -> list[str]:
    """The titles of the Plotly charts on the page (AppTest shows them as elements holding the figure JSON)."""
    specs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    return [(s.get("layout", {}).get("title") or {}).get("text", "") for s in specs]


def test_compare_box_and_chart_always_name_the_same_digit(page, model):
    """A 7 and then a 0: the "Compare with digit" box follows each drawing's runner-up, and the chart
    beside it is always about the digit the box shows; a digit the person picks stays until the next drawing."""
    open_sections(page, "explain")
    for shape in ("seven", "zero"):
        page.session_state["canvas"] = canvas_state(drawn(shape))
        page.run()
        page.button(key="explain_go").click().run()
        assert not page.exception
        proba = activations.probabilities(model, preprocess_image(drawn(shape), polarity="white-on-black").image)[0]
        box = page.selectbox(key="explain_digit")
        assert box.value == int(np.argsort(proba)[-2])  # this drawing's runner-up
        assert f"Drop of p({box.value})" in " ".join(chart_titles(page))
    page.selectbox(key="explain_digit").set_value(4).run()
    assert page.selectbox(key="explain_digit").value == 4
    assert "Drop of p(4)" in " ".join(chart_titles(page))
    page.radio(key="explain_method").set_value("Gradient").run()
    assert page.selectbox(key="explain_digit").value == 4 and "Gradient of logit(4)" in " ".join(chart_titles(page))
    for label, title in (("Integrated gradients", "share of logit(4)"), ("Grad-CAM", "Where logit(4)"),
                         ("Gradient", "Gradient of logit(4)")):
        page.radio(key="explain_method").set_value(label).run()
        assert not page.exception and title in " ".join(chart_titles(page))
        limits = {(t["zmin"], t["zmax"]) for t in (json.loads(e.proto.spec)["data"][0] for e in page.get("plotly_chart"))
                  if "zmax" in t}
        scale = next(c.value for c in page.caption if c.value.startswith("Colour scale ±"))
        assert len(limits) == 1 and "for both maps" in scale  # the two maps share one scale, and it is printed
        assert scale.startswith(f"Colour scale ±{limits.pop()[1]:.3g} ")


def test_a_scribble_that_is_no_digit_is_called_so_and_a_digit_is_not(page):
    """The not-a-digit check needs the model's map, fitted in the background; the Map page waits for it."""
    page.switch_page("pages/map.py").run()
    page.switch_page(PAGE).run()
    for shape, flagged in (("x", True), ("one", False)):
        page.session_state["canvas"] = canvas_state(drawn(shape))
        page.run()
        assert not page.exception
        said = [text for text in notes(page, "warning") if "does not look like any digit" in text]
        assert bool(said) == flagged, (shape, notes(page, "warning"))
    page.session_state["canvas"] = canvas_state(drawn("x"))
    page.run()
    assert any("softmax" in text for text in notes(page, "warning"))  # and why the probability still reads high


def test_keep_a_drawing_with_its_true_digit_for_the_teach_page(page):
    open_sections(page, "keep")
    page.run()
    page.button(key="keep_go").click().run()  # nothing drawn yet: says what to do, keeps nothing
    assert any("Draw a digit and choose" in w.value for w in page.warning)
    assert "handwriting" not in page.session_state or len(page.session_state["handwriting"]) == 0
    page.session_state["canvas"] = canvas_state(drawn("seven"))
    page.run()
    page.pills(key="keep_label").set_value(7).run()
    page.button(key="keep_go").click().run()
    assert not page.exception
    assert any("Saved as a 7: 1 drawing in your set" in s.value for s in page.success)
    hw = page.session_state["handwriting"]
    assert hw.labels == [7] and np.array_equal(hw.images[0], page.session_state["drawing"])
    assert any("1× 7" in c.value for c in page.caption)
    page.switch_page("pages/teach.py").run()  # the same set, ready on the Teach page
    assert not page.exception and len(page.session_state["handwriting"]) == 1


def test_upload_a_photo_then_a_bad_file_then_blank_paper(page):
    """A photo of a 7 on grey paper in uneven light reads 7; a file that is no image then gives one
    sentence and the prompt, not the 7's result; blank paper says no ink was found."""
    from mnistviz import data, photos

    sample = data.load_sample()
    seven = sample.x_test[np.flatnonzero(sample.y_test == 7)[0]]
    photo = photos.render_photo(seven, photos.PhotoStyle(size=(640, 480), paper=0.62, light=0.55), seed=7)
    page.radio(key="draw_source").set_value("Upload a picture").run()
    page.file_uploader[0].set_value(("seven.jpg", photos.encode(photo, "JPEG"), "image/jpeg")).run()
    assert not page.exception and metric(page, "Prediction").value == "7"
    page.file_uploader[0].set_value(("notes.txt", b"not a picture", "text/plain")).run()
    assert not page.exception and metric(page, "Prediction") is None
    assert [e.value for e in page.error] == ["That file could not be used: this file is not an image we can read "
                                             "(use a PNG or JPEG)."]
    assert any("Draw a digit" in text for text in notes(page, "info"))
    blank = photos.blank_photo(photos.PhotoStyle(size=(640, 480), light=0.4))
    page.file_uploader[0].set_value(("blank.png", photos.encode(blank, "PNG"), "image/png")).run()
    assert not page.exception and metric(page, "Prediction") is None and not page.error
    assert any("No ink found" in w.value for w in page.warning), [w.value for w in page.warning]
