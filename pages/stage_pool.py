"""Stage 4 · Max pooling: every 2×2 window keeps its largest value, so each map halves; why padding uses −∞."""

from functools import partial

import numpy as np
import streamlit as st

from mnistviz import activations, conv_inspect, figures
from mnistviz import convarith as ca
from pages.components import keras_line, npy_download, unfamiliar_layers
from pages.shared import active_model, current_input, next_link, stage_header

COLS = 8


def _pick_cell(chart_key: str, layer_name: str) -> None:
    """A click on the pooled map: that cell's window is the one the page shows."""
    picked = conv_inspect.clicked_cell(st.session_state[chart_key].selection.points)
    if picked is not None:
        st.session_state[f"pool_cell_{layer_name}"] = picked


digit = current_input()
am = active_model()

st.title("4 · Max pooling: keep the strongest, halve the size")
st.markdown(
    "Pooling has no weights. It cuts each feature map into 2×2 windows (stride 2, so they do not overlap) "
    "and keeps only the largest value of each. Height and width halve, the number of maps stays: the network "
    "keeps *that* a pattern was found nearby and forgets its exact pixel, and the next layers have 4× less to compute."
)

pools = conv_inspect.pool_layers(am.model)
stages = activations.stages(am.model, digit.image)  # one forward pass for the maps and the layer notes below
if not pools:
    st.info("The active model has no pooling layer (a fully connected network, or a CNN without pooling). "
            "Pick a CNN with pooling as the active model to see this stage; the −∞ example below still applies.")
else:
    names = [p.name for p in pools]
    name = st.segmented_control("Layer", names, default=names[0], key="pool_layer") or names[0]
    layer = am.model.get_layer(name)
    sd = {s.name: s for s in stages}
    src = conv_inspect.feeding_stage(list(sd), name)
    before, after = sd[src], sd[name]
    size = int(layer.pool_size[0])
    mode = conv_inspect.pool_mode(layer)
    line = keras_line(am.config, name, f"layers.{type(layer).__name__}(({size}, {size}), strides={layer.strides[0]})")
    if mode == "average":
        st.info(f"`{name}` is **average** pooling: each window hands on the mean of its values instead of the "
                "largest. Everything else on this page works the same way.", icon=":material/info:")
    stage_header(after, f"x = {line}(x)")
    h, w, n_ch = before.shape[1:]
    st.markdown(
        f"`{src}` {tuple(before.shape)} → `{name}` {tuple(after.shape)}: **{h}→{after.shape[1]}** rows, "
        f"**{w}→{after.shape[2]}** columns, still {n_ch} maps; {before.array[0].size:,} numbers become "
        f"{after.array[0].size:,}. No parameters: 0 to learn."
        + (" An odd size loses its last row and column (Keras' default `padding='valid'`)." if h % 2 else "")
    )

    st.subheader("One map before and after")
    strength = after.array[0].max(axis=(0, 1))
    ch = st.number_input(f"Channel (0-{n_ch - 1})", 0, n_ch - 1, int(strength.argmax()), key=f"pool_ch_{name}",
                         help="Starts at the strongest map for this digit.")
    fmap = before.array[0, ..., ch]
    pooled = ca.pool2d(fmap, size, int(layer.strides[0]), layer.padding, mode=mode)
    out_h, out_w = pooled.output.shape
    ci, cj = st.session_state.get(f"pool_cell_{name}") or np.unravel_index(int(pooled.output.argmax()), (out_h, out_w))
    ci, cj = min(int(ci), out_h - 1), min(int(cj), out_w - 1)
    win = pooled.window(ci, cj)
    top, _, left, _ = pooled.pads
    c1, c2 = st.columns(2)
    before_fig = figures.conv.pool_windows(fmap, pooled.output, pooled.argmax() if mode == "max" else None, size,
                                           f"{src}, channel {ch}: {h}×{w} in {size}×{size} windows")
    c1.plotly_chart(figures.outline(before_fig, win.top - top, win.left - left, size, size), width="stretch",
                    key="pool_before")
    fig = figures.heatmap(after.array[0, ..., ch], title=f"{name}, channel {ch}: click a cell",
                          height=420, text=after.shape[1] <= 14)
    c2.plotly_chart(figures.outline(figures.conv.pickable_cells(fig, after.array[0, ..., ch], mode), ci, cj),
                    width="stretch", key="pool_after", on_select=partial(_pick_cell, "pool_after", name),
                    selection_mode="points")
    st.markdown(f"Cell ({ci}, {cj}) on the right comes from the orange {size}×{size} window on the left: "
                f"`{ca.pool_text(win, mode)}`")
    if not np.allclose(pooled.output, after.array[0, ..., ch], atol=1e-6):
        st.warning("The NumPy pooling here differs from Keras' output for this layer.")
    if mode == "max":
        st.caption("Circles mark where each window's maximum sits (windows below 5 % of the map's peak are left "
                   "unmarked). Each cell on the right is the circled value of one window on the left.")
    else:
        st.caption("Each cell on the right is the mean of one window on the left.")

    st.subheader("All maps before and after")
    m1, m2 = st.columns(2)
    grid_h = 90 + 60 * int(np.ceil(n_ch / COLS))
    m1.plotly_chart(figures.mosaic(before.array[0], cols=COLS, title=f"{src}: {h}×{w} × {n_ch}", height=grid_h),
                    width="stretch", key="pool_mosaic_before")
    m2.plotly_chart(figures.mosaic(after.array[0], cols=COLS, title=f"{name}: {after.shape[1]}×{after.shape[2]} × {n_ch}",
                                   height=grid_h), width="stretch", key="pool_mosaic_after")
    st.caption("Same order in both grids. The pooled maps are coarser but keep every bright spot.")
    npy_download(after.array, f"{name}'s output", name, "pool_download")

st.subheader("Why max pooling pads with −∞")
st.markdown(
    "This applies only to pooling with `padding='same'`: it adds cells around a map that does not divide into "
    "whole windows, so every row and column is kept. With `padding='valid'` (Keras' default) nothing is padded: "
    "a last row or column that does not fill a window is dropped."
)
if pools:
    modes = {p.name: p.padding for p in pools}
    if all(mode == "valid" for mode in modes.values()):
        st.caption(f"The active model's pooling ({', '.join(f'`{n}`' for n in modes)}) uses `padding='valid'`, so it "
                   "never pads: the example below is for a layer that would.")
st.markdown(
    "When it does pad, the right filler for a *max* is −∞: it is smaller than every number, so it can never be "
    "picked and the result contains only real values. Padding with 0 would invent a maximum of 0 wherever a "
    "window is all negative."
)
tiny = ca.NEGATIVE_IMAGE
with_inf = ca.pool2d(tiny, 2, 2, "same")
with_zero = ca.pool2d(tiny, 2, 2, "same", pad_value=0.0)


def grid_text(z) -> str:
    return "\n".join(" ".join(f"{ca.fmt(v):>3}" for v in row) for row in z)


e1, e2, e3 = st.columns(3)
e1.markdown("**A 3×3 map** (e.g. before a ReLU)")
e1.code(grid_text(tiny), language=None)
e2.markdown("**Padded with −∞ to 4×4 → max of each 2×2**")
e2.code(grid_text(with_inf.padded) + "\n\n→ " + grid_text(with_inf.output).replace("\n", " / "), language=None)
e3.markdown("**Padded with 0 instead**")
e3.code(grid_text(with_zero.padded) + "\n\n→ " + grid_text(with_zero.output).replace("\n", " / "), language=None)
e3.caption(f"{int((with_zero.output == 0).sum())} of the 4 maxima are 0, a value that is nowhere in the map.")
st.code("layers.MaxPooling2D((2, 2), strides=2, padding='same')  # 3×3 → 2×2, padding -∞", language="python")
st.caption("The Convolution playground lets you change this grid, the pool size and the stride.")

unfamiliar_layers(__file__, am, stages)
next_link(__file__, am.model)
