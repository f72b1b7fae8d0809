"""Parts of a live page that its strokes do not change (headings, captions, lesson links), laid out so
that a stroke does not redraw them. Layout only, nothing heavy imported (a helper of the pages, not a page)."""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st


@st.fragment
def static_part(layout: Callable[..., None], *args: Any) -> None:
    """Lay out ``layout(*args)`` in a fragment of its own, once per full run. At each rerun of a fragment
    (a stroke on the Draw page) the browser renders again every element outside any fragment, and leaves
    alone those of the fragments not being rerun: a page link costs ~6 ms of script each time. Only for
    parts without widgets (a widget here would rerun just this part)."""
    layout(*args)
