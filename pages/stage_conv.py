"""Stage 3 · Convolution: every kernel beside the map it makes, one output pixel's arithmetic, random vs trained, filters off."""

from functools import partial

import numpy as np
import streamlit as st

from mnistviz import activations, conv_inspect, exciting, figures
from mnistviz import receptive_field as rf
from mnistviz import convarith as ca
from pages.components import keras_line, npy_download, unfamiliar_layers
from pages.shared import (MAP_DIGITS, active_model, current_input, dataset, exciting_summary, next_link, stage_header,
                           untrained_model)

COLS = 8  # maps per row in both mosaics, so kernel f and map f sit at the same place


# A click on a map acts through these callbacks: they run before the next script run, so the filter,
# row and column widgets already show the clicked place (the sliders stay the keyboard way).
def _pick_map(chart_key: str, layer_name: str) -> None:
    picked = conv_inspect.clicked_map(st.session_state[chart_key].selection.points)
    if picked is not None:
        st.session_state[f"conv_f_{layer_name}"] = picked
        for axis in ("row", "col"):  # the new map opens at its own strongest pixel
            st.session_state.pop(f"conv_{axis}_{layer_name}", None)


def _pick_cell(chart_key: str, layer_name: str) -> None:
    picked = conv_inspect.clicked_cell(st.session_state[chart_key].selection.points)
    if picked is not None:
        st.session_state[f"conv_row_{layer_name}"], st.session_state[f"conv_col_{layer_name}"] = picked


digit = current_input()
am = active_model()

st.title("3 · Convolution: filters that light up on patterns")
st.markdown(
    "A convolution slides a small grid of weights, the **kernel**, over the image. At each position it "
    "multiplies the pixels under the kernel by the weights, adds them up, adds a bias and applies ReLU "
    "(negatives become 0). Each filter makes one **feature map**: bright where its pattern appears. "
    "With `padding='same'` the border is padded with zeros, so each map keeps its input's height and width (28×28 for conv1)."
)

convs = conv_inspect.conv_layers(am.model)
if not convs:
    st.info("The active model has no convolution layer: it is a fully connected network (MLP) that looks at all "
            "784 pixels at once, with no kernels to slide. Pick a CNN as the active model to see this stage.")
    next_link(__file__, am.model)
    st.stop()

names = [layer.name for layer in convs]
name = st.segmented_control("Layer", names, default=names[0], key="conv_layer") or names[0]
layer = am.model.get_layer(name)
sd = activations.stage_dict(am.model, digit.image)
src = conv_inspect.feeding_stage(list(sd), name)
x_in = sd[src].array[0]  # (H, W, c_in)
out = sd[name]  # (1, H', W', filters)
kernel, bias = conv_inspect.kernels(layer)
k, _, c_in, n_filters = kernel.shape
act = conv_inspect.activation_name(layer)
line = keras_line(am.config, name, f"layers.Conv2D({n_filters}, ({k}, {k}), padding={layer.padding!r}, activation={act!r})")
stage_header(out, f"x = {line}(x)")
formula, _, n_params = ca.params_formula(k, c_in, n_filters).rpartition(" = ")
st.markdown(
    f"**{n_filters} filters**, each a {k}×{k}×{c_in} block of weights plus one bias: "
    f"{formula} = **{n_params}** parameters. "
    f"Input: `{src}` {tuple(sd[src].shape)}."
    + (f" Each kernel spans **all {c_in} input channels**: it reads every map of `{src}` at once and sums "
       f"{c_in} separate {k}×{k} products into one number." if c_in > 1 else "")
    + (f" It moves **{int(layer.strides[0])} pixels** at a time (`strides={int(layer.strides[0])}`), so its maps are "
       f"{out.shape[1]}×{out.shape[2]}: output pixel (r, c) reads the window that starts at "
       f"({int(layer.strides[0])}·r, {int(layer.strides[0])}·c)." if int(layer.strides[0]) != 1 else "")
)

# --- every filter beside its map -------------------------------------------------------------------
st.subheader("Every filter and the map it makes")
in_ch = 0
if c_in > 1:
    in_ch = st.slider(f"Show the kernels' slice for input channel", 0, c_in - 1, 0, key=f"conv_inch_{name}",
                      help=f"A {name} kernel is {k}×{k}×{c_in}; the grid can show one {k}×{k} slice of each.")
grid_h = 90 + 60 * int(np.ceil(n_filters / COLS))
g1, g2 = st.columns(2)
g1.plotly_chart(figures.conv.kernel_mosaic(kernel, in_ch, f"Kernels{f' (input channel {in_ch})' if c_in > 1 else ''}: "
                                                  "red +, blue −", grid_h, COLS), width="stretch", key="conv_kernels")
maps_key = f"conv_maps_{name}"
g2.plotly_chart(figures.conv.pickable_mosaic(out.array[0], cols=COLS, title="Feature maps (click one to look at it)",
                                             height=grid_h),
                width="stretch", key=maps_key, on_select=partial(_pick_map, maps_key, name), selection_mode="points")
st.caption(f"Filter f sits at row f // {COLS}, column f % {COLS} in both grids (filter 0 top left); each map is scaled "
           "to its own maximum. Click a map to look at it up close below; hover a kernel for its filter number.")

# --- one filter up close and one pixel's arithmetic ------------------------------------------------
st.subheader("One filter up close")
strength = out.array[0].max(axis=(0, 1))
f = st.number_input(f"Filter (0-{n_filters - 1})", 0, n_filters - 1, int(strength.argmax()), key=f"conv_f_{name}",
                    help="Starts at the filter that responds most strongly to this digit.")
fmap = out.array[0, ..., f]
H, W = fmap.shape
peak_r, peak_c = np.unravel_index(int(fmap.argmax()), fmap.shape)
p1, p2 = st.columns(2)
r = p1.slider("Output row", 0, H - 1, int(peak_r), key=f"conv_row_{name}")
c = p2.slider("Output column", 0, W - 1, int(peak_c), key=f"conv_col_{name}")
stride = int(layer.strides[0])
px_ = conv_inspect.conv_pixel(x_in, kernel, bias, r, c, f, layer.padding, act, stride)
contrib_ch = int(np.abs(px_.per_channel).argmax())
show_ch = 0
if c_in > 1:
    show_ch = st.selectbox("Input channel to look at", range(c_in), index=contrib_ch, key=f"conv_showch_{name}",
                           help="Starts at the channel that contributes most to this pixel.")
pad_before = ca.axis_padding(x_in.shape[0], k, stride, layer.padding)[0]  # rows of zeros above the input

u1, u2, u3 = st.columns(3)
with u1:
    fig = figures.heatmap(x_in[..., show_ch], title=f"Input {src}" + (f", channel {show_ch}" if c_in > 1 else ""),
                          height=330)
    st.plotly_chart(figures.outline(fig, r * stride - pad_before, c * stride - pad_before, k, k), width="stretch",
                    key="conv_input")
with u2:
    fig = figures.heatmap(kernel[:, :, show_ch, f], title=f"Kernel of filter {f}" + (f" [:, :, {show_ch}]" if c_in > 1 else ""),
                          diverging=True, height=330, text=k <= 7, hover="weight %{z:.3f}")
    st.plotly_chart(fig, width="stretch", key="conv_kernel_big")
with u3:
    fig = figures.conv.pickable_cells(figures.heatmap(fmap, title=f"Feature map {f}: click a pixel", height=330), fmap,
                                      "output")
    st.plotly_chart(figures.outline(fig, r, c), width="stretch", key="conv_map_big",
                    on_select=partial(_pick_cell, "conv_map_big", name), selection_mode="points")
st.caption("Click a pixel of the feature map (or move the row and column sliders): the orange square on the input "
           "is the window the kernel covers for it, and the red one on the digit below is all it depends on. "
           + ("Outside the image the padding is 0." if layer.padding == "same" else ""))

field = rf.field_of(am.model, name)
top, bottom, left, right = field.window(r, c)
v1, v2 = st.columns([1, 2])
v1.plotly_chart(figures.outline(figures.heatmap(digit.image.reshape(28, 28), title=f"Where unit ({r}, {c}) looks",
                                                height=330, hover="pixel %{z:.2f}"),
                                top, left, bottom - top, right - left, colour="#f03e3e"),
                width="stretch", key="conv_field")
v2.markdown(
    f"**Receptive field.** One {name} unit depends on a **{field.size[0]}×{field.size[1]}** patch of the digit "
    f"(red on the left; clipped at the border: rows {top}–{bottom - 1}, columns {left}–{right - 1}); neighbouring "
    f"units' patches start {field.jump[0]} pixel(s) apart. Each layer widens it by its kernel (or pooling window) "
    "times the distance between the units it reads:\n\n"
    + "\n".join(f"- `{f_.layer}` ({f_.kind}): " + ("the whole image" if f_.whole else f"{f_.size[0]}×{f_.size[1]} pixels")
                for f_ in rf.fields(am.model) if f_.kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"))
)

st.markdown(f"#### How output pixel ({r}, {c}) of filter {f} is computed")
a1, a2, a3 = st.columns(3)
a1.plotly_chart(figures.heatmap(px_.window[..., show_ch], title="Window (padded input)", height=300, text=k <= 7),
                width="stretch", key="conv_window")
a2.plotly_chart(figures.heatmap(px_.weights[..., show_ch], title="× Weights", diverging=True, height=300, text=k <= 7),
                width="stretch", key="conv_weights")
a3.plotly_chart(figures.heatmap(px_.products[..., show_ch], title="= Products", diverging=True, height=300, text=k <= 7),
                width="stretch", key="conv_products")
if c_in > 1:
    st.plotly_chart(figures.conv.channel_contributions(px_.per_channel, show_ch, src), width="stretch",
                    key="conv_contrib")
keras_value = float(out.array[0, r, c, f])
terms = f"sum over {k}×{k}×{c_in} = {k * k * c_in} products" if c_in > 1 else f"sum of the {k * k} products"
st.markdown(
    f"{terms} = **{px_.total:.4f}** &nbsp;→&nbsp; + bias {px_.bias:.4f} = **{px_.pre_activation:.4f}** "
    f"&nbsp;→&nbsp; {act}(…) = **{px_.output:.4f}**"
)
if abs(px_.output - keras_value) <= 1e-4 * max(1.0, abs(keras_value)):
    st.success(f"Keras' own {name} output at ({r}, {c}, {f}) is {keras_value:.4f}: the same number.",
               icon=":material/check_circle:")
else:
    st.warning(f"Keras' {name} output here is {keras_value:.4f}, which differs from the hand computation.")

# --- random versus trained ----------------------------------------------------------------------------
st.subheader("Random versus trained")
if st.toggle("Compare with the same network before training (random weights)", key="conv_random"):
    if am.config is None:
        st.info("The active model's architecture is unknown, so no untrained copy can be built.")
    else:
        rm = untrained_model(am.config)
        rsd = activations.stage_dict(rm, digit.image)
        rk, _ = conv_inspect.kernels(rm.get_layer(name))
        t1, t2 = st.columns(2)
        t1.plotly_chart(figures.mosaic(out.array[0], cols=COLS, title="Trained: feature maps", height=grid_h),
                        width="stretch", key="conv_trained_maps")
        t2.plotly_chart(figures.mosaic(rsd[name].array[0], cols=COLS, title="Random: feature maps", height=grid_h),
                        width="stretch", key="conv_random_maps")
        t3, t4 = st.columns(2)
        t3.plotly_chart(figures.conv.kernel_mosaic(kernel, in_ch, "Trained kernels", grid_h, COLS), width="stretch",
                        key="conv_trained_k")
        t4.plotly_chart(figures.conv.kernel_mosaic(rk, in_ch, "Random kernels", grid_h, COLS), width="stretch",
                        key="conv_random_k")
        rp = rsd[rm.layers[-1].name].array[0]
        st.caption(
            f"Same input, same architecture, freshly initialised weights: the random kernels are unstructured noise, "
            f"so their maps are smeared, mixed copies of the input; training shapes kernels that pick out particular "
            f"strokes and edges. The random network says {int(rp.argmax())} with {rp.max():.0%}."
        )
else:
    st.caption("Training is what turns noise into edge and stroke detectors. Switch on to see the difference.")

# --- switch filters off -------------------------------------------------------------------------------
st.subheader("Switch a filter off")
off = st.multiselect(f"Filters of {name} to zero", list(range(n_filters)), default=[int(f)], key=f"conv_off_{name}",
                     help="Their feature maps are set to 0 and the rest of the network runs on the edited tensor.")
before = sd[am.model.layers[-1].name].array[0]
o1, o2 = st.columns(2)
o1.plotly_chart(figures.probability_bars(before, title="All filters on", true_label=digit.label, height=280),
                width="stretch", key="conv_before")
if off:
    after = activations.run_from(am.model, name, conv_inspect.zero_channel(out.array, off))[-1].array[0]
    o2.plotly_chart(figures.probability_bars(after, title=f"With {len(off)} filter(s) off", true_label=digit.label,
                                             height=280), width="stretch", key="conv_after")
    pred = int(before.argmax())
    st.caption(f"Probability of {pred}: {before[pred]:.1%} → {after[pred]:.1%}. One filter rarely matters much: the "
               "network spreads what it knows over many; switch several off to see it break.")
else:
    o2.info("Pick one or more filters to switch off.")

npy_download(out.array, f"{name}'s output", name, "conv_download")

# --- what excites this filter most ----------------------------------------------------------------------
st.subheader("What excites this filter most")
patches = exciting.top_patches(am.model, exciting_summary(am.id, am.model), dataset().x_test[:MAP_DIGITS], name, int(f), 8)
st.plotly_chart(figures.training.digit_gallery(exciting.patch_tiles(patches), [f"#{p.digit}: {p.activation:.2f}" for p in patches],
                                               cols=len(patches)), width="stretch", key="conv_top_patches")
st.caption(
    f"The {len(patches)} places among the first {min(MAP_DIGITS, len(dataset().x_test)):,} test digits where filter {f} of "
    f"`{name}` answers most strongly, at most one per digit, strongest first: each tile is the "
    f"{patches[0].framed.shape[0]}×{patches[0].framed.shape[1]} patch of the digit that unit sees (its receptive field), "
    "blown up, with the digit's index in the test split and the filter's output there above it. Where the field "
    "reaches past the image edge it is black (the padding's 0); grey around a small patch is only a border."
)

unfamiliar_layers(__file__, am, list(sd.values()))
next_link(__file__, am.model)
