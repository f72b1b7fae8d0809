"""Benchmark page (b), the plain way tutorials do it: canvas, resize, model.predict, metric."""

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

import mnistviz  # noqa: F401  (quiet TensorFlow)
from mnistviz.pretrained import load_default_model


@st.cache_resource
def model():
    return load_default_model()


res = st_canvas(background_color="#000000", stroke_color="#FFFFFF", stroke_width=18, height=280, width=280,
                return_image_data=True, key="canvas")
if res.image_data is not None and np.asarray(res.image_data)[..., :3].max() > 0:
    img = Image.fromarray(np.asarray(res.image_data, np.uint8)[..., :3]).convert("L").resize((28, 28))
    x = np.asarray(img, np.float32).reshape(1, 784) / 255.0
    p = model().predict(x, verbose=0)[0]
    st.metric("Prediction", str(int(p.argmax())))
else:
    st.write("Draw a digit")
