"""Stage 2 · Reshape to NHWC: the flat 784 vector wrapped into a 28×28×1 image, and why the batch is -1."""

import keras
import numpy as np
import streamlit as st

from mnistviz import activations, figures
from pages.components import keras_line, stage_page, unfamiliar_layers
from pages.shared import dataset, next_link, stage_header

digit, am, stages = stage_page("2 · Reshape to NHWC")
st.markdown(
    "The data arrive as one row of 784 numbers per image. A convolution needs to know which pixels are "
    "neighbours, so the row is wrapped back into a 28×28 grid with one channel. No number changes; "
    "only the shape does."
)

reshape_layers = [layer for layer in am.model.layers if isinstance(layer, keras.layers.Reshape)]
flat = activations.as_batch(digit.image)[0]  # (784,)

if not reshape_layers:
    st.info(
        "The active model has no reshape stage: it is a fully connected network (MLP) that reads the 784 "
        "pixels as one flat row and never sees them as an image. Pick a CNN as the active model to follow "
        "this step; the idea is explained below anyway."
    )
else:
    stage = next(s for s in stages if s.name == reshape_layers[0].name)
    stage_header(stage, f"x = {keras_line(am.config, stage.name, 'layers.Reshape((28, 28, 1))')}")

st.subheader("Before: one row of 784 numbers")
k_pick = st.slider("Follow pixel number k", 0, 783, int(np.argmax(flat)), key="reshape_k",
                   help="Its place is marked in both pictures. Starts at the brightest pixel.")
row, col = divmod(k_pick, 28)
st.plotly_chart(figures.data.flat_row(flat, k_pick), width="stretch", key="reshape_strip")

st.subheader("After: the same numbers as 28 × 28 × 1")
c1, c2 = st.columns([1, 1])
with c1:
    st.plotly_chart(figures.data.image_grid(flat, k_pick), width="stretch", key="reshape_grid")
with c2:
    st.markdown(
        f"Pixel **k = {k_pick}** lands at **(row, col) = divmod({k_pick}, 28) = ({row}, {col})**: "
        f"the first 28 numbers fill row 0, the next 28 row 1, and so on (row-major order)."
    )
    st.code(f"x_flat[0, {k_pick}] == x_img[0, {row}, {col}, 0]   # {flat[k_pick]:.3f}", language="python")
    st.markdown(
        "**NHWC** names the four axes of the image tensor:\n"
        "- **N**: how many images are in the batch,\n"
        "- **H**: height, 28 rows,\n"
        "- **W**: width, 28 columns,\n"
        "- **C**: channels per pixel, 1 for grey (a colour photo would have 3)."
    )

st.subheader("Why −1 for the batch")
st.markdown(
    "The model must accept any number of images at once: one drawing, or a batch of 128 during training. "
    "In a new shape, one axis may be `-1`, meaning *whatever size makes all the numbers fit*. "
    "The course puts it on the batch axis:"
)
st.code("reshaped = tf.reshape(inputs, [-1, 28, 28, 1])   # 784 numbers per image → one 28×28×1 image each",
        language="python")
n = st.slider("Images in a batch", 1, 16, 5, key="reshape_batch")
batch = dataset().x_test[:n].reshape(n, 784) / 255.0
nhwc = batch.reshape(-1, 28, 28, 1)
b1, b2, b3 = st.columns(3)
b1.metric("Batch in", str(batch.shape))
b2.metric("After reshape(-1, 28, 28, 1)", str(nhwc.shape))
b3.metric("Numbers (unchanged)", f"{batch.size:,} = {nhwc.size:,}")
st.caption(
    f"−1 became {n} because {batch.size:,} / (28·28·1) = {n}. A new shape must hold exactly as many numbers as "
    "the old one. For example, an array of shape (5, 4, 2) holds 5·4·2 = 40 numbers: it can be reshaped to "
    "(4, 10), which also holds 40, but not to (3, 10, 2), which would need 60. Reshaping it to (1, 10, −1) "
    "turns the −1 into 4, because 1·10·4 = 40."
)

unfamiliar_layers(__file__, am, stages)
next_link(__file__, am.model)
