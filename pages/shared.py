"""What every page shares: cached data and models, the active model, the input digit, stage headers.

Not a page itself (``app.py`` lists the pages explicitly). Session-state keys it owns:

- ``active_model``: ``"default"`` or the id of a model trained in the lab this session.
- ``lab_models``:   ``{id: LabModel}`` trained in this session (never shared between people).
- ``input_kind``:   ``"test"`` (a digit of the active data set's test split) or ``"drawing"``.
- ``input_index``:  index into the test split; ``input_class`` filter (``"any"`` or a digit);
                    ``input_wrong_only``: only digits the active model gets wrong.
- ``drawing``:      the latest preprocessed drawing ``(28, 28)`` float32 in [0, 1], set by the Draw page.
"""

from __future__ import annotations

import gc
import json
import os
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

import mnistviz  # noqa: F401  (sets TensorFlow's log level before it is imported)
from mnistviz import data as mdata
from mnistviz import models as mmodels
from mnistviz.shelf import ModelShelf

DATA_SOURCE = os.environ.get("MNISTVIZ_DATA", "auto")


def _run_through_app_py() -> None:
    """A person whose first visit to a fresh server is a page link (e.g. /draw) would get Streamlit's
    legacy pages/-folder mode (this page alone, without app.py's navigation and layout): Streamlit
    decides that mode before app.py has ever called st.navigation. Switch it off and rerun, so
    app.py runs and opens the requested page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_run_through_app_py()


# --- cached resources --------------------------------------------------------------------------

@st.cache_data(show_spinner="Loading digits…")
def load_dataset(source: str = DATA_SOURCE) -> mdata.Dataset:
    """The active data set (a copy per call, cached per source)."""
    try:
        return mdata.load_data(source)
    except mdata.DataError as exc:
        fallback = mdata.load_sample(note=f"the data source {source!r} could not be used ({exc}); using the bundled sample")
        return fallback


def dataset() -> mdata.Dataset:
    return load_dataset(DATA_SOURCE)


@st.cache_resource(show_spinner="Loading the pretrained model…")
def default_model():
    """The shipped default model, loaded once for everybody, warmed up, then frozen out of the GC's way."""
    from mnistviz import activations, pretrained

    model = pretrained.load_default_model()
    activations.stages(model, np.zeros((1, 784), np.float32))  # trace the compiled forward pass once
    # Streamlit runs a full garbage collection after every script run (keras.backend.clear_session);
    # freezing the long-lived TensorFlow objects keeps that collection cheap.
    gc.freeze()
    return model


@st.cache_resource(show_spinner=False, max_entries=16)  # each slider position builds one; keep memory bounded
def untrained_model(config_json: str, seed: int = 0):
    """A freshly initialised (random) model of an architecture, shared read-only."""
    from mnistviz import activations

    model = mmodels.build_model(mmodels.ModelConfig.from_dict(json.loads(config_json)), seed=seed)
    activations.stages(model, np.zeros((1, 784), np.float32))
    return model


@st.cache_data(show_spinner="Scoring the test split…", max_entries=16)
def test_predictions(model_id: str, _model, source: str = DATA_SOURCE) -> tuple[np.ndarray, np.ndarray]:
    """Predicted digits and their probabilities for the whole test split (cached per model id)."""
    from mnistviz import activations

    proba = activations.probabilities(_model, load_dataset(source).x_test)
    return proba.argmax(axis=1), proba


# --- the active model --------------------------------------------------------------------------

@dataclass
class LabModel:
    """A model this person trained in the lab."""

    id: str
    model: object
    config: mmodels.ModelConfig
    options: mmodels.TrainOptions
    label: str
    meta: dict = field(default_factory=dict)


@dataclass
class ActiveModel:
    id: str
    model: object
    config: mmodels.ModelConfig | None
    label: str


def model_shelf() -> ModelShelf:
    """This session's models (``st.session_state["model_shelf"]``), created on first use."""
    if "model_shelf" not in st.session_state:
        st.session_state["model_shelf"] = ModelShelf()
    return st.session_state["model_shelf"]


def active_model() -> ActiveModel:
    """The model this session looks through: the shipped default, or one trained in the lab."""
    entry = model_shelf().active
    if entry is not None:
        return ActiveModel(entry.key, entry.model, entry.config, entry.label)
    key = st.session_state.get("active_model", "default")
    lab = st.session_state.get("lab_models", {})
    if key != "default" and key in lab:
        m = lab[key]
        return ActiveModel(m.id, m.model, m.config, m.label)
    return ActiveModel("default", default_model(), mmodels.PRESETS["default"].config,
                       "default model (course CNN, pretrained on the bundled sample)")


def model_picker(where=None) -> ActiveModel:
    """A select box over the default and this session's lab models; returns the active one."""
    where = where or st.sidebar
    lab = st.session_state.get("lab_models", {})
    options = ["default", *lab.keys()]
    labels = {"default": "Default (pretrained)", **{k: m.label for k, m in lab.items()}}
    current = st.session_state.get("active_model", "default")
    if current not in options:
        current = "default"
    choice = where.selectbox("Active model", options, index=options.index(current), format_func=labels.get,
                             key="_active_model_widget", help="Models you train in the Lab appear here.")
    st.session_state["active_model"] = choice
    return active_model()


# --- the input digit ---------------------------------------------------------------------------

@dataclass
class InputDigit:
    image: np.ndarray  # (28, 28) float32 in [0, 1]
    label: int | None  # the true digit, None for a drawing
    description: str


def current_input() -> InputDigit:
    """The digit the person follows through the network (see the module docstring for the keys)."""
    ds = dataset()
    if st.session_state.get("input_kind") == "drawing" and st.session_state.get("drawing") is not None:
        return InputDigit(np.asarray(st.session_state["drawing"], np.float32), None, "your drawing")
    i = int(st.session_state.get("input_index", 0)) % len(ds.x_test)
    return InputDigit(mdata.scale(ds.x_test[i]), int(ds.y_test[i]), f"test digit #{i} (true label {int(ds.y_test[i])})")


def _synced(canonical: str, widget: str, default):
    """Copy the person's choice into a widget's state before it is drawn (widget state is dropped on
    pages that do not draw it, and code such as the Draw page may have changed the choice)."""
    value = st.session_state.get(canonical, default)
    if st.session_state.get(widget) != value:
        st.session_state[widget] = value
    return value


def _adopt(widget: str, canonical: str) -> None:
    """on_change: the person moved the widget, so its value becomes the choice."""
    st.session_state[canonical] = st.session_state[widget]


def input_picker() -> InputDigit:
    """Sidebar controls that choose the input digit; the choice follows the person from page to page."""
    ds = dataset()
    sb = st.sidebar
    sb.subheader("Input digit")
    has_drawing = st.session_state.get("drawing") is not None
    kinds = ["test", "drawing"] if has_drawing else ["test"]
    if st.session_state.get("input_kind", "test") not in kinds:
        st.session_state["input_kind"] = "test"
    _synced("input_kind", "_input_kind_widget", "test")
    kind = sb.radio("Source", kinds, horizontal=True, key="_input_kind_widget",
                    on_change=_adopt, args=("_input_kind_widget", "input_kind"),
                    format_func={"test": "Test digit", "drawing": "My drawing"}.get,
                    help=None if has_drawing else "Draw a digit on the Draw page to follow it here.")
    st.session_state["input_kind"] = kind
    if kind == "test":
        _synced("input_class", "_input_class_widget", "any")
        cls = sb.selectbox("True digit", ["any", *range(10)], key="_input_class_widget",
                           on_change=_adopt, args=("_input_class_widget", "input_class"))
        st.session_state["input_class"] = cls
        _synced("input_wrong_only", "_input_wrong_widget", False)
        wrong_only = sb.checkbox("Only digits the model gets wrong", key="_input_wrong_widget",
                                 on_change=_adopt, args=("_input_wrong_widget", "input_wrong_only"))
        st.session_state["input_wrong_only"] = wrong_only
        candidates = np.arange(len(ds.x_test))
        if cls != "any":
            candidates = candidates[ds.y_test == cls]
        if wrong_only:
            am = active_model()
            pred, _ = test_predictions(am.id, am.model)
            candidates = candidates[pred[candidates] != ds.y_test[candidates]]
        if len(candidates) == 0:
            sb.info("No test digit matches this filter; showing all.")
            candidates = np.arange(len(ds.x_test))
        idx = int(st.session_state.get("input_index", int(candidates[0])))
        if not np.isin(idx, candidates):
            idx = int(candidates[0])
        st.session_state["input_index"] = idx
        if sb.button("Random digit", key="_input_random", icon=":material/casino:",
                     help="Pick a random test digit matching the filter"):
            st.session_state["input_index"] = int(np.random.default_rng().choice(candidates))
        _synced("input_index", "_input_index_widget", idx)
        idx = sb.number_input("Index in the test split", 0, len(ds.x_test) - 1, key="_input_index_widget",
                              on_change=_adopt, args=("_input_index_widget", "input_index"))
        st.session_state["input_index"] = int(idx)
    digit = current_input()
    sb.image(np.kron(digit.image, np.ones((3, 3))), caption=digit.description, clamp=True, width=84)
    return digit


# --- stage headers -----------------------------------------------------------------------------

def stage_header(stage, keras_line: str) -> None:
    """The shape with the batch axis, the parameter count and the one line of Keras that makes the stage."""
    c1, c2 = st.columns([1, 1])
    c1.metric("Output shape", str(tuple(stage.shape)))
    c2.metric("Parameters", f"{stage.params:,}")
    st.code(keras_line, language="python")


def data_caption() -> None:
    """One line saying which data set is active (and why, when it fell back)."""
    ds = dataset()
    msg = f"Data: {ds.description}."
    if ds.note:
        msg += f" ({ds.note}.)"
    st.caption(msg)
