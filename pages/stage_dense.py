"""6 · Dense and dropout: 1024 units each looking at all of pool2, and dropout, which only acts in training."""

import keras
import numpy as np
import streamlit as st

from mnistviz import exciting, figures
from mnistviz import dense_inspect as di
from pages.components import keras_line, npy_download, stage_page, unfamiliar_layers
from pages.shared import MAP_DIGITS, dataset, exciting_summary, next_link, stage_header

COURSE_DENSE = "dense = tf.keras.layers.Dense(1024, activation='relu', name='dense')(pool2_flat)"
COURSE_DROPOUT = "dropout = tf.keras.layers.Dropout(rate=0.4)(dense, training=is_training)"
TOP_DIGITS = 8


digit, am, stages = stage_page("6 · Dense and dropout")
by_name = {s.name: s for s in stages}
blocks = di.hidden_dense_blocks([s.kind for s in stages], [s.name for s in stages])

if not blocks:
    st.info(
        f"The active model ({am.label}) has no hidden dense layer: its last feature maps go straight to the "
        "10 logits. Pick the default model in the sidebar to see the course's 1024-unit layer.",
        icon=":material/info:",
    )
    next_link(__file__, am.model)
    st.stop()

if len(blocks) > 1:
    names = [b.dense for b in blocks]
    pick = st.segmented_control("Hidden dense layer", names, default=names[0], key="dense_layer_pick") or names[0]
    block = blocks[names.index(pick)]
else:
    block = blocks[0]

dense_stage = by_name[block.dense]
out_stage = by_name[block.output]
act = out_stage.array[0]
units = act.size
layer = am.model.get_layer(block.dense)
assert isinstance(layer, keras.layers.Dense)
source = block.source or "the 784 input pixels"

st.markdown(
    f"Every one of the {units:,} units is connected to **all** {layer.kernel.shape[0]:,} values of "
    f"`{source}`: it multiplies each by its own weight, adds them up with a bias, and applies "
    f"{'ReLU (negative sums become 0)' if layer.activation.__name__ == 'relu' else layer.activation.__name__}. "
    "The course calls this aggregating the features before turning them into logits."
)
stage_header(dense_stage, keras_line(am.config, block.dense, COURSE_DENSE))
if block.output != block.dense:
    st.caption(f"This model normalises the sums first; the activations below are read at `{block.output}`.")

# --- the activations ---------------------------------------------------------------------------------
n_active = int((act > 0).sum())
m1, m2, m3 = st.columns(3)
m1.metric("Active units (> 0)", f"{n_active:,} of {units:,}", help="ReLU sets every negative sum to exactly 0.")
m2.metric("Strongest unit", f"#{int(act.argmax())}", help=f"activation {float(act.max()):.3f}")
m3.metric("Largest activation", f"{float(act.max()):.3f}")
grid_r, grid_c = di.grid_shape(units)
g1, g2 = st.columns([1, 1])
g1.plotly_chart(figures.dense.unit_grid(act, title=f"{units:,} units on a {grid_r}×{grid_c} grid", height=430),
                width="stretch", key="dense_grid")
g2.plotly_chart(figures.dense.sorted_bars(act, title="the same units, sorted", height=430),
                width="stretch", key="dense_sorted")
st.caption("The grid order means nothing (unit 0 top left, row by row); hover a cell for its unit number.")

# --- dropout ----------------------------------------------------------------------------------------
st.subheader("Dropout")
if block.dropout is None:
    st.info(f"The active model has no dropout after `{block.dense}`.", icon=":material/info:")
else:
    drop_stage = by_name[block.dropout]
    drop_layer = am.model.get_layer(block.dropout)
    assert isinstance(drop_layer, keras.layers.Dropout)
    rate = float(drop_layer.rate)
    stage_header(drop_stage, keras_line(am.config, block.dropout, COURSE_DROPOUT))
    st.markdown(
        f"While training, each step throws away a random {rate:.0%} of the units (sets them to 0) and scales "
        f"the survivors by 1/(1 − {rate}) = {1 / (1 - rate):.3f}, so the layer's total stays the same on average. "
        "No unit can count on a particular neighbour, which fights overfitting. When the model is used to "
        "predict, dropout does nothing."
    )
    training = st.toggle("Show one training step", value=False, key="dropout_training")
    if training:
        seed = int(st.number_input("Random seed of this step", 0, 10_000, 0, key="dropout_seed",
                                   help="Each training step draws a new mask; change the seed to see another."))
        dropped_out, keep = di.apply_dropout(act, rate, seed)
        d1, d2, d3 = st.columns(3)
        d1.metric("Units zeroed", f"{int((~keep).sum()):,} of {units:,}", f"{(~keep).mean():.1%} (rate {rate:.0%})",
                  delta_color="off", delta_arrow="off")
        d2.metric("Survivors scaled by", f"× {1 / (1 - rate):.3f}")
        d3.metric("Sum of the layer", f"{float(dropped_out.sum()):.1f}", f"{float(act.sum()):.1f} without dropout",
                  delta_color="off", delta_arrow="off")
        zmax = float(dropped_out.max()) or 1.0
        t1, t2 = st.columns(2)
        t1.plotly_chart(figures.dense.unit_grid(act, title="inference: what the next layer gets", zmax=zmax, height=400),
                        width="stretch", key="dropout_before")
        t2.plotly_chart(figures.dense.unit_grid(dropped_out, title=f"training step (seed {seed}): grey = dropped",
                                            zmax=zmax, dropped=~keep, height=400),
                        width="stretch", key="dropout_after")
        st.caption("Same colour scale on both sides: the survivors on the right are brighter by the rescale.")
    else:
        same = np.array_equal(drop_stage.array, out_stage.array)
        if same:
            st.success(f"Inference: the model's `{block.dropout}` stage is identical to `{block.output}`, "
                       "value for value. Switch on the toggle to see a training step.", icon=":material/check:")
        else:
            st.warning(f"The `{block.dropout}` stage differs from `{block.output}` at inference.")

# --- what a unit looks for ---------------------------------------------------------------------------
st.subheader("What does one unit look for?")
kinds = [s.kind for s in stages]
shape, src_pos = di.incoming_shape(kinds, [s.shape for s in stages], block.index)
src_name = stages[src_pos].name if src_pos is not None else "input image"
kernel = layer.kernel.numpy()
bias = layer.bias.numpy() if layer.use_bias else np.zeros(units, np.float32)
unit_key = f"dense_unit_{block.dense}_{units}"
if unit_key not in st.session_state:
    st.session_state[unit_key] = int(act.argmax())


def _pick_top() -> None:
    choice = st.session_state.get("dense_top_pick")
    if choice is not None:
        st.session_state[unit_key] = int(choice)


top = [int(u) for u in di.top_units(act, 8)]
st.pills("Most active units for this input", top, format_func=lambda u: f"#{u} ({act[u]:.2f})",
         key="dense_top_pick", on_change=_pick_top)
unit = int(st.number_input(f"Unit (0 … {units - 1})", 0, units - 1, key=unit_key))
w_unit = di.unit_weights(kernel, unit, shape)
z = di.unit_preactivation(kernel, bias, by_name[block.source].array if block.source else digit.image, unit) \
    if block.output == block.dense else None

st.markdown(
    f"Unit #{unit} has one weight for each of the {kernel.shape[0]:,} values it reads. Put back into the shape "
    f"`{src_name}` had ({' × '.join(map(str, shape))}), they show where it wants activity (red) and where "
    "activity counts against it (blue)."
)
u1, u2 = st.columns([3, 1])
if len(shape) == 3:
    fig = figures.dense.block_mosaic(w_unit, diverging=True, height=480, value_name="weight",
                                 title=f"unit #{unit}: its {w_unit.size:,} weights as {shape[2]} maps of {shape[0]}×{shape[1]}")
else:
    fig = figures.dense.block_mosaic(di.as_grid(w_unit)[..., None], diverging=True, height=480, value_name="weight",
                                 title=f"unit #{unit}: its {w_unit.size:,} weights (one per unit of {src_name})")
u1.plotly_chart(fig, width="stretch", key="dense_unit_weights")
with u2:
    rank = int((act > act[unit]).sum()) + 1
    st.metric("Fires for this input", f"{float(act[unit]):.3f}", f"rank {rank} of {units:,}",
              delta_color="off", delta_arrow="off")
    st.metric("Bias", f"{float(bias[unit]):.3f}")
    if z is not None:
        st.markdown(f"Σ weight·input + bias = **{z:.3f}**  \nReLU({z:.3f}) = **{max(z, 0.0):.3f}**")
    if len(shape) == 3:
        st.caption("Each small map pairs with the same channel of the block on the Flatten page.")

st.markdown(f"#### The test digits that excite unit #{unit} most")
top_idx, top_act = exciting.top_digits(exciting_summary(am.id, am.model), block.output, unit, TOP_DIGITS)
st.plotly_chart(figures.training.digit_gallery(dataset().x_test[top_idx], [f"#{i}: {a:.2f}" for i, a in zip(top_idx, top_act)],
                                               cols=TOP_DIGITS), width="stretch", key="dense_unit_digits")
st.caption(
    f"Of the first {min(MAP_DIGITS, len(dataset().x_test)):,} test digits, these make unit #{unit} fire hardest "
    f"(above each: its index in the test split and the unit's activation `{block.output}`)."
    + (" It never fires for any of them: a dead unit." if float(top_act[0]) <= 0 else "")
    + f" The weight tiles look like noise because each weight only says how much one of the {kernel.shape[0]:,} "
    f"values of `{src_name}` counts, and the unit answers to a mix of very many of them; the digits show that mix at work."
)

npy_download(out_stage.array, f"the {block.output} activations", block.output, "dl_dense")
npy_download(w_unit, f"unit #{unit}'s weights", f"{block.dense}_unit{unit}_weights", "dl_unit")

st.divider()
unfamiliar_layers(__file__, am, stages)
next_link(__file__, am.model)
