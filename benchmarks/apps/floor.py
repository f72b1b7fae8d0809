"""Benchmark page (a), the floor: only the canvas (the Draw page's own canvas component, its section never
dimmed while a stroke is read) and a constant metric from the page's run, no model and no answer route."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for pages.draw_canvas
from pages.canvas_toolbar import never_dims  # noqa: E402
from pages.draw_canvas import drawing_canvas  # noqa: E402

never_dims("floor-live")
with st.container(key="floor-live"):
    if drawing_canvas(None, 18, key="canvas") is not None:
        st.metric("Prediction", "7")
    else:
        st.write("Draw a digit")
