"""Convolution playground: convolution, pooling and parameter counts on grids small enough to read every number.

Lesson outline: 1. convolution by hand (input, kernel, stride, padding → padded input, output,
one window written out, the same through Keras); 2. pooling by hand (max/average, why max pads
with −∞); 3. counting parameters (the course's examples, counted by Keras).
The arithmetic is ``mnistviz.convarith``; this page only lays it out.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import streamlit as st

from mnistviz import convarith as ca
from mnistviz.figures.conv import number_grid
from pages.shared import dataset

HIGHLIGHT = "#f08c00"  # the current window, on the input and on the output
BIG = 9  # grids wider than this get a row of their own
POOL_COLOURS = ["#e03131", "#1971c2", "#2f9e44", "#f08c00", "#9c36b5", "#0c8599", "#e8590c", "#5c940d"]

INPUTS = {
    "edge": "Course: 6×5 horizontal edge",
    "letters": "Course: 3×3 (a b c / d e g / h j k)",
    "digit": "A digit, shrunk to 14×14",
    "own": "My own numbers",
}
KERNELS = {**{k: k.capitalize() for k in ca.PRESET_KERNELS},
           "letters": "Course: 2×2 (f₁ f₂ / f₃ f₄)", "own": "My own numbers"}


# --- cached Keras (the first import of TensorFlow takes a few seconds) ----------------------------------

@st.cache_data(show_spinner="Running the same numbers through Keras…", max_entries=64)
def keras_conv(image: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    return ca.keras_conv2d(image, kernel, stride, padding)


@st.cache_data(show_spinner="Running the same numbers through Keras…", max_entries=64)
def keras_pool(image: np.ndarray, pool: int, stride: int, padding: str, mode: str) -> np.ndarray:
    return ca.keras_pool2d(image, pool, stride, padding, mode)


@st.cache_data(show_spinner="Building the layers in Keras…", max_entries=64)
def keras_params(input_shape: tuple[int, int, int], k: int, filters: int) -> int:
    return ca.keras_param_count(input_shape, k, filters)


# --- picking the numbers -------------------------------------------------------------------------------

def editor_grid(default: np.ndarray, key: str, what: str) -> np.ndarray:
    """An editable grid of numbers (st.data_editor), parsed into floats; ``ConvError`` names a bad cell.

    The cells are text columns: the data editor's number cells ignore a "-" typed into a selected
    cell (typing -1 gave 1), and edge kernels need negative numbers. ``parse_grid`` reads the text.
    """
    cells = [[f"{v:g}" for v in row] for row in np.asarray(default, dtype=np.float64)]
    df = pd.DataFrame(cells, columns=[str(c) for c in range(default.shape[1])])
    edited = st.data_editor(df, key=key, hide_index=False, width="content",
                            column_config={c: st.column_config.TextColumn(c, width="small") for c in df.columns})
    return ca.parse_grid(edited.to_numpy(dtype=object), what)


def pick_input(choice: str, editor_area) -> np.ndarray:
    if choice == "edge":
        return ca.EDGE_IMAGE.copy()
    if choice == "letters":
        st.caption("a=1, b=2, c=3 / d=4, e=5, g=6 / h=7, j=8, k=9")
        return ca.LETTER_IMAGE.copy()
    if choice == "digit":
        ds = dataset()
        i = st.number_input("Test digit", 0, len(ds.x_test) - 1, 0, key="pg_digit",
                            help="Which digit of the test split; 2×2 blocks of pixels are averaged (0-255).")
        st.caption(f"True label {int(ds.y_test[i])}.")
        return np.rint(ca.block_average(ds.x_test[int(i)], 2))
    c1, c2 = st.columns(2)
    rows = c1.number_input("Rows", 2, 10, 5, key="pg_rows")
    cols = c2.number_input("Columns", 2, 10, 5, key="pg_cols")
    start = np.zeros((rows, cols))
    start[:, cols // 2] = 100.0  # a vertical bar to start from
    with editor_area:
        st.markdown("**Your input** (type a number in any cell)")
        return editor_grid(start, f"pg_own_input_{rows}x{cols}", "input")


def pick_kernel(choice: str, editor_area) -> np.ndarray:
    if choice == "letters":
        st.caption("f₁=1, f₂=0 / f₃=0, f₄=−1")
        return ca.LETTER_KERNEL.copy()
    size = st.slider("Kernel size", 2, 5, 3, key="pg_ksize")
    if choice == "own":
        with editor_area:
            st.markdown("**Your kernel**")
            return editor_grid(ca.preset_kernel("horizontal edge", size), f"pg_own_kernel_{size}", "kernel")
    return ca.preset_kernel(choice, size)


# --- 1. convolution ------------------------------------------------------------------------------------

def convolution_section() -> ca.ConvResult | None:
    st.header("1 · Convolution by hand")
    st.markdown("Lay the kernel on the top-left corner of the input, multiply the numbers that sit on top of "
                "each other, add the products: that is one output number. Move the kernel by the **stride** and "
                "repeat. **Padding** adds zeros around the input first. (Keras, like most libraries, does not flip "
                "the kernel: strictly this is a cross-correlation.)")
    c_in, c_ker, c_str, c_pad = st.columns([2.3, 2.3, 1.9, 2.5])
    with c_in:
        input_choice = st.selectbox("Input", list(INPUTS), format_func=INPUTS.get, key="pg_input")
    with c_ker:
        kernel_choice = st.selectbox("Kernel", list(KERNELS), format_func=KERNELS.get, key="pg_kernel")
    stride = c_str.radio("Stride", [1, 2, 3], horizontal=True, key="pg_stride")
    padding = c_pad.radio("Padding", list(ca.PADDINGS), horizontal=True, key="pg_padding",
                          help="valid: none · same: output as big as the input (stride 1) · full: k−1 zeros all round")
    ed_in, ed_ker = st.columns([3, 2])  # the editors for your own numbers get the full width
    try:
        with c_in:
            image = pick_input(input_choice, ed_in)
        with c_ker:
            kernel = pick_kernel(kernel_choice, ed_ker)
        res = ca.conv2d(image, kernel, stride, padding)
    except ca.ConvError as exc:
        st.error(f"Cannot convolve: {exc}")
        return None

    fh, fw = res.formulas()
    oh, ow = res.output.shape
    top, bottom, left, right = res.pads
    pad_note = {"valid": "no padding",
                "same": f"{top} row(s) on top, {bottom} at the bottom, {left} column(s) left, {right} right",
                "full": f"k − 1 = {res.kernel.shape[0] - 1} all round"}[padding]
    st.markdown(f"**Output size** = ⌊(n + 2p − k)/s⌋ + 1 · rows: {fh} · columns: {fw} → **{oh}×{ow}** "
                f"(padding: {pad_note}).")
    if padding == "same" and (top != bottom or left != right):
        st.caption("Keras pads 'same' so the output is ⌈n/s⌉ long; when the zeros needed are odd, the extra one "
                   "goes at the bottom/right. We pad exactly like Keras.")

    cells = [(i, j) for i in range(oh) for j in range(ow)]
    labels = [f"row {i}, col {j}" for i, j in cells]  # select_slider would read a tuple value as a range
    strongest = np.unravel_index(int(np.argmax(np.abs(res.output))), res.output.shape)
    default = labels[cells.index((int(strongest[0]), int(strongest[1])))]  # worked example: the first 6000
    st.subheader("Follow one window")
    c1, c2 = st.columns([4, 1])
    signature = (res.image.tobytes(), res.kernel.tobytes(), stride, padding)
    if st.session_state.get("pg_cell_for") != signature or st.session_state.get("pg_cell_slider") not in labels:
        st.session_state["pg_cell_for"] = signature  # a new convolution: start on its strongest answer
        st.session_state["pg_cell_slider"] = default
    label = c1.select_slider("Output cell", labels, key="pg_cell_slider",
                             help="Which output number to explain; the window moves with it.")
    cell = cells[labels.index(label)]
    play = c2.button("▶ Play", key="pg_play", help="Slide the window over every position, row by row.")
    place = st.empty()
    if play:
        for n, rc in enumerate(cells):
            with place.container():
                show_window(res, rc, f"anim{n}")
            time.sleep(0.35 if len(cells) <= 30 else 0.12)
    with place.container():
        show_window(res, cell, "still")

    with st.spinner("Running the same numbers through Keras…"):
        theirs = keras_conv(res.image, res.kernel, stride, padding)
    diff = float(np.max(np.abs(theirs - res.output))) if theirs.shape == res.output.shape else math.inf
    kh, kw = res.kernel.shape
    line = (f"layers.Conv2D(1, ({kh}, {kw}), strides={stride}, padding={padding!r})"
            if padding != "full" else
            f"layers.Conv2D(1, ({kh}, {kw}), strides={stride}, padding='valid')  # on the input zero-padded by {kh - 1}")
    st.subheader("The same through a real Keras layer")
    st.code(f"{line}\nlayer.set_weights([kernel.reshape({kh}, {kw}, 1, 1), [0.0]])", language="python")
    if diff <= 1e-3 * max(1.0, float(np.max(np.abs(res.output)))):
        st.success(f"keras.layers.Conv2D gives the same {oh}×{ow} grid (largest difference {diff:.2g}, "
                   "float32 rounding).")
    else:
        st.error(f"Keras disagrees (largest difference {diff:.3g}): please report this.")
    with st.expander("Keras' output, number by number"):
        st.plotly_chart(number_grid(theirs, "keras.layers.Conv2D output"), width="stretch", key="pg_keras_out")
    return res


def show_window(res: ca.ConvResult, cell: tuple[int, int], tag: str) -> None:
    """The padded input with the window, the kernel, the output with the cell, and the sum written out."""
    win = res.window(*cell)
    kh, kw = res.kernel.shape
    top, _, left, _ = res.pads
    h, w = res.image.shape
    padded_title = "Input" if res.padding == "valid" else f"Padded input ({res.padding}; dashed = the image)"
    if max(res.padded.shape[1], res.output.shape[1]) > BIG:  # too many numbers side by side: one grid per row
        c2, c_text = st.columns([1, 3])
        c1 = c3 = st.container()
    else:
        c1, c2, c3 = st.columns([res.padded.shape[1] + 1, max(kw + 2, 4), res.output.shape[1] + 1])
        c_text = st.container()
    c2.plotly_chart(number_grid(res.kernel, "Kernel"), width="stretch", key=f"pg_k_{tag}")
    c1.plotly_chart(number_grid(res.padded, padded_title, "gray",
                                frame=None if res.padding == "valid" else (top, left, h, w),
                                boxes=[(win.top, win.left, kh, kw, HIGHLIGHT, 0.0)]),
                    width="stretch", key=f"pg_in_{tag}")
    c3.plotly_chart(number_grid(res.output, "Output", boxes=[(cell[0], cell[1], 1, 1, HIGHLIGHT, 0.0)]),
                    width="stretch", key=f"pg_out_{tag}")
    c_text.markdown(f"**Output row {cell[0]}, col {cell[1]}** (window rows {win.top}–{win.top + kh - 1}, "
                f"cols {win.left}–{win.left + kw - 1} of the {'padded ' if res.padding != 'valid' else ''}input):")
    c_text.code(ca.products_text(win), language=None, wrap_lines=True)


# --- 2. pooling ----------------------------------------------------------------------------------------

POOL_INPUTS = {"negative": "All-negative 3×3 (−∞ matters)", "edge": "Course: 6×5 horizontal edge",
               "conv": "The convolution output above", "digit": "A digit, shrunk to 14×14"}


def pooling_section(conv: ca.ConvResult | None) -> None:
    st.header("2 · Pooling by hand")
    st.markdown("Pooling has no weights: each window is just reduced to one number, its **largest** value "
                "(max pooling) or its **mean** (average pooling). Keras moves the window by the pool size "
                "unless told otherwise.")
    c1, c2, c3, c4, c5 = st.columns([2.3, 1.9, 1.4, 1.9, 1.8])
    source = c1.selectbox("Input", list(POOL_INPUTS), format_func=POOL_INPUTS.get, key="pg_pool_input")
    mode = c2.radio("Pooling", list(ca.POOL_MODES), horizontal=True, key="pg_pool_mode")
    pool = c3.radio("Pool size", [2, 3], horizontal=True, key="pg_pool_size")
    stride = c4.radio("Stride", [1, 2, 3], index=1, horizontal=True, key="pg_pool_stride")
    padding = c5.radio("Padding", list(ca.POOL_PADDINGS), index=1, horizontal=True, key="pg_pool_padding")
    if source == "negative":
        image = ca.NEGATIVE_IMAGE
    elif source == "edge":
        image = ca.EDGE_IMAGE
    elif source == "digit":
        ds = dataset()
        image = np.rint(ca.block_average(ds.x_test[int(st.session_state.get("pg_digit", 0))], 2))
    elif conv is not None:
        image = conv.output
    else:
        st.info("The convolution above has no output; showing the all-negative grid instead.")
        image = ca.NEGATIVE_IMAGE
    try:
        res = ca.pool2d(image, pool, stride, padding, mode)
    except ca.ConvError as exc:
        st.error(f"Cannot pool: {exc}")
        return

    top, _, left, _ = res.pads
    h, w = res.image.shape
    wins = res.windows()
    boxes_in = [(wn.top, wn.left, pool, pool, POOL_COLOURS[n % len(POOL_COLOURS)], 0.08) for n, wn in enumerate(wins)]
    boxes_out = [(wn.row, wn.col, 1, 1, POOL_COLOURS[n % len(POOL_COLOURS)], 0.08) for n, wn in enumerate(wins)]
    fh, fw = res.formulas()
    st.markdown(f"**Output size** · rows: {fh} · columns: {fw}.")
    pad_word = "−∞" if mode == "max" else "left out (·)"
    if max(res.padded.shape[1], res.output.shape[1]) > BIG:
        a = b = st.container()
    else:
        a, b = st.columns([res.padded.shape[1] + 1, res.output.shape[1] + 2])
    a.plotly_chart(number_grid(res.padded, f"Input, padding {pad_word}, each window its own colour", "gray",
                               frame=None if padding == "valid" else (top, left, h, w), boxes=boxes_in),
                   width="stretch", key="pg_pool_in")
    b.plotly_chart(number_grid(res.output, f"{mode.capitalize()} pooled", boxes=boxes_out),
                   width="stretch", key="pg_pool_out")
    shown = wins[:12]
    st.code("\n".join(f"({wn.row},{wn.col})  {ca.pool_text(wn, mode)}" for wn in shown)
            + ("\n…" if len(wins) > len(shown) else ""), language=None)

    # why −∞
    if mode == "max" and padding == "same" and any(res.pads):
        zero = ca.pool2d(image, pool, stride, padding, mode, pad_value=0.0)
        if not np.array_equal(zero.output, res.output):
            st.warning("**Why −∞?** Padded with 0 instead, these windows would report 0, a number that is not in "
                       "the input at all, because every real value there is negative:")
            st.plotly_chart(number_grid(zero.output, "Max pooled, padding 0 (wrong)"), width="stretch",
                            key="pg_pool_zero")
        else:
            st.info("**Why −∞?** −∞ is smaller than every number, so a padded cell never wins a max. Here the values "
                    "are positive, so padding with 0 would give the same answer; pick the all-negative grid to see "
                    "where it does not.")
    elif mode == "average" and padding == "same" and any(res.pads):
        st.info("Average pooling in Keras does not count padded cells: a border window of 2 real numbers is "
                "divided by 2, not by the window size.")

    with st.spinner("Running the same numbers through Keras…"):
        theirs = keras_pool(res.image, pool, stride, padding, mode)
    cls = "MaxPooling2D" if mode == "max" else "AveragePooling2D"
    same = theirs.shape == res.output.shape and np.allclose(theirs, res.output, rtol=1e-5, atol=1e-4)
    msg = f"keras.layers.{cls}(pool_size={pool}, strides={stride}, padding={padding!r})"
    (st.success if same else st.error)(f"{msg} gives {'the same grid' if same else 'a different grid: please report this'}.")


# --- 3. parameters -------------------------------------------------------------------------------------

def parameters_section() -> None:
    st.header("3 · Counting parameters")
    st.markdown("A Conv2D filter is one weight per kernel cell **per input channel**, plus one bias, and the "
                "same filter is reused at every position. So the count is **(k·k·c_in + 1)·filters**, whatever the "
                "image's height and width. Each row below is counted by building the layer in Keras "
                "(`keras.Input` → `Conv2D` → `count_params()`).")
    rows = []
    for ex in ca.COURSE_PARAM_EXAMPLES:
        h, w, c = ex.input_shape
        rows.append({"example": ex.description, "input (H×W×C)": f"{h}×{w}×{c}",
                     "Keras layer": f"Conv2D({ex.filters}, ({ex.kernel_size}, {ex.kernel_size}))",
                     "(k·k·c_in + 1)·filters": ca.params_formula(ex.kernel_size, c, ex.filters),
                     "Keras count_params()": keras_params(ex.input_shape, ex.kernel_size, ex.filters)})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")

    st.markdown("**Try your own**")
    c1, c2, c3, c4 = st.columns(4)
    k = c1.slider("Kernel size k", 1, 7, 3, key="pg_p_k")
    c_in = c2.selectbox("Input channels", [1, 3, 32, 64], key="pg_p_c", help="1 = grey, 3 = RGB, more = a deeper layer")
    filters = c3.number_input("Filters", 1, 128, 32, key="pg_p_f")
    side = c4.selectbox("Image size", [28, 100, 1000], key="pg_p_side")
    if k > side:
        st.error(f"A {k}×{k} kernel does not fit a {side}×{side} image.")
        return
    counted = keras_params((side, side, c_in), k, int(filters))
    st.markdown(f"{ca.params_formula(k, c_in, int(filters))} · Keras counts **{counted:,}**.")


# --- the page ------------------------------------------------------------------------------------------

st.title("Convolution playground")
st.markdown("Grids small enough to read every number. It opens on the course's worked example: a horizontal "
            "edge (rows of 200 over rows of 0) found by the kernel 10 10 10 / 0 0 0 / −10 −10 −10. "
            "The rows that straddle the edge light up with 6000; the flat rows give 0.")
conv_result = convolution_section()
st.divider()
pooling_section(conv_result)
st.divider()
parameters_section()
