"""Overview: the active model's whole architecture as one picture, and a table that matches model.summary()."""

import keras
import pandas as pd
import streamlit as st

from mnistviz import activations, figures
from pages.shared import input_picker, model_picker

STAGE_PAGES = {
    "data": ("pages/stage_data.py", "1 · Data"),
    "reshape": ("pages/stage_reshape.py", "2 · Reshape to NHWC"),
    "conv": ("pages/stage_conv.py", "3 · Convolution"),
    "pool": ("pages/stage_pool.py", "4 · Max pooling"),
    "flatten": ("pages/stage_flatten.py", "5 · Flatten"),
    "dense": ("pages/stage_dense.py", "6 · Dense and dropout"),
    "softmax": ("pages/stage_softmax.py", "7 · Logits and softmax"),
}


def page_of(layer, last_dense) -> str:
    """Which walkthrough page explains ``layer`` (by its Keras class)."""
    L = keras.layers
    if isinstance(layer, L.InputLayer):
        return "data"
    if isinstance(layer, L.Reshape):
        return "reshape"
    if isinstance(layer, L.MaxPooling2D):
        return "pool"
    if isinstance(layer, L.Flatten):
        return "flatten"
    if isinstance(layer, L.Softmax) or layer is last_dense:
        return "softmax"
    if isinstance(layer, (L.Dense, L.Dropout)):
        return "dense"
    return "conv"  # Conv2D and the BatchNormalization/Activation that follow a convolution


def shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


digit = input_picker()
am = model_picker()

st.title("Overview: the whole network")
st.markdown(
    "A digit enters as 784 numbers and leaves as 10 probabilities. Every box below is one Keras layer of "
    f"the active model (**{am.label}**), with the shape of what it hands to the next one and how many "
    "weights it learned. The walkthrough pages take them one at a time."
)

layers = [layer for layer in am.model.layers]
dense_layers = [layer for layer in layers if isinstance(layer, keras.layers.Dense)]
last_dense = dense_layers[-1] if dense_layers else None
rows = [{"Layer": layer.name, "Type": type(layer).__name__, "Output shape": shape_text(layer.output.shape),
         "Parameters": int(layer.count_params()), "Explained on": STAGE_PAGES[page_of(layer, last_dense)][1]}
        for layer in layers]

st.plotly_chart(figures.model.architecture(rows), width="stretch", key="overview_arch")

total = int(am.model.count_params())
c1, c2, c3 = st.columns(3)
c1.metric("Total parameters", f"{total:,}")
c2.metric("Layers", len(rows))
stage = activations.stages(am.model, digit.image)[-1]
c3.metric("Prediction for the input digit", int(stage.array[0].argmax()),
          help=f"{digit.description}; probability {stage.array[0].max():.1%}")

st.subheader("Layer by layer (as `model.summary()` reports it)")
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=(len(rows) + 1) * 35 + 3,
             column_config={"Parameters": st.column_config.NumberColumn(format="localized")})
st.caption(
    "Shapes and counts are read from the real Keras layers (`layer.output.shape`, `layer.count_params()`); "
    "`None` is the batch axis, any number of images. Only conv and dense layers learn weights: "
    "a k×k conv with c input channels has (k·k·c + 1) weights per filter, the +1 being its bias."
)

st.subheader("Walk through it")
used = []
for r in rows:
    if r["Explained on"] not in used:
        used.append(r["Explained on"])
cols = st.columns(4)
for i, (key, (path, label)) in enumerate(STAGE_PAGES.items()):
    with cols[i % 4]:
        st.page_link(path, label=label, icon=":material/arrow_forward:", disabled=label not in used,
                     help=None if label in used else "The active model has no such stage.")
st.page_link("pages/stage_data.py", label="Next: 1 · Data", icon=":material/arrow_forward:")
