"""Draw a digit: the canvas, the preprocessing step by step, the prediction, the network's view,
what made it decide, and how the answer moves when the drawing is nudged."""

from __future__ import annotations

import functools
import hashlib
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from mnistviz import activations, attribution, canvas_reading, figures
from mnistviz.draw_panels import (BARS, MAP_STRIP_GAP, MAP_STRIP_WIDTH, MAPS_PER_ROW, NETWORK, NOTES, STAGE_PAGES,
                                  STEP_PICTURES, STEP_SIDE, STEPS, DigitCheck, dense_key, dense_stages, live_panels,
                                  map_rows, pixels, route_panels, row_key)
from mnistviz.preprocess import PreprocessError, PreprocessResult, preprocess_file
from pages.canvas_toolbar import never_dims
from pages.components import handwriting
from pages.draw_canvas import DRAWN, LATEST, catch_up, drawing_canvas
from pages.fragment_rerun import rerun_fragments
from pages.on_screen import hide_on_screen_probe, on_screen, shown_sections
from pages.shared import MAP_DIGITS, active_model, dataset, digit_maps, freeze_after_run, use_drawing
from pages.static_part import static_part

ANSWER_HEIGHT = 118  # px: the prediction metric with its "sure" line
PROBE = "draw-on-screen"  # tells which of the sections STEPS and NETWORK are on screen
LIVE = "draw-live"  # the canvas and everything a stroke rewrites: never dimmed while a stroke is read
LIVE_FRAGMENT = "draw-stroke"  # the fragment that draws the live panels (``live``; mnistviz.draw_panels)
LIVE_RUN = "draw_live_run"  # session key: the live fragment's runs, marked in each panel (see ``mark``)


# --- small helpers (layout only) ---------------------------------------------------------------

@st.cache_data(max_entries=8, show_spinner=False)
def preprocess_upload(raw: bytes) -> PreprocessResult:
    """An uploaded file's bytes → the preprocessed digit (cached: a big photo is decoded once)."""
    return preprocess_file(raw)


def input_controls() -> tuple[str, int]:
    """Draw or upload, and the stroke width: laid out once per full run (a change reruns the page)."""
    source = st.radio("Input", ["Draw", "Upload a picture"], horizontal=True, key="draw_source",
                      label_visibility="collapsed")
    width = 20
    if source == "Draw":
        width = st.slider("Stroke width", 8, 40, 20, key="stroke_width",
                          help="MNIST strokes are about 2-3 of 28 pixels wide: 15-25 on this canvas.")
    return source, width


def read_input(model, source: str, width: int, panels=None) -> tuple[PreprocessResult | None,
                                                                      list[activations.Stage] | None, bool]:
    """The canvas (or an upload), preprocessed (``None`` when there is nothing usable yet); each layer's output
    when already worked out (the canvas's drawing, read once for the answer route and this run); and whether
    the canvas already shows the answer (it asks the answer route as the stroke ends; the page answers an
    upload, or a drawing the route could not answer). ``panels`` lays out the live panels for the route."""
    if source == "Draw":
        drawing = drawing_canvas(model, width, key="canvas", panels=panels, sections=(STEPS, NETWORK))
        if drawing is None:
            return None, None, False
        try:
            reading = canvas_reading.read_drawing(model, drawing.png)
        except canvas_reading.BadDrawing:
            return None, None, False
        return reading.result, reading.stages, drawing.answered
    # No ``type=`` filter: the browser would refuse other files itself, list them beside the file in use
    # and never tell the page. This way each file replaces the last, and a bad one gets one sentence here.
    upload = st.file_uploader("A PNG or JPEG of one digit", key="upload",
                              help="A photo of a digit on paper works: dark ink on light or grey paper is "
                                   "inverted, and uneven light is evened out, automatically.")
    if upload is None:
        return None, None, False
    try:
        result = preprocess_upload(upload.getvalue())
    except PreprocessError as exc:
        st.error(f"That file could not be used: {exc}.")
        return None, None, False
    if result.blank:
        st.warning("No ink found in that picture: it looks like blank paper. Upload a photo of one digit.")
    return result, None, False


@dataclass
class Slots:
    """Where the live panels go. The page lays out the controls, headings, captions and lesson links once per
    full run; ``live`` fills these containers (keyed, one element each, so that the canvas can rewrite them
    after a stroke from the answer route's reply)."""
    answer: DeltaGenerator  # the prediction, above the canvas
    drawing: DeltaGenerator  # the canvas (or the uploader)
    notes: DeltaGenerator  # the prompt, or warnings about the drawing
    bars: DeltaGenerator  # the ten probabilities
    steps: DeltaGenerator
    rows: list[DeltaGenerator]  # one per row of up to four map stages
    dense: list[DeltaGenerator]  # one per dense layer


def steps_heading() -> None:
    """The steps section's heading and what MNIST did to its digits."""
    st.subheader("From your picture to the model's 28×28 input")
    st.caption("MNIST's digits were scaled to fit a 20×20 box (keeping their shape), then centred in 28×28 by "
               "their centre of mass. Your drawing goes through the same steps; the last image is exactly "
               "what the network receives.")


def steps_section() -> DeltaGenerator:
    """Raw → crop → 20×20 → centred 28×28, as MNIST itself was made: the heading, and the slot for the pictures."""
    with st.container(key=STEPS):
        static_part(steps_heading)
        return st.container(key=STEP_PICTURES)


def network_heading() -> None:
    """The network section's heading and how to read its colours."""
    st.subheader("What the network sees")
    st.caption("Each filter's map is scaled to its own strongest value: bright (yellow) = that filter responds "
               "strongly there, dark (purple) = not at all. The step-by-step pages show every value on hover.")


def stage_links(row: list[activations.Stage]) -> None:
    """Under a row's picture: each stage's size under its maps (one element for the row), and a link to the
    lesson of each kind of stage in it (one per kind, not one per map: each link is redrawn at every stroke)."""
    sizes = [f"{s.name}: {s.shape[-1]} maps of {s.shape[1]}×{s.shape[2]}" for s in row]
    st.html(figures.caption_row_html(sizes + [""] * (MAPS_PER_ROW - len(row)), gap=MAP_STRIP_GAP,
                                     width=MAPS_PER_ROW * MAP_STRIP_WIDTH + (MAPS_PER_ROW - 1) * MAP_STRIP_GAP))
    kinds = list(dict.fromkeys(s.kind for s in row))
    for col, kind in zip(st.columns(len(kinds)), kinds):
        page, label = STAGE_PAGES[kind]
        col.page_link(page, label=f"{label}, step by step", icon=":material/arrow_forward:")


def dense_links(flat: activations.Stage | None) -> None:
    """Under the dense layers' pictures: the Flatten and Dense pages."""
    link = st.columns(2)
    if flat is not None:
        link[0].page_link("pages/stage_flatten.py", label=f"Flatten: {flat.shape[-1]:,} numbers in a row",
                          icon=":material/arrow_forward:")
    link[1].page_link("pages/stage_dense.py", label="Dense layers, step by step", icon=":material/arrow_forward:")


def softmax_note() -> None:
    """Beside the dense layers: what softmax does, and its page."""
    st.markdown("**Softmax**: the ten scores become probabilities that add up to 1 (the bars above).")
    st.page_link("pages/stage_softmax.py", label="Logits and softmax, step by step", icon=":material/arrow_forward:")
    st.caption("The walkthrough pages now follow your drawing (sidebar → Input digit → My drawing).")


def network_section(stages: list[activations.Stage]) -> tuple[list[DeltaGenerator], list[DeltaGenerator]]:
    """The network's view laid out from the model's shapes: every conv/pool stage with its size and lesson,
    the dense layers, the softmax; returns the slots for each row's picture and each dense layer's."""
    with st.container(key=NETWORK):
        static_part(network_heading)
        rows = []
        for i, row in enumerate(map_rows(stages)):
            rows.append(st.container(key=row_key(i)))
            static_part(stage_links, row)
        cols = st.columns([2, 1])
        with cols[0]:
            dense = [st.container(key=dense_key(i)) for i in range(len(dense_stages(stages)))]
            static_part(dense_links, next((s for s in stages if s.kind == "Flatten"), None))
        with cols[1]:
            static_part(softmax_note)
    return rows, dense


def latest_drawing() -> tuple[np.ndarray, np.ndarray] | None:
    """The latest drawing ``(28, 28)`` and its probabilities ``(10,)`` (a stroke the answer route read since the
    last run taken up first)."""
    catch_up()
    return st.session_state.get(LATEST)


def _explain_latest() -> None:
    st.session_state["explain_on"] = True


@st.fragment
def explain(model) -> None:
    """Two maps of one method (cover a patch, gradient, integrated gradients, Grad-CAM), for the predicted
    digit and one the person picks, on one colour scale. Computed when asked (and for the latest drawing
    each time this section's own controls change), not on every stroke."""
    st.button("Explain my latest drawing", key="explain_go", icon=":material/refresh:",
              on_click=_explain_latest,
              help="These maps take a moment, so this section follows your strokes when you ask.")
    latest = latest_drawing()
    if latest is None or not st.session_state.get("explain_on"):
        st.caption("Which pixels made the model say what it said? Draw a digit, then press the button: the maps "
                   "are worked out for the drawing on the canvas.")
        return
    image, proba = latest
    pred = int(proba.argmax())
    runner_up = int(np.argsort(proba)[-2])
    c0, c1, c2 = st.columns([0.5, 1.5, 1.5])
    # a thumbnail of the drawing these maps are for (the section follows new strokes on request)
    c0.image(pixels(image, 56), caption="For this drawing", width=56, clamp=True, output_format="PNG")
    methods = {m.label: m for m in attribution.METHODS.values()}
    method = methods[c1.radio("Method", list(methods), horizontal=True, key="explain_method",
                              help="Four ways to ask which pixels mattered; below, what each shows and when it misleads.")]
    # The box opens on each new drawing's runner-up; a digit picked by hand stays until the drawing changes.
    # (Set through its state: a changing ``index=`` would leave the box showing one digit and the chart another.)
    drawing = hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()
    if st.session_state.get("explain_digit_for") != drawing:
        st.session_state["explain_digit_for"] = drawing
        st.session_state["explain_digit"] = runner_up
    other = c2.selectbox("Compare with digit", list(range(10)), key="explain_digit")
    st.markdown(f"**What it shows:** {method.shows}  \n**When it misleads:** {method.misleads}")
    try:
        maps = attribution.compare(model, image, (pred, other), method.key)
    except attribution.NotApplicable as exc:
        st.info(str(exc))
        return
    # Both maps on ONE colour scale, printed: a map scaled to its own maximum makes ±0.000002 look like ±0.1.
    for i, (col, d, z) in enumerate(zip(st.columns(2), maps.digits, maps.maps)):
        col.plotly_chart(figures.heatmap(z, diverging=True, zmax=maps.scale, height=300,
                                         title=method.title.format(d=d), hover=f"{method.unit} %{{z:.3g}}"),
                         width="stretch", key=f"{method.key}_{i}")
    st.caption(f"Colour scale ±{maps.scale:.3g} ({method.unit}) for both maps: red speaks for that digit, "
               "blue against it, white is 0." + (f" {maps.note[0].upper()}{maps.note[1:]}." if maps.note else ""))


def _reset_nudge() -> None:
    for k, v in {"nudge_angle": 0, "nudge_dx": 0, "nudge_dy": 0, "nudge_thick": 0}.items():
        st.session_state[k] = v


@st.fragment
def nudge(model) -> None:
    """Rotate, shift, thicken: the probabilities follow each slider (reruns on its own, on the latest
    drawing; a stroke does not rerun it)."""
    st.caption("Turn, move or thicken your digit and watch where the model's confidence breaks. Each slider "
               "works on your latest drawing.")
    latest = latest_drawing()
    st.button("Nudge my latest drawing", key="nudge_go", icon=":material/refresh:",
              help="This section follows your strokes when you ask (or move a slider).")
    if latest is None:
        st.caption("Draw a digit first.")
        return
    image, _ = latest
    controls, picture, bars = st.columns([1.2, 0.8, 1.6])
    with controls:
        angle = st.slider("Rotate (degrees)", -60, 60, 0, 5, key="nudge_angle")
        dx = st.slider("Shift right (pixels)", -8, 8, 0, key="nudge_dx")
        dy = st.slider("Shift down (pixels)", -8, 8, 0, key="nudge_dy")
        thick = st.slider("Thicker (+) or thinner (−)", -2, 3, 0, key="nudge_thick")
        st.button("Reset", on_click=_reset_nudge, key="nudge_reset")
    moved = attribution.nudge(image, angle=angle, dx=dx, dy=dy, thicken=thick)
    p = activations.probabilities(model, moved)[0]
    digit = int(p.argmax())
    picture.image(pixels(moved), caption="Nudged input (28×28)", width=STEP_SIDE, clamp=True, output_format="PNG")
    picture.metric("Nudged prediction", str(digit), f"{p[digit]:.0%} sure", delta_color="off", delta_arrow="off")
    bars.plotly_chart(figures.probability_bars(p, height=260), width="stretch", key="nudge_bars")

def _sections_scrolled() -> None:
    """The probe saw a section come on (or go off) the screen: rerun the live fragment to fill what now shows
    (the canvas's reading is remembered: it is not worked out again). Also with nothing drawn: a section the
    canvas filled while on screen may show an older drawing."""
    rerun_fragments(LIVE_FRAGMENT)


@st.fragment
def probe() -> None:
    """The browser's word on which sections are on screen, in a fragment of its own: its first report, right
    after the page loads, then reruns only this."""
    on_screen([STEPS, NETWORK], key=PROBE, on_change=_sections_scrolled)


def digit_check(am) -> DigitCheck:
    """What the not-a-digit note needs of the active model, without the session (the route keeps it)."""
    ds = dataset()
    return DigitCheck(am.id, weakref.ref(am.model), digit_maps(), ds.x_test[:MAP_DIGITS], ds.y_test[:MAP_DIGITS])


def mark(piece: str) -> str:
    """A panel's HTML marked with this run's number. Streamlit sets an ``st.html``'s content only when it differs
    from the last run's, and the canvas may have rewritten a panel since: each run's content is thus new."""
    return f'<div data-mv-run="{st.session_state.get(LIVE_RUN, 0)}">{piece}</div>'


@st.fragment(key=LIVE_FRAGMENT)
def live(am, slots: Slots, source: str, width: int) -> None:
    """The canvas and the live panels (``mnistviz.draw_panels``), each written into its slot: the prediction,
    the notes, the probability bars, and the steps and the network's view while on screen (empty pictures
    otherwise). A stroke does not rerun this: the canvas puts the answer route's panels in place. A full run
    does, and so does scrolling one of those sections into view (or a stroke the route could not answer); the
    slower sections further down follow the drawing when asked."""
    model = am.model
    check = digit_check(am)
    st.session_state[LIVE_RUN] = st.session_state.get(LIVE_RUN, 0) + 1
    with slots.drawing:
        result, read, answered = read_input(model, source, width, functools.partial(route_panels, check))
    # Blank or not, the page keeps ONE layout (empty bars and pictures until something is drawn): a clear
    # and the next stroke then change a few values and pictures instead of removing and rebuilding every
    # section below, which cost the browser most of a stroke and made the page jump at each clear.
    drawn = result is not None and not result.blank
    # ONE forward pass for everything below (none while blank: the empty layout only needs the shapes), and
    # none at all for a drawing the answer route has just read
    if not drawn:
        stages = activations.blank_stages(model)
    else:
        stages = read if read is not None else activations.stages(model, result.image)
    proba = stages[-1].array.reshape(-1)
    digit = int(proba.argmax())
    # A fragment may only write into a container outside it that it also wrote into in the last full run:
    # each slot gets an element on every run.
    if drawn:
        use_drawing(result.image)
        st.session_state[LATEST] = (result.image, proba)
    if drawn and not answered:
        slots.answer.metric("Prediction", str(digit), f"{proba[digit]:.0%} sure", delta_color="off",
                            delta_arrow="off")
    else:  # nothing drawn, or the canvas shows it already (worked out the same way)
        slots.answer.empty()
    panels = live_panels(result if drawn else None, stages, check, shown_sections(PROBE), everything=True)
    keyed = {NOTES: slots.notes, BARS: slots.bars, STEP_PICTURES: slots.steps,
             **{row_key(i): slot for i, slot in enumerate(slots.rows)},
             **{dense_key(i): slot for i, slot in enumerate(slots.dense)}}
    for key, slot in keyed.items():
        slot.html(mark(panels[key]))
    st.session_state[DRAWN] = drawn
    freeze_after_run()


def _keep_latest() -> None:
    latest, label = latest_drawing(), st.session_state.get("keep_label")
    if latest is None or label is None:
        st.session_state["keep_note"] = ("warning", "Draw a digit and choose which one it is (0-9) first.")
        return
    handwriting().add(latest[0], int(label))
    n = len(handwriting())
    st.session_state["keep_note"] = ("success", f"Saved as a {label}: {n} drawing{'s' if n != 1 else ''} in your set.")
    st.session_state["keep_label"] = None


@st.fragment
def keep() -> None:
    """Save the latest drawing with its true digit into this session's handwriting set (the Teach page
    fine-tunes the model on that set)."""
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.pills("If it read you wrong (or right), say which digit you drew, and keep the drawing:", list(range(10)),
             key="keep_label")
    c2.button("Keep this drawing", key="keep_go", icon=":material/add:", on_click=_keep_latest)
    if note := st.session_state.pop("keep_note", None):
        getattr(st, note[0])(note[1])
    counts = handwriting().counts()
    if counts.sum():
        st.caption("Your set: " + ", ".join(f"{n}× {d}" for d, n in enumerate(counts) if n) + ".")
    st.page_link("pages/teach.py", label="Fine-tune the model on your set (Teach it your handwriting)",
                 icon=":material/edit_note:")


OPEN_SECTIONS = "draw_open_sections"  # session key: the folded sections the person left open (kept across pages)


def _remember_open(key: str, on_open: Callable[[], None] | None) -> None:
    """An expander opened or closed: remember it past a visit to another page (Streamlit forgets the state of a
    widget that a run does not draw), then do what opening it does."""
    opened = st.session_state.setdefault(OPEN_SECTIONS, set())
    (opened.add if st.session_state[key] else opened.discard)(key)
    if on_open is not None:
        on_open()


def folded(title: str, icon: str, section: Callable[..., None], *args: Any,
           on_open: Callable[[], None] | None = None) -> None:
    """``section(*args)`` under an expander titled ``title``, laid out only while it is open (opening or
    closing it reruns the page, after ``on_open``). It opens as the person left it on their last visit."""
    key = f"draw_open_{section.__name__}"
    box = st.expander(title, expanded=key in st.session_state.get(OPEN_SECTIONS, ()), icon=icon, key=key,
                      on_change=_remember_open, args=(key, on_open))
    if box.open:
        with box:
            section(*args)


# --- the page ----------------------------------------------------------------------------------

def heading(model_label: str) -> None:
    """The page's title, what it shows, and which model reads the drawing."""
    st.title("Draw a digit")
    st.markdown("Draw a digit and watch a convolutional network read it: your strokes are turned into a 28×28 "
                "picture like the ones it learned from, passed through its layers, and turned into ten "
                "probabilities, updated after every stroke.")
    st.caption(f"Model: **{model_label}**. Switch to a model you trained in the Lab with the sidebar.")


def page_styles() -> None:
    """The page's rules: the probe hidden, the live section never dimmed."""
    hide_on_screen_probe(PROBE)
    never_dims(LIVE)


active = active_model()
static_part(heading, active.label)
static_part(page_styles)
with st.container(key=LIVE):
    left, right = st.columns([1, 1.15], gap="large")
    with left:
        source, width = input_controls()
        # The answer sits right above the canvas: on a phone the columns stack, and with the canvas in view the
        # prediction stays in sight while drawing. The canvas shows a drawing's answer itself, in room it keeps
        # while empty (so the first answer does not push the canvas down); this slot holds an upload's.
        answer = st.container(height=ANSWER_HEIGHT if source != "Draw" else "content", border=False)
        drawing = st.container()
        if source == "Draw":
            static_part(st.caption, "Draw one digit, large, in the middle. Undo, redo and clear are in the canvas "
                                    "toolbar.")
    slots = Slots(answer, drawing, right.container(key=NOTES), right.container(key=BARS), steps_section(),
                  *network_section(activations.blank_stages(active.model)))
    live(active, slots, source, width)
    probe()
# The activities, each folded under its title and built only while open: the browser redraws every element of
# the page at each stroke (BENCHMARKS: folding them, with fewer lesson links, cut ten students' p50 by a quarter).
folded("Teach it your handwriting", ":material/edit_note:", keep)
folded("What made it decide", ":material/search:", explain, active.model, on_open=_explain_latest)
folded("Nudge it", ":material/open_with:", nudge, active.model)
