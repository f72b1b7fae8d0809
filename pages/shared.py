"""What every page shares: the sidebar (input digit and active model), cached data and models, the
"Next:" link and stage headers.

Not a page itself (``app.py`` lists the pages, from ``mnistviz.lessons``). ``app.py`` draws the sidebar
once per script run, before the page runs (``sidebar``); pages only read what it chose:
``current_input()`` and ``active_model()``.

Session-state keys (one browser session each; never shared with another person):

- ``model_shelf``:  this session's ``ModelShelf`` (models trained in the lab, and which one is active).
- ``input_kind``:   ``"test"`` (a digit of the active data set's test split) or ``"drawing"``;
  ``input_index``:  index into the test split; ``input_class``: ``"any"`` or a digit;
  ``input_wrong_only``: only digits the active model gets wrong. These four ARE the sidebar widgets'
  keys: the widgets live in app.py, so their state lasts from page to page. A page without the input
  picker parks them in ``input_parked`` (Streamlit drops the state of widgets a run does not draw),
  and the next page with the picker puts them back.
- ``drawing``:      the latest preprocessed drawing ``(28, 28)`` float32 in [0, 1] (``use_drawing``).

The cache rule: ``st.cache_data``, ``st.cache_resource`` and module-level dicts are shared by every
session of the process. Key them by content only (a model-store key, a file's sha256, a config's
fields), never by a name that is unique only inside one session ("run 1"), and never pass the object
that decides the answer as an unhashed ``_argument`` without a content key beside it. Cached objects
are shared read-only: never train a cached model or write into a cached array.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import streamlit as st

import mnistviz
from mnistviz import data as mdata
from mnistviz import lessons
from mnistviz import models as mmodels
from mnistviz.shelf import DEFAULT_KEY, ModelShelf
from pages import through_app_py

DATA_SOURCE = os.environ.get("MNISTVIZ_DATA", "auto")
INPUT_KEYS = ("input_kind", "input_class", "input_wrong_only", "input_index")
MODEL_CHOICE_KEY = "model_choice"


mnistviz.import_tensorflow_quietly()


# --- cached resources (shared by every session: see the cache rule above) -----------------------

def _read_only(ds: mdata.Dataset) -> mdata.Dataset:
    for f in fields(ds):
        value = getattr(ds, f.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return ds


@st.cache_resource(show_spinner="Loading digits…")
def load_dataset(source: str = DATA_SOURCE) -> mdata.Dataset:
    """The active data set: ONE read-only copy per source for the whole process, the same one the
    embedded training queue reads (``jobs.training_data``). Its arrays are not writeable: copy first."""
    from mnistviz.jobs import training_data

    try:
        return training_data(source)[0]
    except mdata.DataError as exc:
        return _read_only(mdata.sample_instead_of(source, exc))


def dataset() -> mdata.Dataset:
    through_app_py()
    return load_dataset(DATA_SOURCE)


def _default_model_id() -> str:
    """The default model's content key: its file's sha256 as recorded beside it."""
    from mnistviz import pretrained

    return f"{DEFAULT_KEY}:{pretrained.default_meta().get('sha256', 'unknown')}"


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


# Streamlit's keras.backend.clear_session after every run is a full gc.collect over every object not frozen:
# ~2 ms a run with one session, ~5 ms with ten (each session's objects add to it), as much as a whole stroke's
# work. Freezing what a run leaves behind keeps that collection to the objects made since. Cyclic garbage
# frozen this way waits for the full collection every FULL_COLLECT_EVERY_S (~0.35 s, TensorFlow loaded).
FULL_COLLECT_EVERY_S = 120.0
_gc_pacing = {"unfrozen_at": time.monotonic()}
_gc_lock = threading.Lock()


def freeze_after_run() -> None:
    """Call at the end of a script run (app.py) and of a live fragment's run: see FULL_COLLECT_EVERY_S."""
    with _gc_lock:
        now = time.monotonic()
        if now - _gc_pacing["unfrozen_at"] > FULL_COLLECT_EVERY_S:
            _gc_pacing["unfrozen_at"] = now
            gc.unfreeze()  # the next clear_session collects everything once
        else:
            gc.freeze()


@st.cache_resource(show_spinner=False, max_entries=16)  # each slider position builds one; keep memory bounded
def untrained_model(config: mmodels.ModelConfig, seed: int = 0):
    """A freshly initialised (random) model of an architecture, shared read-only (keyed by the
    config's fields, which Streamlit hashes)."""
    from mnistviz import activations

    model = mmodels.build_model(config, seed=seed)
    activations.stages(model, np.zeros((1, 784), np.float32))
    return model


@st.cache_data(show_spinner="Scoring the test split…", max_entries=16)
def test_predictions(model_key: str, _model, source: str = DATA_SOURCE) -> tuple[np.ndarray, np.ndarray]:
    """Predicted digits and their probabilities for the whole test split. ``model_key`` is the model's
    content key (``ActiveModel.id``): it alone decides the cache entry."""
    from mnistviz import activations

    proba = activations.probabilities(_model, load_dataset(source).x_test)
    return proba.argmax(axis=1), proba


MAP_DIGITS = 2000  # test digits on the maps and behind the not-a-digit check (the whole held-out sample)


@st.cache_data(show_spinner="Finding the test digits that excite each unit…", max_entries=8)
def exciting_summary(model_key: str, _model, source: str = DATA_SOURCE):
    """Each unit's strongest test digits (``exciting.summarise``) over the first ``MAP_DIGITS`` test digits: one
    bulk pass per model, keyed by its content key (``ActiveModel.id``)."""
    from mnistviz import exciting

    return exciting.summarise(_model, load_dataset(source).x_test[:MAP_DIGITS])
_MAPS = None


def digit_map(am: "ActiveModel", wait: bool = True):
    """The ``embedding.Embedding`` of the active model over the first ``MAP_DIGITS`` test digits, shared
    by every session (keyed by the model's content key) and fitted in the background; with
    ``wait=False`` it is ``None`` until ready, so a stroke never waits for it."""
    ds = dataset()
    return digit_maps().get(am.id, am.model, ds.x_test[:MAP_DIGITS], ds.y_test[:MAP_DIGITS], wait=wait)


def digit_maps():
    """Every model's map (``embedding.Maps``), one for the process."""
    global _MAPS
    from mnistviz import embedding

    if _MAPS is None:
        _MAPS = embedding.Maps()
    return _MAPS


# --- the active model --------------------------------------------------------------------------

@dataclass
class ActiveModel:
    id: str  # a content key: "default:<sha256>" or the model store's key
    model: object
    config: mmodels.ModelConfig | None
    label: str

    @property
    def is_default(self) -> bool:
        return self.id == _default_model_id()


def model_shelf() -> ModelShelf:
    """This session's models (``st.session_state["model_shelf"]``), created on first use."""
    if "model_shelf" not in st.session_state:
        st.session_state["model_shelf"] = ModelShelf()
    return st.session_state["model_shelf"]


def active_model() -> ActiveModel:
    """The model this session looks through: the shipped default, or one from its shelf."""
    through_app_py()
    entry = model_shelf().active
    if entry is not None:
        return ActiveModel(entry.key, entry.model, entry.config, entry.label)
    am = ActiveModel(_default_model_id(), default_model(), mmodels.PRESETS["default"].config,
                     "default model (course CNN, pretrained on the bundled sample)")
    digit_map(am, wait=False)  # the first page anyone opens starts the default model's map, before strokes need it
    return am


def _use_chosen_model() -> None:
    model_shelf().use(st.session_state[MODEL_CHOICE_KEY])


def _model_picker() -> None:
    """A select box over the default and this session's shelf. The shelf holds the choice (the lab
    changes it too); the widget shows it."""
    shelf = model_shelf()
    entries = shelf.entries()
    labels = {DEFAULT_KEY: "Default (pretrained)", **{e.key: e.label for e in entries}}
    st.session_state[MODEL_CHOICE_KEY] = shelf.active_key or DEFAULT_KEY
    st.sidebar.selectbox("Active model", list(labels), key=MODEL_CHOICE_KEY, format_func=labels.get,
                         on_change=_use_chosen_model, help="Models you train in the Lab appear here.")


# --- the input digit ---------------------------------------------------------------------------

@dataclass
class InputDigit:
    image: np.ndarray  # (28, 28) float32 in [0, 1]
    label: int | None  # the true digit, None for a drawing
    description: str


def current_input() -> InputDigit:
    """The digit the person follows through the network, as the sidebar chose it."""
    through_app_py()
    ds = dataset()
    ss = st.session_state
    if _choice("input_kind", "test") == "drawing" and ss.get("drawing") is not None:
        return InputDigit(np.asarray(ss["drawing"], np.float32), None, "your drawing")
    i = int(_choice("input_index", 0)) % len(ds.x_test)
    return InputDigit(mdata.scale(ds.x_test[i]), int(ds.y_test[i]), f"test digit #{i} (true label {int(ds.y_test[i])})")


def _choice(key: str, default):
    """The person's input choice ``key``, also while it is parked (on a page without the picker)."""
    return st.session_state.get(key, st.session_state.get("input_parked", {}).get(key, default))


def use_drawing(image: np.ndarray) -> None:
    """The Draw page's latest digit ``(28, 28)`` in [0, 1] becomes the input the walkthrough follows
    (from the next script run on: the sidebar's widgets may already be drawn in this one). The drawing it
    follows already (the Draw page opened again, its canvas showing it) leaves the person's choice alone: a
    test digit picked since stays picked."""
    if (old := st.session_state.get("drawing")) is not None and np.array_equal(old, image):
        return
    st.session_state["drawing"] = image
    st.session_state["follow_drawing"] = True


def matching_test_digits(digit_class, wrong_only: bool) -> np.ndarray:
    """Indices of the test split with true label ``digit_class`` ("any": all) and, with ``wrong_only``,
    that the active model gets wrong; all of them when nothing matches."""
    ds = dataset()
    candidates = np.arange(len(ds.x_test))
    if digit_class != "any":
        candidates = candidates[ds.y_test == digit_class]
    if wrong_only:
        am = active_model()
        pred, _ = test_predictions(am.id, am.model)
        candidates = candidates[pred[candidates] != ds.y_test[candidates]]
    return candidates


def _pick_random(candidates: np.ndarray) -> None:
    st.session_state["input_index"] = int(np.random.default_rng().choice(candidates))


def _input_picker() -> None:
    """Sidebar controls that choose the input digit."""
    ss = st.session_state
    sb = st.sidebar
    sb.subheader("Input digit")
    for key, value in ss.pop("input_parked", {}).items():
        if key not in ss:
            ss[key] = value
    has_drawing = ss.get("drawing") is not None
    if ss.pop("follow_drawing", False):
        ss["input_kind"] = "drawing"
    kinds = ["test", "drawing"] if has_drawing else ["test"]
    if ss.get("input_kind") not in kinds:
        ss["input_kind"] = "test"
    kind = sb.radio("Source", kinds, horizontal=True, key="input_kind",
                    format_func={"test": "Test digit", "drawing": "My drawing"}.get,
                    help=None if has_drawing else "Draw a digit on the Draw page to follow it here.")
    if kind == "test":
        cls = sb.selectbox("True digit", ["any", *range(10)], key="input_class")
        wrong_only = sb.checkbox("Only digits the model gets wrong", key="input_wrong_only")
        candidates = matching_test_digits(cls, wrong_only)
        if len(candidates) == 0:
            sb.info("No test digit matches this filter; showing all.")
            candidates = np.arange(len(dataset().x_test))
        elif cls != "any" or wrong_only:
            sb.caption(f"{len(candidates):,} test digits match.")
        if ss.get("input_index") not in candidates:
            ss["input_index"] = int(candidates[0])
        sb.button("Random digit", key="input_random", icon=":material/casino:", on_click=_pick_random,
                  args=(candidates,), help="Pick a random test digit matching the filter")
        sb.number_input("Index in the test split", 0, len(dataset().x_test) - 1, key="input_index")
    digit = current_input()
    sb.image(np.kron(digit.image, np.ones((3, 3))), caption=digit.description, clamp=True, width=84)


def _park_input_choice() -> None:
    """On a page without the input picker, park the choice: Streamlit drops the state of widgets a
    script run does not draw (and the browser forgets their values), so the next page with the picker
    would start from its defaults."""
    ss = st.session_state
    chosen = {key: ss[key] for key in INPUT_KEYS if key in ss}
    if chosen:
        ss["input_parked"] = chosen


def sidebar(page: lessons.Lesson) -> None:
    """The shared sidebar, drawn by app.py once per script run before ``page`` runs."""
    if "model" in page.sidebar:
        _model_picker()
    if "input" in page.sidebar:
        _input_picker()
    else:
        _park_input_choice()


# --- shared page parts -------------------------------------------------------------------------

def next_link(page_file: str, model=None) -> None:
    """The "Next:" link of a walkthrough page (``page_file`` = its ``__file__``); with ``model``, pages
    about stages that model lacks are skipped."""
    taught = lessons.lessons_for_layers(model.layers) if model is not None else None
    nxt = lessons.next_lesson(Path(page_file), taught)
    if nxt is not None:
        st.page_link(nxt.path, label=f"Next: {nxt.title}", icon=":material/arrow_forward:")


def stage_header(stage, keras_line: str) -> None:
    """The shape with the batch axis, the parameter count and the one line of Keras that makes the stage."""
    c1, c2 = st.columns([1, 1])
    c1.metric("Output shape", str(tuple(stage.shape)))
    c2.metric("Parameters", f"{stage.params:,}")
    st.caption(f"Shape {tuple(stage.shape)}: the first axis counts images (1 here, the one digit you follow); "
               "the Overview writes it None, as Keras does, because the model takes any number at once.")
    st.code(keras_line, language="python")


def data_caption() -> None:
    """One line saying which data set is active (and why, when it fell back)."""
    ds = dataset()
    msg = f"Data: {ds.description}."
    if ds.note:
        msg += f" ({ds.note}.)"
    st.caption(msg)
