"""Teach it your handwriting: draw digits and say which they are, fine-tune a copy of the active model on
them (mixed with sample digits so it keeps the rest), and compare before and after."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from mnistviz import activations, figures, userdata
from mnistviz.finetune import MIX_DIGITS, OWN_SHARE, Busy, fine_tune, weights_key
from mnistviz.preprocess import preprocess_image
from mnistviz.shelf import ShelfModel
from pages.canvas_toolbar import canvas_toolbar_always_visible, never_dims
from pages.components import handwriting
from pages.shared import active_model, dataset, model_shelf

CANVAS_SIDE = 240
HELD_OUT = 2000  # held-out digits scored before and after (all of the sample's; a fifth of MNIST's test split)

st.title("Teach it your handwriting")
st.write("A model trained on MNIST learned from about 250 writers (US Census Bureau staff and high-school "
         "students). Your 7 may have a "
         "bar, your 1 a flag, your 4 a closed top. Here you give it a few of your own digits with the right "
         "answer and train a **copy** of the model on them for a moment: *fine-tuning*. Then you see whether "
         "it reads your hand better, and whether it still reads everyone else's.")

hw = handwriting()
model = active_model()
ds = dataset()


# Buttons act through callbacks: they run before the next script run, with what was on screen.
def save(image: np.ndarray | None, label: int | None) -> None:
    if image is None:
        note = ("warning", "The canvas is blank: draw the digit first.")
    elif label is None:
        note = ("warning", "Choose which digit it is (0-9) before saving.")
    else:
        hw.add(image, int(label))
        st.session_state["teach_canvas_round"] = st.session_state.get("teach_canvas_round", 0) + 1  # a fresh canvas
        note = ("success", f"Saved as a {label}.")
    st.session_state["teach_notes"] = [note]


def use_fine_tuned() -> None:
    parent_id, config, result = st.session_state["teach_result"]
    key = weights_key(result.model, parent_id)
    shelf = model_shelf()
    shelf.add(ShelfModel(key=key, name="fine-tuned", label=f"Fine-tuned on your {result.n_own} digits",
                         model=result.model, config=config, source="finetune", meta={"accuracy": result.held_after}))
    shelf.use(key)
    st.session_state["teach_notes_used"] = True


# --- 1 · your digits ----------------------------------------------------------------------------
st.header("1 · Draw a digit and say which it is")
canvas_toolbar_always_visible()
never_dims("teach-draw")
with st.container(key="teach-draw"):
    left, right = st.columns([1, 1])
    with left:
        canvas = st_canvas(stroke_width=20, stroke_color="#FFFFFF", background_color="#000000", height=CANVAS_SIDE,
                           width=CANVAS_SIDE, drawing_mode="freedraw", update_streamlit=True, return_image_data=True,
                           key=f"teach_canvas_{st.session_state.get('teach_canvas_round', 0)}")
    with right:
        label = st.pills("This is a …", list(range(10)), key="teach_label")
        drawn = None if canvas.image_data is None else preprocess_image(canvas.image_data, polarity="white-on-black")
        if drawn is not None and not drawn.blank:
            p = activations.probabilities(model.model, drawn.image)[0]
            st.caption(f"The active model reads it as **{int(p.argmax())}** ({p.max():.0%} sure).")
        st.button("Save this drawing", type="primary", key="teach_save", icon=":material/add:", on_click=save,
                  args=(None if drawn is None or drawn.blank else drawn.image, label))
        for kind, text in st.session_state.pop("teach_notes", []):
            getattr(st, kind)(text)

# --- 2 · the set ----------------------------------------------------------------------------------
st.header("2 · Your set")
if len(hw) == 0:
    st.info("Nothing saved yet. Save at least two drawings of each digit you want it to learn; "
            "you can also bring back a set you downloaded before.")
else:
    counts = hw.counts()
    st.write(f"**{len(hw)} drawings**: " + ", ".join(f"{d} × {counts[d]}" for d in range(10) if counts[d]))
    gallery = np.stack(hw.images, axis=-1)
    st.image(figures.png_bytes(figures.mosaic_rgb(gallery, cols=min(10, len(hw)), per_map_scale=False, upscale=3)),
             caption="Your drawings as the model receives them (28×28), in the order saved; labels: "
                     + " ".join(str(v) for v in hw.labels), output_format="PNG")
    c1, c2 = st.columns(2)
    c1.button("Remove the last one", key="teach_remove", icon=":material/undo:", on_click=hw.remove, args=(len(hw) - 1,))
    c2.download_button("Download your set (.npz)", userdata.digits_npz(hw.digits()), file_name="my_digits.npz",
                       mime="application/octet-stream", icon=":material/download:",
                       help="x (N, 28, 28) uint8 and y (N,) labels: the same format the lab takes.")
upload = st.file_uploader("Bring back a set (.npz with x (N, 28, 28) and y (N,))", type=["npz"], key="teach_upload")
if upload is not None and st.session_state.get("teach_loaded") != upload.file_id:
    try:
        digits = userdata.read_digits(upload.getvalue(), min_digits=1, max_bytes=10 * 2**20)
    except userdata.DigitsError as exc:
        st.error(f"That file could not be used: {exc}")
    else:
        for image, y in zip(digits.x[: hw.limit], digits.y[: hw.limit]):
            if image.any():
                hw.add(image / 255.0, int(y))
        st.session_state["teach_loaded"] = upload.file_id
        st.rerun()

# --- 3 · fine-tune --------------------------------------------------------------------------------
st.header("3 · Fine-tune a copy of the model")
st.write(f"Each epoch mixes {MIX_DIGITS:,} digits of the training sample with randomly rotated, shifted "
         f"and zoomed copies of yours (a {OWN_SHARE:.0%} share). Without the sample digits the model "
         "would happily forget what the other writers' digits look like, a problem called *catastrophic "
         "forgetting*. Your active model stays as it is until you choose to use the copy.")
st.caption(f"Fine-tuning: {model.label}.")
missing = hw.missing()
epochs = st.slider("Epochs", 1, 5, 1, key="teach_epochs")
if missing:
    st.info(missing)
st.button("Fine-tune", disabled=bool(missing), key="teach_finetune", icon=":material/model_training:",
          on_click=st.session_state.__setitem__, args=("teach_go", True))
if st.session_state.pop("teach_go", False) and not missing:
    with st.spinner("Fine-tuning a copy of the model…"):
        try:
            result = fine_tune(model.model, hw.digits(), ds.x_train, ds.y_train, ds.x_test[:HELD_OUT],
                               ds.y_test[:HELD_OUT], epochs=epochs)
        except Busy as exc:
            st.warning(str(exc))
        else:
            st.session_state["teach_result"] = (model.id, model.config, result)

done = st.session_state.get("teach_result")
if done is not None:
    parent_id, config, result = done
    a, b = st.columns(2)
    a.metric("Your digits, after", f"{result.own_after:.0%}", f"{(result.own_after - result.own_before) * 100:+.0f} points",
             help=f"Before: {result.own_before:.0%} of your {result.n_own} drawings. These are the digits it "
                  "trained on, so this is how well it learned them, not how well it reads new ones.")
    b.metric("Held-out sample digits, after", f"{result.held_after:.1%}",
             f"{(result.held_after - result.held_before) * 100:+.1f} points",
             help=f"Before: {result.held_before:.1%} of {result.n_held:,} digits neither training saw "
                  f"({ds.test_label}). A drop here is forgetting.")
    st.caption(f"{result.epochs} epoch(s) in {result.seconds:.1f} s.")
    st.button("Use the fine-tuned model on every page", key="teach_use", icon=":material/check_circle:",
              on_click=use_fine_tuned)
    if st.session_state.pop("teach_notes_used", False):
        st.success("The fine-tuned model is now the active model on every page (the sidebar can switch back).")
