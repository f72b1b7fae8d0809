"""The ``POST /api/answer`` route: a drawing's prediction, and everything else a stroke changes on screen,
straight after the stroke, without a script run.

The Draw page's canvas posts its picture here the moment the mouse is released (and ``null`` when it is
cleared). The reply is the answer the canvas shows above itself, and the new content of the page's live
panels on screen (the notes, the bars, the preprocessing steps, the network's view), which the canvas puts
in place. A stroke thus costs no script run at all: a Streamlit run re-sends and re-renders every element
of the page (BENCHMARKS: server CPU per stroke). The route also keeps each session's latest drawing, which
the session's next run takes up (``latest``): the walkthrough's "your drawing", and what the Draw page's
other sections work on.

Each session sends a random token that its page registered with the model the session reads drawings
with, and with the function that lays out its panels, so one person's route call never uses another's
model or sees another's drawing. The route knows the model only while that session still holds it (a weak
reference): a stale or unknown token gets 404, and the canvas hands the drawing to the page's run instead.
"""

from __future__ import annotations

import itertools
import json
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from mnistviz import canvas_reading

PATH = "/api/answer"
MAX_BODY_BYTES = 1_000_000  # a 280×280 canvas as PNG is 2-20 kB
MAX_SESSIONS = 2_000  # sessions remembered (the oldest forgotten first): a weak reference and a PNG (2-20 kB) each

# A session's panels: (its reading of the drawing, ``None`` when cleared; the sections on screen) → {panel: HTML}
Panels = Callable[[Any, frozenset], dict]


@dataclass(frozen=True)
class Latest:
    """A session's latest drawing as the server last got it (from this route or from the page's run): its PNG
    data URL (``None``: cleared), its place ``n`` in the order the server got drawings in, and whether this
    route read it (and so the canvas shows its answer)."""
    png: str | None
    n: int
    by_route: bool = False


@dataclass
class _Session:
    model: "weakref.ref | None" = None
    panels: Panels | None = None
    latest: Latest | None = None
    stroke: tuple = ()  # (the canvas's mount, its stroke number) of ``latest``, when it came through this route


_sessions: "OrderedDict[str, _Session]" = OrderedDict()
_lock = threading.Lock()
_order = itertools.count(1)


def _session(token: str) -> _Session:
    """The entry of ``token``, made the newest (the oldest forgotten first); call with the lock held."""
    found = _sessions.get(token)
    if found is None:
        found = _sessions[token] = _Session()
    _sessions.move_to_end(token)
    while len(_sessions) > MAX_SESSIONS:
        _sessions.popitem(last=False)
    return found


def register(token: str, model: Any, panels: Panels | None = None) -> None:
    """The session holding ``token`` reads drawings with ``model`` (its active model) from now on, and lays its
    live panels out with ``panels`` (``None``: the reply carries the answer only)."""
    with _lock:
        entry = _session(token)
        entry.model, entry.panels = weakref.ref(model), panels


def model_for(token: str) -> Any | None:
    """The model registered under ``token``, or ``None`` (unknown token, or that session's model is gone)."""
    with _lock:
        entry = _sessions.get(token)
    return None if entry is None or entry.model is None else entry.model()


def remember(token: str, png: str | None) -> Latest:
    """``png`` (``None``: a cleared canvas) is the session's latest drawing: the page's run got it from the
    canvas itself (no route, or the route failed)."""
    with _lock:
        entry = _session(token)
        entry.latest, entry.stroke = Latest(png, next(_order)), ()
        return entry.latest


def latest(token: str | None) -> Latest | None:
    """The session's latest drawing, ``None`` if the server has none for it."""
    with _lock:
        entry = _sessions.get(token) if token else None
        return None if entry is None else entry.latest


def _remember_stroke(token: str, png: str | None, stroke: tuple) -> None:
    """A stroke read by the route becomes the latest, unless a later stroke of the same canvas got there first
    (two requests in flight at once)."""
    with _lock:
        entry = _session(token)
        if entry.stroke and stroke and entry.stroke[0] == stroke[0] and entry.stroke[1] > stroke[1]:
            return
        entry.latest, entry.stroke = Latest(png, next(_order), by_route=True), stroke


def _panels_for(token: str) -> Panels | None:
    with _lock:
        entry = _sessions.get(token)
        return None if entry is None else entry.panels


def answer(model: Any, png: str) -> dict:
    """A canvas' PNG data URL → ``{"digit": d, "sure": "NN% sure"}``: the page's own reading of it
    (``canvas_reading.read_drawing``, which the page's run then reuses); ``digit`` is ``None`` when nothing
    is drawn. Raises ``canvas_reading.BadDrawing`` for a picture that cannot be read."""
    return _answer_of(canvas_reading.read_drawing(model, png).proba)


def _answer_of(proba) -> dict:
    if proba is None:
        return {"digit": None, "sure": ""}
    digit = int(proba.argmax())
    return {"digit": digit, "sure": f"{proba[digit]:.0%} sure"}


def _reply(body: bytes) -> tuple[int, dict]:
    """A request body ``{"token", "png", "seq"?, "mount"?, "want"?}`` → (HTTP status, JSON reply ``{"digit",
    "sure", "panels"}``). ``png`` is ``null`` for a cleared canvas; ``want`` names the sections on the person's
    screen (the keys of their containers: the panels lay out only those). Runs on a worker thread (it decodes,
    predicts and lays the panels out)."""
    if len(body) > MAX_BODY_BYTES:
        return 413, {"error": "the drawing is too large"}
    try:
        req = json.loads(body)
        token, png = str(req["token"]), req["png"]
        if png is not None:
            png = str(png)
        stroke = (str(req["mount"]), int(req["seq"])) if "mount" in req and "seq" in req else ()
        want = frozenset(str(w) for w in req.get("want", ()))
    except (ValueError, KeyError, TypeError, AttributeError):
        return 400, {"error": "expected JSON with a token and a PNG"}
    model = model_for(token)
    if model is None:
        return 404, {"error": "unknown session: the page answers instead"}
    try:
        reading = None if png is None else canvas_reading.read_drawing(model, png)
    except canvas_reading.BadDrawing as exc:
        return 400, {"error": str(exc)}
    _remember_stroke(token, png, stroke)
    reply = _answer_of(None if reading is None else reading.proba)
    panels = _panels_for(token)
    reply["panels"] = {} if panels is None else panels(reading, want)
    return 200, reply


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
