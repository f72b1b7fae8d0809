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

st.divider()
st.markdown("That is the whole forward pass. What next?")
n1, n2 = st.columns(2)
n1.page_link("pages/draw.py", label="Draw a digit and follow it through", icon=":material/draw:")
n2.page_link("pages/lab.py", label="Change the architecture and retrain", icon=":material/science:")
