"""Which sections of a page are on the person's screen, told by their browser: a live page then redraws
only what can be seen at each stroke, and the rest when it is scrolled to. Layout only, nothing heavy
imported (a helper of the pages, not a page)."""

from __future__ import annotations

import json
from typing import Callable

import streamlit as st

# An IntersectionObserver on the keyed containers (class ``st-key-<key>``) named in ``data.keys`` (the
# data comes as one JSON string: a dict would cost Streamlit ~1 ms a rerun to inspect). It sends the list
# of those showing in the viewport (less ``data.margin`` at its foot) whenever that list differs from the
# one the script last saw (``data.shown``), so scrolling within a section sends nothing. Containers that appear
# later (a rerun) are picked up by a light check every second. Constants only: nothing a person typed.
_JS = """
export default function ({ data: json, setStateValue }) {
  const data = JSON.parse(json);
  const seen = new Set();
  let sent = data.shown.join(",");
  const keyOf = (el) => [...el.classList].find((c) => c.startsWith("st-key-")).slice(7);
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (e.isIntersecting) seen.add(keyOf(e.target)); else seen.delete(keyOf(e.target));
    }
    const shown = data.keys.filter((k) => seen.has(k));
    if (shown.join(",") !== sent) {
      sent = shown.join(",");
      setStateValue("shown", shown);
    }
  }, { rootMargin: data.margin });
  const watched = new Set();
  const watch = () => {
    for (const k of data.keys) {
      const el = document.querySelector(".st-key-" + CSS.escape(k));
      if (el && !watched.has(el)) { watched.add(el); io.observe(el); }
    }
  };
  watch();
  const timer = setInterval(watch, 1000);
  return () => { clearInterval(timer); io.disconnect(); };
}
"""
_on_screen = st.components.v2.component("mnistviz.on_screen", js=_JS, isolate_styles=False)

HIDE_STYLE = "<style>.st-key-{key} {{ display: none; }}</style>"


def shown_sections(key: str, assume: tuple[str, ...] = ()) -> set[str]:
    """The sections the probe ``key`` last reported on screen (``assume`` until the browser has said, and
    where no browser runs, as in ``AppTest``)."""
    before = st.session_state.get(key)
    shown = before.get("shown") if isinstance(before, dict) else None
    return set(assume if shown is None else shown)


def on_screen(sections: list[str], key: str, on_change: Callable[[], None], assume: tuple[str, ...] = (),
              min_visible_px: int = 60) -> None:
    """A probe telling which of ``sections`` (keys of ``st.container``s on this page) show at least their top
    ``min_visible_px`` (about a heading) in the browser's viewport: read it with ``shown_sections(key)``.
    When that changes, ``on_change`` runs (a callback: it may rerun a keyed fragment with ``st.rerun``).
    Call it in a fragment of its own, so that its own reruns (its first report comes right after the page
    loads) rerun nothing else, and hide its (empty) element with ``hide_on_screen_probe(key)`` outside any
    fragment."""
    shown = shown_sections(key, assume)
    data = {"keys": sections, "shown": [k for k in sections if k in shown],
            "margin": f"0px 0px -{min_visible_px}px 0px"}
    _on_screen(key=key, data=json.dumps(data), default={"shown": list(assume)}, on_shown_change=on_change)


def hide_on_screen_probe(key: str) -> None:
    """Take the probe's empty element out of the layout (it still runs)."""
    st.html(HIDE_STYLE.format(key=key))
