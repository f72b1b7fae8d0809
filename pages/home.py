"""Home: what the app is, which data and model are active, and where to start."""

import streamlit as st

from mnistviz import data, models, pretrained
from pages.components import model_uploader
from pages.shared import active_model, dataset

st.title("How a convolutional network reads a handwritten digit")
st.markdown(
    "Draw a digit and follow it through a real, trained CNN: the 784 pixels reshaped into an image, "
    "the convolution filters and the feature maps they light up, max pooling halving each map, the "
    "flattened vector, the dense layer, and the softmax that turns ten scores into probabilities. "
    "Then change the architecture in the lab, retrain, and see what changes."
)

ds = dataset()
am = active_model()
meta = pretrained.default_meta()

c1, c2 = st.columns(2)
with c1.container(border=True):
    st.subheader(":material/database: Data in use")
    st.markdown(f"**{ds.description}**")
    if ds.fallback_reason == data.UNUSABLE_SOURCE:  # MNISTVIZ_DATA named something unusable
        st.warning("The data source set with MNISTVIZ_DATA could not be used, so the app uses the bundled "
                   "sample of 10,000 MNIST training digits instead.", icon=":material/error:")
    elif ds.fallback_reason == data.OFFLINE:  # "auto" found no MNIST
        st.info(
            "Offline mode: the full MNIST (60,000 / 10,000) could not be loaded, so the app uses the "
            "10,000 real MNIST training digits shipped inside it. Accuracy on its held-out part is "
            "*sample validation accuracy*, not MNIST test accuracy.",
            icon=":material/wifi_off:",
        )
    elif ds.source == "sample":
        st.info("The bundled sample of 10,000 real MNIST training digits (chosen with MNISTVIZ_DATA=sample). "
                "Accuracy on its held-out part is *sample validation accuracy*, not MNIST test accuracy.")
    else:
        st.success(f"Test split: {ds.test_label}.", icon=":material/check_circle:")
    if ds.note:
        st.caption(f"Why: {ds.note}.")
with c2.container(border=True):
    st.subheader(":material/neurology: Model in use")
    st.markdown(f"**{am.label}**")
    if am.config is not None:
        rows = models.layer_table(am.config)
        st.markdown(" → ".join(r.name for r in rows[1:]))
        st.caption(f"{models.count_params(am.config):,} parameters.")
    else:  # an uploaded model: read its layers from Keras
        st.markdown(" → ".join(layer.name for layer in am.model.layers[1:]))
        st.caption(f"{am.model.count_params():,} parameters.")
    if note := st.session_state.pop("model_upload_note", None):
        st.success(note, icon=":material/check_circle:")
    if am.is_default and meta:
        scored = (f" On the sample's held-out digits it gets **{meta['test_accuracy']:.2%}** right (sample "
                  "validation accuracy)." if "test_accuracy" in meta else "")
        st.caption(
            f"Trained on {meta.get('n_train_images', 8000):,} digits of the bundled sample "
            f"({meta.get('epochs_done', '?')} epochs with small random rotations, shifts and zooms). It never saw "
            f"the test digits the walkthrough shows.{scored}"
        )

st.subheader("Where to start")
s1, s2, s3 = st.columns(3)
with s1.container(border=True):
    st.markdown("**Draw a digit**: the model predicts as you draw, and shows every step from your pixels to its probabilities.")
    st.page_link("pages/draw.py", label="Draw a digit", icon=":material/draw:")
with s2.container(border=True):
    st.markdown("**The walkthrough**: one page per stage of the network, on a test digit or your drawing.")
    st.page_link("pages/overview.py", label="Start the walkthrough", icon=":material/account_tree:")
with s3.container(border=True):
    st.markdown("**The lab**: move the sliders (filters, kernel size, dropout, …), train, and compare runs.")
    st.page_link("pages/lab.py", label="Open the lab", icon=":material/science:")
st.page_link("pages/playground.py", label="Convolution playground: the arithmetic on grids small enough to read",
             icon=":material/calculate:")

st.subheader("Bring your own model")
st.markdown(
    "Trained a digit model of your own in Keras? Upload it (`model.save(\"mine.keras\")`) and the whole app looks "
    "through it: the draw page, the walkthrough (each of its layers on the page of its kind) and the map. It stays "
    "in your session only; nobody else sees it. Pick *Default (pretrained)* in the sidebar to go back."
)
model_uploader()
