"""How a page shows its drawing canvas: the Teach page's streamlit-drawable-canvas with its toolbar (undo,
redo, clear) at all times, on phones too (the component shows it only while the mouse is over the canvas),
and, for the Draw page's own canvas too, the section around it never dimmed while a stroke is read. Its own
module, with nothing heavy imported, so the benchmark's floor page can use it."""

from __future__ import annotations

import streamlit as st

# The canvas's own toolbar (undo, redo, clear) is see-through until hovered, and a phone never hovers. The
# component keeps its styles in a shadow root that page CSS cannot reach, so this script adds one rule there:
# the toolbar always shown. The room above the canvas for it is page CSS on the component's host element,
# there from the first paint: a margin added later would move the canvas under a stroke already aimed at it.
# Constants: nothing a person typed is in them.
_CANVAS_ROOM_STYLE = '<style>[data-testid="stBidiComponentIsolated"] { padding-top: 2.9rem; }</style>'
_CANVAS_TOOLBAR_SCRIPT = """<script>
(function () {
  if (window.__mnistvizCanvasToolbar) return;
  const css = ".dc-toolbar{opacity:1 !important;top:-2.65rem !important}";
  window.__mnistvizCanvasToolbar = setInterval(function () {
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')) {
      const root = host.shadowRoot;
      if (root && root.querySelector(".dc-toolbar") && !root.querySelector("style[data-mnistviz]")) {
        const style = document.createElement("style");
        style.dataset.mnistviz = "toolbar";
        style.textContent = css;
        root.appendChild(style);
      }
    }
  }, 400);
})();
</script>"""

# While a run is under way Streamlit dims the elements it is about to replace: after 0.5 s they fade to a
# third over 1 s. Under a stroke that fade greys the canvas under the pen and the answer being waited for,
# and on a busy laptop it costs more than the answer: each frame of it is painted again (by the CPU, on a
# machine without a GPU), so a slow stroke makes the next one slower still. ``{key}`` is a constant.
_NEVER_DIMS_STYLE = ('<style>.st-key-{key} [data-stale="true"] '
                     '{{ opacity: 1 !important; transition: none !important; }}</style>')


def canvas_toolbar_always_visible() -> None:
    """Show the drawing canvas's undo, redo and clear buttons at all times (on phones too); call it before the canvas."""
    st.html(_CANVAS_ROOM_STYLE)
    st.html(_CANVAS_TOOLBAR_SCRIPT, unsafe_allow_javascript=True)


def never_dims(key: str) -> None:
    """Keep the keyed container ``key`` (the canvas and what follows each stroke) at full strength while a
    run is under way, instead of Streamlit's fade of stale elements."""
    st.html(_NEVER_DIMS_STYLE.format(key=key))
