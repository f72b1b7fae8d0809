"""Stage 1 · Data: one digit as 784 numbers, scaled to [0, 1], its label as a one-hot vector, and the data set."""

import numpy as np
import streamlit as st

from mnistviz import activations, conv_inspect, data, figures
from pages.shared import active_model, current_input, data_caption, dataset, next_link, stage_header

digit = current_input()
am = active_model()
ds = dataset()

st.title("1 · Data: a digit is a grid of numbers")
st.markdown(
    "Every MNIST image is 28×28 grey pixels: 0 is the black background, 255 the whitest ink. "
    "The digits were scaled to fit a 20×20 box and centred in the 28×28 frame."
)
data_caption()
x = activations.as_batch(digit.image)  # (1, 784): what the model is fed
stage_header(activations.Stage("pixels", "InputLayer", x.shape, x, 0),
             "inputs = keras.Input(shape=(784,))  # one flat row of 784 pixels per image")

pixels = np.rint(np.asarray(digit.image) * 255).astype(np.uint8)  # (28, 28) 0-255
c1, c2 = st.columns([1, 1.8])
with c1:
    st.plotly_chart(figures.digit_heatmap(pixels, title=f"The input: {digit.description}", scale_255=True, height=380),
                    width="stretch", key="data_heatmap")
    st.caption("Hover a pixel to read its row, column and value.")
with c2:
    st.markdown("**The same 784 numbers, printed (0-255)**")
    matrix = "\n".join(" ".join(f"{v:3d}" for v in row) for row in pixels)
    st.html(f'<pre class="pixel-matrix" style="font-family:monospace; font-size:9.5px; line-height:1.25; '
            f'overflow-x:auto; background:#f8f9fa; color:#212529; padding:8px; border-radius:6px; margin:0">'
            f'{matrix}</pre>')

st.subheader("Scaling to [0, 1]")
st.markdown(
    "The network takes each pixel divided by 255, so the input is 784 floats between 0.0 and 1.0: "
    "small, comparable numbers train better than 0-255."
)
st.code("x = x_train.reshape(-1, 784) / 255.0   # (N, 784) floats in [0, 1]", language="python")
nz = pixels[pixels > 0]
s1, s2, s3 = st.columns(3)
s1.metric("Pixels with ink", f"{nz.size} of 784")
s2.metric("Brightest pixel", f"{pixels.max()} → {pixels.max() / 255:.3f}")
s3.metric("Mean value after scaling", f"{digit.image.mean():.3f}")

st.subheader("The label and its one-hot vector")
if digit.label is None:
    st.info("A drawing has no true label: the model's guess is all there is. Pick a test digit to see its one-hot vector.")
else:
    onehot = data.one_hot([digit.label])[0]
    st.markdown(f"True digit **{digit.label}**. The label the loss compares against is a vector of 10 numbers, "
                f"1 at position {digit.label} and 0 elsewhere:")
    st.plotly_chart(figures.data.one_hot(onehot), width="stretch", key="data_onehot")
    st.code(f"keras.utils.to_categorical({digit.label}, 10)  # {onehot.astype(int).tolist()}", language="python")
    st.caption("The lab trains with `sparse_categorical_crossentropy` and plain labels (the number "
               f"{digit.label}) instead: the same loss, since the one-hot vector's only 1 picks out p({digit.label}) "
               "either way; Keras does that picking itself, and the labels stay ten times smaller.")

st.subheader("What the data set looks like")
left, right = st.columns([1.3, 1])
with left:
    seed = st.session_state.get("data_sample_seed", 0)
    if st.button("Show other samples", icon=":material/shuffle:", key="data_reshuffle"):
        seed = int(np.random.default_rng().integers(1_000_000))
        st.session_state["data_sample_seed"] = seed
    maps = conv_inspect.samples_per_class(ds.x_train, ds.y_train, per_class=12, seed=seed)
    st.plotly_chart(figures.data.samples_by_class(maps, 12, "12 random training digits per class"), width="stretch",
                    key="data_samples")
with right:
    st.plotly_chart(figures.data.class_counts(np.bincount(ds.y_train, minlength=10),
                                              np.bincount(ds.y_test, minlength=10)), width="stretch", key="data_counts")
st.caption(f"Test split: {ds.test_label}. The classes are close to balanced, so accuracy is a fair summary.")

next_link(__file__, am.model)
