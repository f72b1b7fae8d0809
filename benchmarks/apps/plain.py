"""Benchmark page (b), the plain way tutorials do it: canvas, resize, model.predict, metric.

Written as a tutorial would write it: TensorFlow with its own defaults (this file does not import
mnistviz, which would change TensorFlow's start-up settings), the model loaded once with
``keras.models.load_model`` under ``st.cache_resource``, and ``model.predict`` on every stroke.
"""

from pathlib import Path

import keras
import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

MODEL_PATH = Path(__file__).resolve().parents[2] / "mnistviz" / "assets" / "default_model.keras"


@st.cache_resource
def model():
    return keras.models.load_model(MODEL_PATH)


res = st_canvas(background_color="#000000", stroke_color="#FFFFFF", stroke_width=18, height=280, width=280,
                return_image_data=True, key="canvas")
if res.image_data is not None and np.asarray(res.image_data)[..., :3].max() > 0:
    img = Image.fromarray(np.asarray(res.image_data, np.uint8)[..., :3]).convert("L").resize((28, 28))
    x = np.asarray(img, np.float32).reshape(1, 784) / 255.0
    p = model().predict(x, verbose=0)[0]
    st.metric("Prediction", str(int(p.argmax())))
else:
    st.write("Draw a digit")
