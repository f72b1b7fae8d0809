"""The ``POST /api/answer`` route: a drawing's prediction straight after the stroke, outside the page's
script run.

The Draw page's canvas posts its picture here the moment the mouse is released and shows the answer; only
then does it hand the drawing to the page, whose run redraws the steps and the network's view. The answer
thus never waits for the page to be redrawn (every element of a Streamlit page is re-rendered at each run,
which on a busy laptop takes a good part of a second).

Each session sends a random token that its page registered with the model the session reads drawings
with, so one person's route call never uses another's model. The route knows the model only while that
session still holds it (a weak reference): a stale or unknown token gets 404, and the page's own run
answers instead.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from typing import Any

from mnistviz import canvas_reading

PATH = "/api/answer"
MAX_BODY_BYTES = 1_000_000  # a 280×280 canvas as PNG is 2-20 kB
MAX_SESSIONS = 5_000  # tokens remembered (the oldest forgotten first); each is a weak reference

_models: "OrderedDict[str, weakref.ref]" = OrderedDict()
_lock = threading.Lock()


def register(token: str, model: Any) -> None:
    """The session holding ``token`` reads drawings with ``model`` (its active model) from now on."""
    with _lock:
        _models[token] = weakref.ref(model)
        _models.move_to_end(token)
        while len(_models) > MAX_SESSIONS:
            _models.popitem(last=False)


def model_for(token: str) -> Any | None:
    """The model registered under ``token``, or ``None`` (unknown token, or that session's model is gone)."""
    with _lock:
        ref = _models.get(token)
    return None if ref is None else ref()


def answer(model: Any, png: str) -> dict:
    """A canvas' PNG data URL → ``{"digit": d, "sure": "NN% sure"}``: the page's own reading of it
    (``canvas_reading.read_drawing``, which the page's run then reuses); ``digit`` is ``None`` when nothing
    is drawn. Raises ``canvas_reading.BadDrawing`` for a picture that cannot be read."""
    proba = canvas_reading.read_drawing(model, png).proba
    if proba is None:
        return {"digit": None, "sure": ""}
    digit = int(proba.argmax())
    return {"digit": digit, "sure": f"{proba[digit]:.0%} sure"}


def _reply(body: bytes) -> tuple[int, dict]:
    """A request body → (HTTP status, JSON reply). Runs on a worker thread (it decodes and predicts)."""
    if len(body) > MAX_BODY_BYTES:
        return 413, {"error": "the drawing is too large"}
    try:
        req = json.loads(body)
        token, png = str(req["token"]), str(req["png"])
    except (ValueError, KeyError, TypeError):
        return 400, {"error": "expected JSON with a token and a PNG"}
    model = model_for(token)
    if model is None:
        return 404, {"error": "unknown session: the page answers instead"}
    try:
        return 200, answer(model, png)
    except canvas_reading.BadDrawing as exc:
        return 400, {"error": str(exc)}


async def _answer_endpoint(request):
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse

    too_large = JSONResponse({"error": "the drawing is too large"}, status_code=413)
    declared = request.headers.get("content-length") or "0"
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:  # refused before the body is read
        return too_large
    body = bytearray()
    async for chunk in request.stream():  # a chunked body has no length to check first: stop reading at the cap
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return too_large
    status, reply = await run_in_threadpool(_reply, bytes(body))
    return JSONResponse(reply, status_code=status, headers={"Cache-Control": "no-store"})


def routes() -> list:
    """The route for ``st.App(…, routes=…)``."""
    from starlette.routing import Route

    return [Route(PATH, _answer_endpoint, methods=["POST"])]
