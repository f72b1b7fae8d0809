"""5 · Flatten: pool2's 7×7×64 block unrolled into one 3,136-long vector, and where each element came from."""

import numpy as np
import streamlit as st

from mnistviz import figures
from mnistviz import dense_inspect as di
from pages.components import keras_line, npy_download, stage_page, unfamiliar_layers
from pages.shared import next_link, stage_header

COURSE_LINE = "pool2_flat = tf.reshape(pool2, [-1, flattened_size])  # Keras: layers.Flatten()"

digit, am, stages = stage_page("5 · Flatten")
kinds = [s.kind for s in stages]

if "Flatten" not in kinds:
    st.info(
        f"The active model ({am.label}) has no Flatten stage: it has no convolutions, so its input is "
        "already the flat 784-pixel vector and goes straight into a dense layer. Pick the default model "
        "in the sidebar to see a block of feature maps being flattened.",
        icon=":material/info:",
    )
    next_link(__file__, am.model)
    st.stop()

i_flat = kinds.index("Flatten")
flat_stage = stages[i_flat]
block_stage = stages[i_flat - 1]  # the feature maps that get flattened (pool2 in the course's CNN)
hwc = tuple(int(d) for d in block_stage.shape[1:])
h, w, c = hwc
n = di.flattened_size(hwc)
block = block_stage.array[0]
flat = flat_stage.array[0]
flatten_line = keras_line(am.config, flat_stage.name, COURSE_LINE)

st.markdown(
    f"A dense layer wants one row of numbers per image, not a block of maps. Flatten keeps every value of "
    f"**{block_stage.name}** and only changes how they are addressed: the `{h}×{w}×{c}` block becomes a "
    f"vector of {n:,} numbers. Nothing is learned here (0 parameters) and nothing is lost."
)
stage_header(flat_stage, flatten_line)

st.subheader("How long is the vector?")
st.markdown("The course reads the length off the shape of the last pooled block, leaving out the batch axis:")
st.code(
    f"hwc = {block_stage.name}.shape.as_list()[1:]            # {list(hwc)}\n"
    f"flattened_size = hwc[0] * hwc[1] * hwc[2]    # {h} * {w} * {c} = {n:,}\n"
    f"{block_stage.name}_flat = tf.reshape({block_stage.name}, [-1, flattened_size])  # {block_stage.shape} -> (1, {n})",
    language="python",
)
same = np.array_equal(flat, block.reshape(-1))
if same:
    st.caption(f":material/check: The model's flatten stage equals NumPy's `{block_stage.name}.reshape(1, -1)` exactly.")
else:
    st.warning("The model's flatten stage differs from a plain reshape of the block before it.")

m1, m2, m3 = st.columns(3)
m1.metric("Values", f"{n:,}")
m2.metric("Non-zero values", f"{int((flat != 0).sum()):,}", help="ReLU and max pooling leave many exact zeros.")
m3.metric("Largest value", f"{float(flat.max()):.3f}", help=f"at element k = {int(flat.argmax())}")

# --- traceability ----------------------------------------------------------------------------------
st.subheader("Where did element k come from?")
st.markdown(
    f"Keras stores a block channels-last, so the channel changes fastest: the first {c} elements are the {c} "
    f"channels of pixel (0, 0), the next {c} those of pixel (0, 1), and so on. Element "
    f"**k = (row·{w} + col)·{c} + channel**."
)
k_key = f"flat_k_{n}"
if k_key not in st.session_state:
    st.session_state[k_key] = int(flat.argmax())


def _use_reverse() -> None:
    st.session_state[k_key] = di.flat_index(st.session_state[f"rev_r_{n}"], st.session_state[f"rev_c_{n}"],
                                            st.session_state[f"rev_ch_{n}"], hwc)


left, right = st.columns(2)
with left.container(border=True):
    st.markdown("**k → (row, col, channel)**")
    k = int(st.number_input(f"Element k (0 … {n - 1})", 0, n - 1, key=k_key))
    r, q, ch = di.unflat_index(k, hwc)
    st.markdown(
        f"k = {k} = ({r}·{w} + {q})·{c} + {ch}  →  **row {r}, col {q}, channel {ch}**  \n"
        f"`flat[{k}]` = {float(flat[k]):.4f} = `{block_stage.name}[0, {r}, {q}, {ch}]` = {float(block[r, q, ch]):.4f}"
    )
with right.container(border=True):
    st.markdown("**(row, col, channel) → k**")
    a, b, d = st.columns(3)
    rr = int(a.number_input("row", 0, h - 1, r, key=f"rev_r_{n}"))
    cc = int(b.number_input("col", 0, w - 1, q, key=f"rev_c_{n}"))
    chh = int(d.number_input("channel", 0, c - 1, ch, key=f"rev_ch_{n}"))
    k_rev = di.flat_index(rr, cc, chh, hwc)
    st.markdown(f"k = ({rr}·{w} + {cc})·{c} + {chh} = **{k_rev}**, value {float(flat[k_rev]):.4f}")
    st.button("Highlight this element", on_click=_use_reverse, key=f"rev_go_{n}")

f1, f2 = st.columns([1, 1])
f1.plotly_chart(
    figures.dense.block_mosaic(block, highlight=(r, q, ch), height=470,
                           title=f"{block_stage.name}: {c} maps of {h}×{w} (channel {ch} outlined, cell in red)"),
    width="stretch", key="flatten_block")
f2.plotly_chart(
    figures.dense.flatten_strip(flat, hwc, k=k, height=470,
                            title=f"the vector, {c} values per row (k = {k} in red)"),
    width="stretch", key="flatten_strip")
st.caption(
    f"Right: the flattened vector cut into {h * w} rows of {c} so it fits on screen; read it like a book, "
    f"row by row. Each row is one pixel position of {block_stage.name}, each column one channel. Hover any cell."
)

npy_download(flat_stage.array, "the flattened vector", flat_stage.name, "dl_flatten")

st.divider()
unfamiliar_layers(__file__, am, stages)
next_link(__file__, am.model)
