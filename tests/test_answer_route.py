"""The answer route (``POST /api/answer``): a drawing's answer is the one the Draw page works out (same
preprocessing, same model), each session gets it from its own model, and bad requests get a clear reply.
The Draw page's browser tests read every prediction through it."""

from __future__ import annotations

import gc
import json
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

from canvas_pictures import data_url, drawn
from mnistviz import activations, answer_route, canvas_reading
from mnistviz.preprocess import preprocess_image


def canvas_png(shape: str) -> str:
    """A digit as the Draw page's canvas posts it (a PNG data URL)."""
    return data_url(drawn(shape))


def always(digit: int):
    """A real Keras model that answers ``digit`` whatever it is shown (another session's model, say)."""
    import keras

    inputs = keras.Input((784,))
    out = keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros",
                             bias_initializer=keras.initializers.Constant(np.eye(10)[digit] * 5))(inputs)
    return keras.Model(inputs, out)


def body(token: str, png: str) -> bytes:
    return json.dumps({"token": token, "png": png}).encode()


def test_the_answer_is_the_pages_answer(model):
    for shape, digit in (("one", 1), ("zero", 0)):
        rgba = canvas_reading.decode_png(canvas_png(shape))
        assert rgba.shape == (280, 280, 4) and rgba.dtype == np.uint8
        page = activations.probabilities(model, preprocess_image(rgba, polarity="white-on-black").image).reshape(-1)
        got = answer_route.answer(model, canvas_png(shape))
        assert got == {"digit": digit, "sure": f"{page[digit]:.0%} sure"} and int(page.argmax()) == digit


def test_each_session_is_answered_by_its_own_model(model):
    sevens = always(7)
    answer_route.register("session-a", model)
    answer_route.register("session-b", sevens)
    one = canvas_png("one")
    status, reply = answer_route._reply(body("session-a", one))
    assert status == 200 and reply["digit"] == 1
    status, reply = answer_route._reply(body("session-b", one))
    assert status == 200 and reply["digit"] == 7
    # a session whose model is gone (it switched models, or ended) is not answered: its page answers instead
    del sevens
    gc.collect()
    assert answer_route._reply(body("session-b", one))[0] == 404
    assert answer_route._reply(body("never-registered", one))[0] == 404


def test_blank_and_bad_requests_get_a_clear_reply(model):
    answer_route.register("session-c", model)
    assert answer_route._reply(body("session-c", canvas_png("blank"))) == (200, {"digit": None, "sure": "", "panels": {}})
    assert answer_route._reply(b"not json")[0] == 400
    assert answer_route._reply(json.dumps({"token": "session-c"}).encode())[0] == 400
    status, reply = answer_route._reply(body("session-c", "data:image/png;base64,aGVsbG8="))  # "hello"
    assert status == 400 and reply == {"error": "the picture could not be read"}
    status, reply = answer_route._reply(b" " * (answer_route.MAX_BODY_BYTES + 1))
    assert status == 413 and "too large" in reply["error"]
    with pytest.raises(canvas_reading.BadDrawing):
        canvas_reading.decode_png("not base64 at all!")


def test_the_route_keeps_each_sessions_latest_drawing_and_lays_out_its_panels(model):
    """A stroke costs no script run: the route replies with the panels on screen, and keeps the drawing (or the
    clear) for the session's next run. A slower request of an earlier stroke does not replace a later one."""
    asked = []

    def panels(reading, want):
        asked.append((None if reading is None else int(reading.proba.argmax()), want))
        return {"draw-bars": "bars"}

    answer_route.register("session-d", model, panels)
    answer_route.register("session-e", model)
    one, zero = canvas_png("one"), canvas_png("zero")

    def post(token, png, seq, mount="m1", want=()):
        return answer_route._reply(json.dumps({"token": token, "png": png, "seq": seq, "mount": mount,
                                               "want": list(want)}).encode())

    assert post("session-d", one, 1, want=["draw-steps"]) == (200, {"digit": 1, "sure": "100% sure",
                                                                    "panels": {"draw-bars": "bars"}})
    assert asked == [(1, frozenset({"draw-steps"}))]
    first = answer_route.latest("session-d")
    assert first.png == one and first.by_route and answer_route.latest("session-e") is None  # each its own
    post("session-d", zero, 3)
    post("session-d", one, 2)  # stroke 2's request answered after stroke 3's: 3 stays the latest
    assert answer_route.latest("session-d").png == zero
    post("session-d", one, 1, mount="m2")  # the page opened again: its canvas counts from 1
    assert answer_route.latest("session-d").png == one
    status, reply = post("session-d", None, 2, mount="m2")  # cleared
    assert status == 200 and reply["digit"] is None and asked[-1] == (None, frozenset())
    cleared = answer_route.latest("session-d")
    assert cleared.png is None and cleared.n > first.n
    # a drawing the page's run got from the canvas itself (no route) is the latest too
    handed = answer_route.remember("session-d", zero)
    assert answer_route.latest("session-d") == handed and not handed.by_route and handed.n > cleared.n


def test_tokens_are_forgotten_oldest_first(model, monkeypatch):
    monkeypatch.setattr(answer_route, "MAX_SESSIONS", 3)
    for t in ("t1", "t2", "t3"):
        answer_route.register(t, model)
    answer_route.register("t1", model)  # used again: now the newest
    answer_route.register("t4", model)
    assert answer_route.model_for("t2") is None
    assert all(answer_route.model_for(t) is model for t in ("t1", "t3", "t4"))


@pytest.mark.browser
def test_streamlit_run_app_serves_the_route(app_url):
    """``streamlit run app.py`` mounts the route next to the app (st.App in app.py)."""
    def post(data) -> tuple[int, dict]:
        """POST ``data`` (bytes, or an iterator of bytes: sent chunked) to the route."""
        req = urllib.request.Request(f"{app_url}{answer_route.PATH}", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    assert post(body("nobody-has-this-token", canvas_png("one"))) == (
        404, {"error": "unknown session: the page answers instead"})
    assert post(b"{")[0] == 400
    # a chunked body (no Content-Length to refuse it by) is read only up to the cap: this one never ends, and a
    # server reading it whole would never answer
    assert post(iter([body("nobody-has-this-token", canvas_png("one"))]))[0] == 404
    host, port = app_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(f"POST {answer_route.PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        chunk = b" " * 100_000
        for _ in range(12):
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        assert conn.recv(4096).startswith(b"HTTP/1.1 413")
    with urllib.request.urlopen(f"{app_url}/_stcore/health", timeout=30) as r:  # the app is still served beside it
        assert r.status == 200
