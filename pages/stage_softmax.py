"""7 · Logits and softmax: ten scores, turned into ten probabilities, and the loss training pushes down."""

import numpy as np
import pandas as pd
import streamlit as st

from mnistviz import figures
from mnistviz import dense_inspect as di
from pages.components import keras_line, npy_download, stage_page
from pages.shared import stage_header

COURSE_LOGITS = "logits = tf.keras.layers.Dense(self.output_size, name='logits')(dropout)"
COURSE_SOFTMAX = "self.probs = tf.nn.softmax(logits, name='probs')"

LEARNING_RATES = [1e-4, 1e-3, 1e-2, 1e-1]


@st.fragment
def one_training_step(am, digit, pred: int) -> None:
    """Backpropagation for this input: the loss, the gradient of the first conv layer's kernels and the kernels
    after one step, computed when asked (on a copy of the model: nobody's model changes)."""
    from mnistviz import backprop
    from mnistviz.figures.images import diverging_mosaic_rgb, png_bytes
    from pages.shared import dataset

    st.subheader("One training step: how the loss moves the weights")
    st.markdown(
        "Training is this, repeated: work out the loss for a digit and its label, find how the loss changes "
        "with every weight (the **gradient**, by backpropagation, which runs the chain rule backwards through "
        "the layers), and move each weight a little against its gradient: **w ← w − learning rate · ∂L/∂w**."
    )
    c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="bottom")
    label = c1.selectbox("Label to learn", list(range(10)), index=digit.label if digit.label is not None else pred,
                         key="step_label",
                         help="The true label; pick another one to see what a step does when the model is wrong.")
    rate = c2.select_slider("Learning rate", LEARNING_RATES, value=1e-3, key="step_rate", format_func=lambda v: f"{v:g}")
    # from the first press on the section follows its controls (a callback: it runs before the next run)
    c3.button("Take one step", icon=":material/footprint:", key="step_go", type="primary",
              on_click=st.session_state.__setitem__, args=("step_on", True))
    if not st.session_state.get("step_on"):
        st.caption("A digit the model already gets right with near certainty has a loss and a gradient of almost 0: "
                   "a step changes next to nothing. Pick another label to see a real step.")
        return
    step = backprop.one_step(am.model, digit.image, int(label), float(rate))
    m1, m2 = st.columns(2)
    m1.metric("Loss before", di.number_text(step.loss))
    m2.metric("Loss after one step", di.number_text(step.loss_after), di.number_text(step.loss_after - step.loss),
              delta_color="inverse")
    if step.kernel is not None:
        k1, k2, k3 = st.columns(3)
        for col, what, arr in ((k1, "kernels before", step.kernel), (k2, "their gradient ∂L/∂w", step.gradient),
                               (k3, "kernels after the step", step.kernel_after)):
            col.image(png_bytes(diverging_mosaic_rgb(arr[:, :, 0, :], cols=8, upscale=6)), width="stretch",
                      caption=f"{step.layer}'s {what} (input channel 0; blue −, red +, each to its own largest value)")
        change = float(np.abs(step.kernel_after - step.kernel).max() / max(np.abs(step.kernel).max(), 1e-12))
        st.caption(f"The largest kernel weight moved by {change:.2%} of the largest weight.")
    else:
        st.info("This model has no conv layer: the step changes its dense layers only.")
    ds = dataset()
    curves = backprop.learning_curve(am.model, digit.image, int(label), LEARNING_RATES,
                                     ds.x_test[:200].astype(np.float32) / 255.0, ds.y_test[:200], steps=2)
    st.plotly_chart(figures.training.learning_rate_demo(curves), width="stretch", key="step_curves")
    st.caption("Two steps on this one digit at each learning rate. Every rate lowers this digit's loss, a large one "
               "at once; the accuracy on 200 other test digits shows the price of a rate too high: it learns this "
               "digit and wrecks what the model knew. Training takes small steps over many digits.")


digit, am, stages = stage_page("7 · Logits and softmax")
kinds = [s.kind for s in stages]

if "Softmax" not in kinds or kinds.index("Softmax") == 0 or kinds[kinds.index("Softmax") - 1] != "Dense":
    st.info(f"The active model ({am.label}) does not end with a Dense layer of logits followed by a Softmax "
            "layer, so this page cannot show them separately.", icon=":material/info:")
    st.page_link("pages/draw.py", label="Draw your own digit", icon=":material/draw:")
    st.stop()

i_soft = kinds.index("Softmax")
soft_stage, logit_stage = stages[i_soft], stages[i_soft - 1]
z = logit_stage.array[0].astype(np.float64)
p_model = soft_stage.array[0]
pred = int(p_model.argmax())

# --- logits ------------------------------------------------------------------------------------------
st.markdown(
    f"The last dense layer has one unit per digit and no activation: its 10 outputs, the **logits**, are raw "
    f"scores, any real number, higher meaning \"more like this digit\". Input: {digit.description}."
)
stage_header(logit_stage, keras_line(am.config, logit_stage.name, COURSE_LOGITS))
st.plotly_chart(figures.dense.logit_bars(z, title="logits for this input", height=300), width="stretch", key="logit_bars")

# --- softmax -----------------------------------------------------------------------------------------
st.subheader("Softmax: scores → probabilities")
stage_header(soft_stage, keras_line(am.config, soft_stage.name, COURSE_SOFTMAX))
c1, c2 = st.columns([2, 1])
c1.plotly_chart(figures.probability_bars(p_model, title="probabilities (the model's softmax stage)", height=300,
                                         true_label=digit.label),
                width="stretch", key="proba_bars")
c2.metric("Predicted digit", str(pred), f"{float(p_model[pred]):.1%} sure", delta_color="off", delta_arrow="off")
if digit.label is not None:
    c2.metric("True label", str(digit.label), "right" if digit.label == pred else "wrong",
              delta_color="normal" if digit.label == pred else "inverse", delta_arrow="off")

t = di.softmax_terms(z)
st.markdown(
    "Softmax makes every score positive with the exponential, then divides by the total so the ten add up to 1:"
)
st.latex(r"p_k = \frac{e^{z_k}}{\sum_{j=0}^{9} e^{z_j}}")
shift_note = f" − {t.shift:.2f}" if t.shift else ""
if t.shift:
    st.caption(f"These logits are large, so every one is first lowered by the largest, {t.shift:.2f}: "
               "this cancels in the fraction and keeps e^z from overflowing.")
total = di.number_latex(t.total)
st.latex(
    rf"p_{{{pred}}} = \frac{{e^{{{z[pred]:.3f}{shift_note}}}}}{{{total}}} = "
    rf"\frac{{{di.number_latex(t.exps[pred])}}}{{{total}}} = {di.number_latex(t.probs[pred])}"
)
# Written out as text with 4 significant digits: a fixed number of decimals shows 0.000000 for every digit but
# the winner, while the runner-up's 2 × 10⁻⁶ is what the lesson is about.
table = pd.DataFrame({
    "digit": np.arange(len(z)),
    "logit z": z,
    f"e^(z{shift_note})": [di.number_text(v) for v in t.exps],
    "÷ sum = p": [di.number_text(v) for v in t.probs],
    "model's softmax": [di.number_text(v) for v in p_model.astype(np.float64)],
})
st.dataframe(table, hide_index=True, width="stretch",
             column_config={"logit z": st.column_config.NumberColumn(format="%.3f")})
runner_up = int(np.argsort(t.probs)[-2])
st.caption(f"Runner-up: {runner_up} with p = {di.number_text(t.probs[runner_up])}."
           + (" Probabilities this small are written as a number times a power of ten: 2 × 10⁻⁶ is 0.000002."
              if t.probs[runner_up] < 1e-3 else ""))
gap = float(np.abs(t.probs - p_model).max())
if gap < 1e-5:
    st.caption(f":material/check: Sum of the exponentials: {di.number_text(t.total)}. Softmax computed here from "
               "the logits "
               f"matches the model's softmax stage (largest difference {gap:.1e}).")
else:
    st.warning(f"Softmax from the logits differs from the model's softmax stage by up to {gap:.2e}.")

# --- cross-entropy -----------------------------------------------------------------------------------
st.subheader("Cross-entropy: how wrong is it?")
if digit.label is not None:
    true = int(digit.label)
    st.markdown(f"The true label of this test digit is **{true}**.")
else:
    true = int(st.selectbox("Which digit did you mean to draw?", list(range(10)), index=pred, key="softmax_true_label",
                            help="A drawing has no label; tell the page which digit it should be."))
p_true = float(np.exp(di.log_softmax(z)[true]))
loss = di.cross_entropy(z, true)
st.markdown(
    f"With the label as a one-hot vector (1 at digit {true}, 0 elsewhere), the course's softmax cross-entropy "
    "keeps only the probability of the true digit. Training nudges every weight to make this number smaller."
)
st.latex(rf"L = -\log p_{{{true}}} = -\log({di.number_latex(p_true)}) = {di.number_latex(loss)}")
l1, l2, l3 = st.columns(3)
l1.metric("Loss for this input", di.number_text(loss))
l2.metric("If certain and right", "0")
l3.metric("If it guessed 1 in 10", f"{np.log(10):.4f}", help="−log(0.1): ten equal probabilities")

npy_download(logit_stage.array, "the logits", logit_stage.name, "dl_logits")
npy_download(soft_stage.array, "the probabilities", soft_stage.name, "dl_softmax")

# --- play with softmax ---------------------------------------------------------------------------------
st.subheader("Play with softmax: edit the logits, change the temperature")
st.markdown(
    "Softmax depends only on the **differences** between the logits. Edit them below (they start as the model's "
    "for this input) and divide them by a **temperature** T before softmax: below 1 the largest logit takes "
    "nearly everything, above 1 the probabilities even out. The model itself always uses T = 1."
)
p1, p2 = st.columns([1, 2])
with p1:
    if st.session_state.get("softmax_logits_for") != digit.description:  # a new input starts from its own logits
        st.session_state["softmax_logits_for"] = digit.description
        st.session_state.pop("softmax_logits", None)
    edited = st.data_editor(pd.DataFrame({"digit": np.arange(len(z)), "logit": np.round(z, 3)}), hide_index=True,
                            disabled=["digit"], key="softmax_logits", width="stretch",
                            column_config={"logit": st.column_config.NumberColumn(format="%.3f", step=0.1)})
    temperature = st.select_slider("Temperature T", [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0], value=1.0,
                                   key="softmax_temperature")
played = edited["logit"].to_numpy(np.float64)
played = np.where(np.isfinite(played), played, z)  # an emptied cell counts as the model's logit
p_played = di.softmax_at(played, temperature)
p2.plotly_chart(figures.probability_bars(p_played.astype(np.float32),
                                         title=f"softmax(logits / {temperature:g})", height=300),
                width="stretch", key="softmax_played")
top = int(p_played.argmax())
p2.caption(f"The largest probability is **{p_played[top]:.1%}** for digit {top}"
           + ("; with the model's own logits and T = 1 these are exactly the bars above."
              if temperature == 1.0 and np.allclose(played, np.round(z, 3)) else "."))

# --- one training step ---------------------------------------------------------------------------------
one_training_step(am, digit, pred)

st.divider()
st.markdown("That is the whole forward pass. What next?")
n1, n2 = st.columns(2)
n1.page_link("pages/draw.py", label="Draw a digit and follow it through", icon=":material/draw:")
n2.page_link("pages/lab.py", label="Change the architecture and retrain", icon=":material/science:")
