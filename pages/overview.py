"""Overview: the active model's whole architecture as one picture, and a table that matches model.summary()."""

import pandas as pd
import streamlit as st

from mnistviz import activations, figures, lessons
from pages.shared import active_model, current_input, next_link


def shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


digit = current_input()
am = active_model()

st.title("Overview: the whole network")
st.markdown(
    "A digit enters as 784 numbers and leaves as 10 probabilities. Every box below is one Keras layer of "
    f"the active model (**{am.label}**), with the shape of what it hands to the next one and how many "
    "weights it learned. The walkthrough pages take them one at a time."
)

layers = list(am.model.layers)
taught = lessons.lessons_for_layers(layers)
rows = [{"Layer": layer.name, "Type": type(layer).__name__, "Output shape": shape_text(layer.output.shape),
         "Parameters": int(layer.count_params()), "Explained on": lesson.title}
        for layer, lesson in zip(layers, taught)]

# Left to right on a wide screen; top to bottom on a phone's width, where twelve boxes side by side would
# squeeze their labels over each other (the style rule picks one of the two by the screen's width).
st.html("<style>.st-key-arch_down { display: none; } @media (max-width: 640px) { .st-key-arch_across "
        "{ display: none; } .st-key-arch_down { display: block; } }</style>")
with st.container(key="arch_across"):
    st.plotly_chart(figures.model.architecture(rows), width="stretch", key="overview_arch")
with st.container(key="arch_down"):
    st.plotly_chart(figures.model.architecture(rows, vertical=True), width="stretch", key="overview_arch_down")

total = int(am.model.count_params())
c1, c2, c3 = st.columns(3)
c1.metric("Total parameters", f"{total:,}")
c2.metric("Layers", len(layers), help="Every Keras layer of the model (`len(model.layers)`), as the lab counts them.")
stage = activations.stages(am.model, digit.image)[-1]
c3.metric("Prediction for the input digit", int(stage.array[0].argmax()),
          help=f"{digit.description}; probability {stage.array[0].max():.1%}")

st.subheader("Layer by layer (as `model.summary()` reports it)")
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=(len(rows) + 1) * 35 + 3,
             column_config={"Parameters": st.column_config.NumberColumn(format="localized")})
st.caption(
    "Shapes and counts are read from the real Keras layers (`layer.output.shape`, `layer.count_params()`); "
    "`None` is the batch axis, any number of images: the stage pages follow one digit, so there it reads 1, "
    "as in (1, 784). Only conv and dense layers learn weights: "
    "a k×k conv with c input channels has (k·k·c + 1) weights per filter, the +1 being its bias."
)

st.subheader("Walk through it")
for i, lesson in enumerate(lessons.STAGES):
    if i % 4 == 0:  # a new row of four: on a phone the columns stack, and the links still read 1, 2, 3, …
        cols = st.columns(4)
    with cols[i % 4]:
        st.page_link(lesson.path, label=lesson.title, icon=":material/arrow_forward:", disabled=lesson not in taught,
                     help=None if lesson in taught else "The active model has no such stage.")
next_link(__file__, am.model)
