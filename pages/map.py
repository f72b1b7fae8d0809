"""Map of what it learned: 2,000 test digits placed by what the network makes of them, at three depths."""

import numpy as np
import streamlit as st

from mnistviz import activations, embedding, figures
from pages import shared



@st.cache_resource(show_spinner=False, max_entries=8)
def map_figures(model_key: str, _emb: embedding.Embedding) -> dict[str, dict]:
    """The three maps as Plotly dicts, built once per model (the input's marker is added per run)."""
    return {depth: figures.maps.map_figure(_emb, depth) for depth in embedding.DEPTHS}


def _follow_clicked_digit(chart_key: str) -> None:
    """A clicked digit becomes the input (a callback: it runs before the sidebar's widgets are drawn)."""
    points = st.session_state[chart_key].selection.points
    chosen = [p["customdata"] for p in points if p.get("customdata") is not None]  # the star has none
    if chosen:
        index = chosen[0][0] if isinstance(chosen[0], list) else chosen[0]
        ss = st.session_state
        ss["input_kind"], ss["input_index"] = "test", int(index)
        ss["input_class"], ss["input_wrong_only"] = "any", False


st.title("Map of what it learned")
am = shared.active_model()
digit = shared.current_input()
with st.spinner(f"Placing {shared.MAP_DIGITS:,} test digits on the maps…"):
    emb = shared.digit_map(am)  # fitted once per model, shared with the Draw page's not-a-digit check
knn = {depth: space.knn_accuracy for depth, space in emb.spaces.items()}
on_map = {depth: space.map_knn_accuracy for depth, space in emb.spaces.items()}

st.markdown(
    f"Each dot is one of {len(emb.labels):,} test digits the model never trained on, coloured by its true digit. "
    "The three maps place the same digits by three different descriptions of them: their **raw pixels**, "
    "what the **last convolution stage** made of them, and the **last hidden dense layer**. Each description "
    "has hundreds or thousands of numbers; PCA squeezes it onto the two directions along which the digits "
    "differ most. **In pixel space the classes overlap** (a 4 and a 9 share most of their ink); **layer by "
    "layer they separate**, because training shaped each layer to make the next one's job easier. "
    "Ringed dots are digits the model gets wrong; the star is your input. Click a dot to follow that digit.")

st.subheader("How well do neighbours agree?")
st.caption(f"Share of digits whose {embedding.K_NEIGHBOURS} nearest neighbours (the digit itself left out) "
           "mostly carry the same true label: in the full space, and on the flat 2-D map.")
cols = st.columns(3)
for col, depth in zip(cols, embedding.DEPTHS):
    col.metric(f"{emb.spaces[depth].layer.title}", f"{knn[depth]:.1%}",
               f"{on_map[depth]:.1%} on the 2-D map", delta_color="off", delta_arrow="off")
notes = {space.layer.note for space in emb.spaces.values() if space.layer.note}
for note in sorted(notes):
    st.info(f"For {am.label}: {note}.", icon=":material/info:")

feats = emb.features_of(am.model, digit.image)
places = emb.project_features(feats)
label = "your drawing" if digit.label is None else "your input"
base = map_figures(am.id, emb)
for col, depth in zip(st.columns(3), embedding.DEPTHS):
    key = f"map_{depth}"
    with col:
        st.plotly_chart(figures.maps.with_input(base[depth], places[depth], label), width="stretch", key=key,
                        on_select=lambda key=key: _follow_clicked_digit(key), selection_mode="points")

st.subheader("Your input")
left, right = st.columns([1, 3])
proba = activations.probabilities(am.model, digit.image)[0]
left.plotly_chart(figures.picture((np.clip(digit.image, 0, 1) * 255).astype(np.uint8), height=200, upscale=4),
                  width="stretch", key="map_input_picture")
check = emb.check(feats)
with right:
    st.markdown(f"**{digit.description}**: the model reads **{int(proba.argmax())}**, {proba.max():.0%} sure.")
    if check.is_digit:
        st.success("It lies among the digits the model learned: its nearest test digit is as close as real "
                   "digits' neighbours usually are.", icon=":material/check_circle:")
    else:
        st.warning("This does not look like any digit the model learned. " + check.reason + " The probability "
                   "still reads high because softmax must share 100 % among the ten digits: it says which "
                   "digit is least unlike the input, not that the input is a digit.", icon=":material/help:")
    st.caption(f"Maps fitted in {emb.fit_seconds:.1f} s for this model (once, then shared); projecting an input "
               "is one forward pass and a matrix product per map.")
