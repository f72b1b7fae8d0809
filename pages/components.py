"""Small page parts the pages share: a stage's Keras line, a ``.npy`` download of an array, the person's
handwriting set, and links that open a lesson (applied by app.py; "Share this view" in the sidebar)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePath

import numpy as np
import streamlit as st

from mnistviz import activations
from mnistviz import data as mdata
from mnistviz import lab_settings, lessons, links, models
from mnistviz.shelf import ShelfModel
from mnistviz.userdata import HandwritingSet
from pages.shared import ActiveModel, InputDigit, active_model, current_input


def stage_page(title: str) -> tuple[InputDigit, ActiveModel, list[activations.Stage]]:
    """A stage page's start: its title, the sidebar's digit and model, and every stage's output for that digit."""
    st.title(title)
    digit = current_input()
    am = active_model()
    return digit, am, activations.stages(am.model, digit.image)


def keras_line(config: models.ModelConfig | None, name: str, fallback: str) -> str:
    """The line of Keras code that makes layer ``name`` of ``config`` (``models.layer_table``), or ``fallback``
    when the architecture is unknown or has no such layer."""
    if config is None:
        return fallback
    row = next((r for r in models.layer_table(config) if r.name == name), None)
    return row.keras if row else fallback


def npy_download(array: np.ndarray, what: str, file_stem: str, key: str) -> None:
    """A download button for ``array`` as a ``.npy`` file: "Download <what> <shape> as .npy"."""
    array = np.asarray(array)
    st.download_button(f"Download {what} {tuple(array.shape)} as .npy", mdata.npy_bytes(array),
                       file_name=f"{file_stem}.npy", mime="application/octet-stream", icon=":material/download:",
                       key=key)


def handwriting() -> HandwritingSet:
    """This session's labelled drawings (``st.session_state["handwriting"]``), created on first use."""
    if "handwriting" not in st.session_state:
        st.session_state["handwriting"] = HandwritingSet()
    return st.session_state["handwriting"]


# --- links that open a lesson (mnistviz.links) ---------------------------------------------------

LAB_KEYS = frozenset(f.url for f in lab_settings.FIELDS)  # the lab's own URL parameters


def _page_path(lesson: lessons.Lesson) -> str:
    return "" if lesson.default else PurePath(lesson.path).stem


def open_link() -> links.LinkView:
    """Apply what this session's URL fixes (input digit, model, hidden controls) when the URL's link
    parameters change, say in one note what was ignored, and return the link's view. The view lasts
    for the session: a teacher's hidden controls stay hidden on every page."""
    from pages import shared

    ss = st.session_state
    params = st.query_params.to_dict()
    applied = frozenset((k, v) for k, v in params.items() if k not in LAB_KEYS)
    if applied and applied != ss.get("link_applied"):
        ds = shared.dataset()  # before any change: on a server's first visit it reruns the script once
        ss["link_applied"] = applied
        view, notes = links.read_view(params, len(ds.x_test), LAB_KEYS)
        if view.model is not None:
            notes += _use_preset(view.model)
        index = view.digit
        if index is None and view.digit_class is not None:
            index = int(np.flatnonzero(ds.y_test == view.digit_class)[0])
        if index is not None:
            choice = {"input_kind": "test", "input_index": index,
                      "input_class": view.digit_class if view.digit_class is not None else "any",
                      "input_wrong_only": False}
            ss.update(choice)
            ss["input_parked"] = choice  # read while the picker is hidden or off this page
        ss["link_view"] = view
        if notes:
            st.info("This link's " + "; ".join(notes) + ".", icon=":material/link:")
    return ss.get("link_view", links.LinkView())


def _use_preset(key: str) -> list[str]:
    from pages import shared

    shelf = shared.model_shelf()
    if key == "default":
        shelf.use(None)
        return []
    found = links.preset_in_store(key, shared.DATA_SOURCE)
    if found is None:
        return [f"model={key}: not trained on this server yet (the teacher can run `python -m mnistviz prefetch`), "
                "so the default model is shown"]
    store_key, config, model = found
    shelf.use(shelf.add(ShelfModel(store_key, key, f"Preset: {models.PRESETS[key].title}", model, config,
                                   source="preset")).key)
    return []


def without_hidden(lesson: lessons.Lesson, view: links.LinkView) -> lessons.Lesson:
    """The lesson with the sidebar parts the link hides left out."""
    return replace(lesson, sidebar=tuple(part for part in lesson.sidebar if part not in view.hide))


def share_view(lesson: lessons.Lesson, view: links.LinkView) -> None:
    """The sidebar's "Share this view": a link to this page with its input digit, preset model and lab
    settings, hiding the controls the teacher ticks."""
    from pages import shared

    with st.sidebar.popover("Share this view", icon=":material/link:", width="stretch"):
        st.caption("A link that opens this page as it is now: its input digit, its model (if it is a preset) and, "
                   "in the lab, its settings. Tick what the link should hide.")
        hide = {key for key, what in links.HIDEABLE.items()
                if st.checkbox(f"Hide {what}", value=key in view.hide, key=f"share_hide_{key}")}
        ss = st.session_state
        fixed = links.LinkView(hide=frozenset(hide))
        if shared._choice("input_kind", "test") == "test":
            fixed = replace(fixed, digit=int(shared._choice("input_index", 0)))
        else:
            st.caption("A drawing cannot travel in a link: it opens on test digit #0.")
        active = shared.model_shelf().active
        if active is not None and active.source == "preset":
            fixed = replace(fixed, model=active.name)
        elif active is not None:
            st.caption("Your own models stay yours: the link opens on the default model.")
        other = {k: v for k, v in st.query_params.to_dict().items() if k in LAB_KEYS}
        paths = frozenset(PurePath(p.path).stem for p in lessons.LESSONS)
        url = links.share_url(links.app_base(st.context.url, paths), _page_path(lesson),
                              {**other, **links.view_params(fixed)})
        st.code(url, language=None, wrap_lines=True)
        ss["share_url"] = url


# --- a person's own model (mnistviz.model_upload) ---------------------------------------------------

def model_uploader() -> None:
    """Upload a ``.keras`` model: checked and loaded in safe mode, it becomes this session's active model
    (on this session's shelf only, never anyone else's). A rejected file changes nothing and says why."""
    from mnistviz import model_upload
    from pages import shared

    ss = st.session_state
    up = st.file_uploader(f"Your own Keras model (.keras, at most {model_upload.MAX_UPLOAD_MB} MB)", type=["keras"],
                          key="model_upload", max_upload_size=model_upload.MAX_UPLOAD_MB,
                          help="Input (None, 784), (None, 28, 28) or (None, 28, 28, 1); 10 outputs (logits or "
                               "softmax). Loaded with Keras' safe mode: no Lambda layers or custom objects.")
    if up is None:
        return
    shelf = shared.model_shelf()
    file_id, error, key = ss.get("model_upload_done", (None, None, None))
    # this file was read on an earlier run (and, if it loaded, is still on the shelf: lab runs may push it off)
    if file_id == up.file_id and (error or shelf.get(key) is not None):
        if error:
            st.error(error, icon=":material/error:")
        return
    try:
        with st.spinner("Checking the model…"):
            loaded = model_upload.read_uploaded_model(up.getvalue())
    except model_upload.UploadError as exc:
        ss["model_upload_done"] = (up.file_id, f"{up.name}: {exc}", None)
        st.error(f"{up.name}: {exc}", icon=":material/error:")
        return
    ss["model_upload_done"] = (up.file_id, None, loaded.key)
    label = f"Uploaded: {up.name} ({loaded.params:,} parameters)"
    shelf.use(shelf.add(ShelfModel(loaded.key, up.name, label, loaded.model, None, source="upload",
                                   meta={"added": loaded.added, "input_shape": loaded.input_shape})).key)
    ss["model_upload_note"] = f"{up.name} is now your active model. {model_upload.describe(loaded)}"
    st.rerun()  # the sidebar's model picker, drawn before this page, shows it from the next run on


def unfamiliar_layers(page_file: str, am: ActiveModel, stages: list[activations.Stage]) -> None:
    """The layers this page explains that have no page of their own (an uploaded model's BatchNormalization,
    Activation, …), each in a plain view: its shape, parameters and the values it hands on."""
    from mnistviz import figures

    names = lessons.unfamiliar_layers(am.model.layers, lessons.lesson(page_file))
    by_name = {s.name: s for s in stages}
    for name in (n for n in names if n in by_name):
        stage = by_name[name]
        values = np.asarray(stage.array[0], np.float32)
        st.subheader(f"{name} ({stage.kind})")
        st.markdown(f"A **{stage.kind}** layer that this page has no lesson for: it takes the layer before it and "
                    "rescales or reshapes what it hands on. Its output for this input:")
        c1, c2, c3 = st.columns(3)
        c1.metric("Output shape", str(tuple(stage.shape)))
        c2.metric("Parameters", f"{stage.params:,}")
        c3.metric("Values", f"{values.min():.3g} … {values.max():.3g}", f"mean {values.mean():.3g}",
                  delta_color="off", delta_arrow="off")
        if values.ndim == 3:  # (H, W, C) feature maps: one mosaic image, each map scaled to its own maximum
            st.plotly_chart(figures.mosaic(values, title=f"{values.shape[2]} maps of {name}, each scaled to its own "
                                                         "maximum"), width="stretch", key=f"other_{name}")
        else:
            st.plotly_chart(figures.dense.unit_grid(values.reshape(-1), title=f"{values.size} values of {name}",
                                                    height=300), width="stretch", key=f"other_{name}")
        npy_download(stage.array, f"{name}'s output", name, f"dl_other_{name}")
