"""Benchmark page (a), the floor: only the canvas (as the app's pages draw it: its toolbar always shown,
never dimmed while a stroke is read) and a constant metric, no model."""

import sys
from pathlib import Path

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for pages.canvas_toolbar
from pages.canvas_toolbar import canvas_toolbar_always_visible, never_dims  # noqa: E402

canvas_toolbar_always_visible()
never_dims("floor-live")
with st.container(key="floor-live"):
    res = st_canvas(background_color="#000000", stroke_color="#FFFFFF", stroke_width=18, height=280, width=280,
                    return_image_data=True, key="canvas")
    if res.image_data is not None and np.asarray(res.image_data)[..., :3].max() > 0:
        st.metric("Prediction", "7")
    else:
        st.write("Draw a digit")
