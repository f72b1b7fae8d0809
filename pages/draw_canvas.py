"""The Draw page's canvas: a Streamlit v2 component that shows the answer the moment a stroke ends.

On release the canvas posts its picture to ``mnistviz.answer_route`` (with this session's token, which
``drawing_canvas`` registers with the session's model) and shows the prediction above itself; then it hands
the drawing to the page, whose run redraws everything else. The answer thus skips the page's redraw. With
no route (the floor benchmark page) or a failed call, ``Drawing.answered`` is false and the page shows the
answer itself. When another model is chosen, the canvas asks it again (the page shows no answer meanwhile).
The drawing outlives a visit to another page: Streamlit forgets a widget's value when a run does not draw it,
so the session keeps the last picture, and a canvas that comes back empty is given it to show again (until
the person clears it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from mnistviz import answer_route

CANVAS_SIDE = 280
TOKEN = "draw_answer_token"  # session key: this session's token for the answer route
KEPT = "draw_canvas_kept"  # session key ``{canvas key: PNG data URL}``: the picture each canvas last handed over

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


def drawing_canvas(model: Any | None, width: int, key: str,
                   on_change: Callable[[], None] | None = None) -> Drawing | None:
    """The canvas, drawing with a pen ``width`` pixels wide; answers each stroke with ``model`` through the
    answer route (``None``: no route, the page answers). Returns the drawing, ``None`` when empty."""
    token = st.session_state.setdefault(TOKEN, secrets.token_urlsafe(18))
    # The model's name for the canvas: a new one (another model chosen in the sidebar) makes it ask again, and
    # an answer the canvas got from the model before is not this model's.
    tag = None if model is None else f"{id(model):x}"
    if model is not None:
        answer_route.register(token, model)
    kept = st.session_state.setdefault(KEPT, {})
    data = {"token": token, "url": answer_route.PATH if model is not None else None, "width": width, "model": tag}
    if key in kept and _png(st.session_state.get(key)) is None:
        # Back on the page (or the widget was not drawn for a while): the canvas starts empty. It shows the
        # kept picture again as one undoable layer and hands it over as a new stroke (an answer, then a run).
        data["restore"] = kept[key]
    value = _canvas(key=key, data=data, default={"drawing": None},
                    on_drawing_change=lambda: _changed(key, on_change))
    png = _png(value)
    if png is None:
        return None
    kept[key] = png
    drawing = value["drawing"]
    # Answered by another model (another was chosen in the sidebar since): the canvas asks this one the moment
    # it gets this run's data, and its reply reruns the page. Until then it shows no answer; if the reply
    # fails, ``answered`` comes back null and the page answers. So the page never shows a second answer.
    return Drawing(png, tag is not None and drawing.get("answered") is not None)


def _png(value: Any) -> str | None:
    """The PNG data URL in a canvas's value (its state, or what the call returned), ``None`` if empty."""
    drawing = value.get("drawing") if hasattr(value, "get") else None
    return str(drawing["png"]) if isinstance(drawing, dict) and drawing.get("png") else None


def _changed(key: str, on_change: Callable[[], None] | None) -> None:
    """The canvas handed over a new drawing, or was cleared: a cleared canvas is not filled again later."""
    if _png(st.session_state.get(key)) is None:
        st.session_state.get(KEPT, {}).pop(key, None)
    if on_change is not None:
        on_change()
