"""The Draw page's canvas: a Streamlit v2 component that shows a stroke's answer, and updates the page's live
panels, without a script run.

On release the canvas posts its picture to ``mnistviz.answer_route`` (with this session's token, which
``drawing_canvas`` registers with the session's model and the page's panel layout) and shows the reply: the
prediction above itself, and the new HTML of each live panel on screen (the notes, the bars, the steps, the
network's view: keyed containers of one ``st.html`` each, which the page's run fills the same way). A clear
is posted too. The route keeps the session's latest drawing, which the session takes up at its next run
(``catch_up``: any page's run, or the Draw page's sections), so a stroke costs the server no script run.
With no route (the floor benchmark page), or a failed call, the canvas hands the drawing to the page, whose
run answers and draws the panels. When another model is chosen, the canvas asks it again.
The drawing outlives a visit to another page: a canvas that comes back empty is given the session's latest
drawing, shows it as one undoable layer, and posts it like a stroke (until the person clears it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from mnistviz import answer_route, canvas_reading

CANVAS_SIDE = 280
TOKEN = "draw_answer_token"  # session key: this session's token for the answer route
SEEN = "draw_canvas_seen"  # session key ``{canvas key: PNG data URL}``: the picture each canvas last handed over
TAKEN = "draw_taken"  # session key: the ``answer_route.Latest.n`` of the drawing this session last took up
DRAWN = "draw_drawn"  # session key: whether the canvas (or an upload) holds a digit now
LATEST = "draw_latest"  # session key: the latest digit ``(28, 28)`` and its probabilities ``(10,)``

_ICONS = {  # Material Symbols paths (Apache 2.0), 24×24
    "undo": "M7 19v-2h7.1q1.58 0 2.74-1T18 13.5q0-1.5-1.16-2.5T14.1 10H7.8l2.6 2.6L9 14 4 9l5-5 1.4 1.4L7.8 8h6.3q2.43 0 4.16 1.58T20 13.5q0 2.35-1.74 3.93T14.1 19Z",
    "redo": "M9.9 19q-2.43 0-4.16-1.58T4 13.5q0-2.35 1.74-3.93T9.9 8h6.3l-2.6-2.6L15 4l5 5-5 5-1.4-1.4 2.6-2.6H9.9q-1.58 0-2.74 1T6 13.5q0 1.5 1.16 2.5t2.74 1H17v2Z",
    "reset": "M7 21q-.82 0-1.41-.59T5 19V6H4V4h5V3h6v1h5v2h-1v13q0 .82-.59 1.41T17 21ZM17 6H7v13h10ZM9 17h2V8H9Zm4 0h2V8h-2Z",
}


def _button(kind: str, label: str) -> str:
    return (f'<button type="button" data-mv-{kind} title="{label}" aria-label="{label}">'
            f'<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d="{_ICONS[kind]}"/></svg>'
            "</button>")


HTML = f"""
<div class="mv-draw">
  <div class="mv-answer mv-empty" data-mv-answer role="status" aria-live="polite">
    <div class="mv-label">Prediction</div>
    <div class="mv-value"><span class="mv-digit"></span> <span class="mv-sure"></span></div>
  </div>
  <canvas width="{CANVAS_SIDE}" height="{CANVAS_SIDE}" class="mv-board"
          aria-label="Drawing canvas: draw one digit with the mouse, a pen or a finger"></canvas>
  <div class="mv-tools">{_button("undo", "Undo")}{_button("redo", "Redo")}{_button("reset", "Reset canvas &amp; history")}</div>
</div>
"""
CSS = f"""
.mv-draw {{ width: {CANVAS_SIDE}px; max-width: 100%; font-family: inherit; touch-action: manipulation; }}
.mv-draw .mv-answer {{ height: 84px; }}
.mv-draw .mv-answer.mv-empty {{ visibility: hidden; }}
.mv-draw .mv-label {{ font-size: 0.875rem; }}
.mv-draw .mv-digit {{ font-size: 2.25rem; line-height: 1.3; }}
.mv-draw .mv-sure {{ font-size: 0.875rem; padding: 0.1rem 0.5rem; border-radius: 1rem; margin-left: 0.4rem;
                     background: rgba(128, 128, 128, 0.15); vertical-align: middle; }}
.mv-draw canvas {{ width: {CANVAS_SIDE}px; max-width: 100%; aspect-ratio: 1; display: block; touch-action: none;
                   cursor: crosshair; border-radius: 4px; }}
.mv-draw .mv-tools {{ display: flex; gap: 0.3rem; justify-content: flex-end; margin-top: 0.3rem; }}
.mv-draw .mv-tools button {{ border: 1px solid rgba(128, 128, 128, 0.4); border-radius: 0.4rem; background: none;
                             padding: 0.2rem 0.45rem; cursor: pointer; line-height: 0; }}
.mv-draw .mv-tools button:disabled {{ opacity: 0.35; cursor: default; }}
.mv-draw .mv-tools svg {{ fill: currentColor; }}
"""
_canvas = st.components.v2.component("mnistviz_draw_canvas", html=HTML, css=CSS,
                                     js=Path(__file__).with_name("draw_canvas.js").read_text(), isolate_styles=False)


@dataclass(frozen=True)
class Drawing:
    """What is on the canvas: its picture as a PNG data URL (280×280, white on black; read it with
    ``canvas_reading.read_drawing``), and whether the canvas answers it itself (it shows the route's answer,
    or is asking the model it was given on this run)."""
    png: str
    answered: bool


def drawing_canvas(model: Any | None, width: int, key: str, on_change: Callable[[], None] | None = None,
                   panels: answer_route.Panels | None = None, sections: tuple[str, ...] = ()) -> Drawing | None:
    """The canvas, drawing with a pen ``width`` pixels wide; answers each stroke with ``model`` through the
    answer route (``None``: no route, the page answers), and ``panels`` lays out the page's live panels for the
    route's reply (``sections``: the keys of the containers whose panels it fills only while on screen).
    Returns the session's latest drawing, ``None`` when empty."""
    token = st.session_state.setdefault(TOKEN, secrets.token_urlsafe(18))
    # The model's name for the canvas: a new one (another model chosen in the sidebar) makes it ask again, and
    # an answer the canvas got from the model before is not this model's.
    tag = None if model is None else f"{id(model):x}"
    if model is not None:
        answer_route.register(token, model, panels)
    data = {"token": token, "url": answer_route.PATH if model is not None else None, "width": width, "model": tag,
            "sections": list(sections)}
    # A canvas that starts empty (back on the page) shows the latest drawing again as one undoable layer and
    # posts it like a stroke; one that has drawn since it opened ignores it. A canvas starts only in a full run
    # (or, without a route, when Streamlit forgot its value): not sent with every stroke's run.
    fresh = _png(st.session_state.get(key)) is None if model is None else not _fragment_run()
    if fresh and (before := answer_route.latest(token)) is not None and before.png is not None:
        data["restore"] = before.png
    value = _canvas(key=key, data=data, default={"drawing": None},
                    on_drawing_change=lambda: _handed_over(token, key, on_change))
    seen = st.session_state.setdefault(SEEN, {})
    if (png := _png(value)) is not None and png != seen.get(key):  # set without the callback (AppTest)
        seen[key] = png
        answer_route.remember(token, png)
    catch_up()
    latest = answer_route.latest(token)
    if latest is None or latest.png is None:
        return None
    # The canvas shows the answer itself when the route gave it (after another model was chosen, it asks this
    # one the moment it gets this run's data, showing no answer meanwhile); a drawing it handed over (no route,
    # or the route failed) the page answers.
    return Drawing(latest.png, tag is not None and latest.by_route)


def catch_up() -> None:
    """The session takes up a drawing the answer route got since its last run (a stroke costs no run): the
    walkthrough follows it as "your drawing", and the Draw page's sections work on it. Cheap when there is
    nothing new; the reading is the route's own (``canvas_reading`` remembers it), by the model the session
    registered with the route."""
    if not behind():
        return
    token = st.session_state.get(TOKEN)
    latest, model = answer_route.latest(token), answer_route.model_for(token)
    st.session_state[TAKEN] = latest.n
    reading = None
    if latest.png is not None and model is not None:
        try:
            reading = canvas_reading.read_drawing(model, latest.png)
        except canvas_reading.BadDrawing:
            pass
    if reading is None or reading.proba is None:
        st.session_state[DRAWN] = False
        return
    from pages.shared import use_drawing  # (not at the top: the floor benchmark page draws without the app)

    use_drawing(reading.result.image)
    st.session_state[LATEST] = (reading.result.image, reading.proba)
    st.session_state[DRAWN] = True


def behind() -> bool:
    """Whether the answer route got a drawing (or a clear) this session has not taken up yet."""
    latest = answer_route.latest(st.session_state.get(TOKEN))
    return latest is not None and st.session_state.get(TAKEN) != latest.n


def _fragment_run() -> bool:
    """Whether this is a run of fragments only (not of the whole page)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def _png(value: Any) -> str | None:
    """The PNG data URL in a canvas's value (its state, or what the call returned), ``None`` if empty."""
    drawing = value.get("drawing") if hasattr(value, "get") else None
    return str(drawing["png"]) if isinstance(drawing, dict) and drawing.get("png") else None


def _handed_over(token: str, key: str, on_change: Callable[[], None] | None) -> None:
    """The canvas handed the page a new drawing, or a clear (no route, or it failed): it is the session's latest."""
    png = _png(st.session_state.get(key))
    st.session_state.setdefault(SEEN, {})[key] = png
    answer_route.remember(token, png)
    if on_change is not None:
        on_change()
