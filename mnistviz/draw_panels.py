"""The Draw page's live panels as HTML: the notes, the probability bars, the four preprocessing steps and the
network's view, for one drawing (or none). The page's run puts them in their keyed containers, and the answer
route (``mnistviz.answer_route``) sends the same HTML after each stroke, which the canvas puts in place
without a script run; so this module never touches Streamlit, and its functions run in the route's threads
as well as in a page run.
"""

from __future__ import annotations

import functools
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from mnistviz import activations, figures, lessons
from mnistviz.preprocess import PreprocessResult

STEP_SIDE = 140  # each preprocessing step is shown this many pixels wide
STEP_GAP = 12
BLANK_GREY = 235  # the preprocessing squares before anything is drawn
MAP_STRIP_WIDTH, MAP_STRIP_GAP = 300, 16  # each stage's mosaic in the network's view, and the space between
MAPS_PER_ROW = 4  # stages side by side in one row of the network's view (one picture per row)
# The sections below the canvas, as keyed containers: their pictures are drawn only while they are on the
# screen (a laptop shows the canvas and the bars; these are further down).
STEPS, NETWORK = "draw-steps", "draw-network"
# The live panels: keyed containers of ONE st.html each, which the page's run fills and the canvas rewrites
# after each stroke from the answer route's reply. The steps' and the network's are filled only while their
# section is on screen.
NOTES, BARS, STEP_PICTURES = "draw-notes", "draw-bars", "draw-step-pictures"
PROMPT = ("Draw a digit from 0 to 9 on the black square (or upload a picture). Its prediction, every "
          "preprocessing step and the network's view appear after each stroke.")
STEP_CAPTIONS = ("1 · Your picture", "2 · Cropped to the ink", "3 · Scaled to fit 20×20",
                 "4 · Centred in 28×28: the model's input")
# The stages drawn as feature-map strips, and the page that explains each (from mnistviz.lessons).
STAGE_PAGES = {kind: (lessons.lesson_for_kind(kind).path, lessons.lesson_for_kind(kind).topic)
               for kind in ("Conv2D", "MaxPooling2D")}



def pixels(a: np.ndarray, side: int = STEP_SIDE) -> np.ndarray:
    """An image in [0, 1] → a ``side``×``side`` uint8 picture: small ones blown up with sharp pixels, big
    ones shrunk (``step_picture``), and anything not square set on a grey margin so its own edges stay visible."""
    out = np.full((side, side), 90, np.uint8)
    if np.size(a) == 0:
        return out
    pic = step_picture(a, side)
    if max(pic.shape) < side:
        k = side // max(pic.shape)
        pic = np.repeat(np.repeat(pic, k, axis=0), k, axis=1)
    top, left = (side - pic.shape[0]) // 2, (side - pic.shape[1]) // 2
    out[top:top + pic.shape[0], left:left + pic.shape[1]] = pic
    return out


def blank_like(index: np.ndarray, drawn: bool) -> np.ndarray:
    """A palette picture as it is, or (nothing drawn yet) its empty cells: the page keeps its layout, and a
    stroke or a clear only swaps pictures instead of building the section again."""
    return index if drawn else figures.blank_mosaic(index)


def step_picture(a: np.ndarray, side: int = STEP_SIDE) -> np.ndarray:
    """A step's image in [0, 1] → uint8 at its own size (the browser blows it up), or shrunk by area averaging
    to fit a ``side`` square when bigger: the canvas's 280×280 is sent at the 140×140 it shows (exact, and a
    quarter of Lanczos' cost)."""
    img = Image.fromarray(np.clip(np.rint(np.asarray(a, np.float32) * 255), 0, 255).astype(np.uint8))
    if max(img.size) > side:
        img = ImageOps.contain(img, (side, side), Image.Resampling.BOX)
    return np.asarray(img)


def steps_html(pictures: list[np.ndarray | None], captions: tuple[str, ...]) -> str:
    """The four steps' pictures, each in its square with a caption under it, as one piece of HTML."""
    return figures.captioned_squares_html(pictures, list(captions), width=4 * STEP_SIDE + 3 * STEP_GAP, gap=STEP_GAP,
                                          alt="A preprocessing step", blank=BLANK_GREY)


@functools.cache
def blank_steps_html() -> str:
    """The four empty squares shown before anything is drawn (and while the section is off screen)."""
    return steps_html([None] * 4, STEP_CAPTIONS)


def steps_piece(r: PreprocessResult | None) -> str:
    """The four steps of the drawing (empty squares when ``r`` is ``None``), with their captions: one piece of
    HTML, never wider than the four squares side by side."""
    if r is None:
        return blank_steps_html()
    h, w = r.cropped.shape
    fh, fw = r.fitted.shape
    captions = (f"1 · Your picture, {r.raw.shape[1]}×{r.raw.shape[0]}" + (" (inverted)" if r.inverted else ""),
                f"2 · Cropped to the ink, {w}×{h}", f"3 · Scaled to fit 20×20: {fw}×{fh}", STEP_CAPTIONS[3])
    return steps_html([step_picture(img) for img in (r.raw, r.cropped, r.fitted, r.image)], captions)


def map_rows(stages: list[activations.Stage]) -> list[list[activations.Stage]]:
    """The conv/pool stages in rows of up to four (one picture per row)."""
    maps = [s for s in stages if s.kind in STAGE_PAGES]
    return [maps[i:i + MAPS_PER_ROW] for i in range(0, len(maps), MAPS_PER_ROW)]


def dense_stages(stages: list[activations.Stage]) -> list[activations.Stage]:
    """The hidden dense layers (the logits are the bars)."""
    return [s for s in stages if s.kind == "Dense" and s.name != "logits"]


def row_key(i: int) -> str:
    """The key of the network view's ``i``-th row of maps (a live panel)."""
    return f"draw-row-{i}"


def dense_key(i: int) -> str:
    """The key of the network view's ``i``-th dense layer (a live panel)."""
    return f"draw-dense-{i}"


def row_html(row: list[activations.Stage], drawn: bool) -> str:
    """One row of up to four stages' feature maps, each stage's mosaic a small palette picture the browser
    blows up to its column (empty cells when not ``drawn``; a short row keeps its columns' widths)."""
    mosaics = [blank_like(figures.mosaic_index(s.array[0]), drawn) for s in row]
    alts = [f"{s.name}: {s.shape[-1]} feature maps" for s in row]
    pad = MAPS_PER_ROW - len(row)
    return figures.pixel_row_html(mosaics + [None] * pad, figures.VIRIDIS_PALETTE, alts=alts + [""] * pad,
                                  width=MAPS_PER_ROW * MAP_STRIP_WIDTH + (MAPS_PER_ROW - 1) * MAP_STRIP_GAP,
                                  gap=MAP_STRIP_GAP)


def dense_html(s: activations.Stage, drawn: bool) -> str:
    """A dense layer's units as a 1:4 strip of squares, with its size under it (empty cells, and no count of
    active units, when not ``drawn``)."""
    v = s.array[0]
    side = int(np.ceil(np.sqrt(len(v) / 4)))
    grid = np.full(side * side * 4, np.nan, np.float32)
    grid[:len(v)] = v
    units = blank_like(figures.mosaic_index(grid.reshape(side, side * 4, 1)), drawn)
    active = f", {int((v > 0).sum()):,} active" if drawn else ""
    return figures.pixel_row_html([units], figures.VIRIDIS_PALETTE, width=1, gap=0, alts=[f"{s.name}'s units"],
                                  caption=f"{s.name}: {len(v):,} units{active} (one square each)")


# layout → the network's empty pictures, for every session (the route's threads too: a lock, as a full dict is
# trimmed). Not st.cache_resource: its bookkeeping cost more than the lookup.
_blank_networks: dict[str, tuple[list[str], list[str]]] = {}
_blank_lock = threading.Lock()


def blank_network(stages: list[activations.Stage]) -> tuple[list[str], list[str]]:
    """The network's pictures with empty cells, keyed by the stages' names, kinds and shapes (all they depend
    on): built once per layout."""
    layout = ";".join(f"{s.name}/{s.kind}/{s.shape}" for s in stages)
    if (found := _blank_networks.get(layout)) is None:
        zeros = [activations.Stage(s.name, s.kind, s.shape, np.zeros(s.shape, np.float32)) for s in stages]
        found = ([row_html(row, False) for row in map_rows(zeros)], [dense_html(s, False) for s in dense_stages(zeros)])
        with _blank_lock:
            while len(_blank_networks) >= 32:
                _blank_networks.pop(next(iter(_blank_networks)))
            _blank_networks[layout] = found
    return found


def network_pieces(stages: list[activations.Stage], drawn: bool) -> dict[str, str]:
    """Each row of feature maps, and each dense layer's units, as ONE piece of HTML with small inline pictures
    (empty cells when not ``drawn``), by panel key. Not Plotly charts: each chart costs the browser ~25 ms to
    redraw, and these overview strips have no values to hover. Palette indices, not RGB: a third of the
    bytes to compress and send."""
    if drawn:
        rows = [row_html(row, True) for row in map_rows(stages)]
        dense = [dense_html(s, True) for s in dense_stages(stages)]
    else:
        rows, dense = blank_network(stages)
    return {**{row_key(i): piece for i, piece in enumerate(rows)},
            **{dense_key(i): piece for i, piece in enumerate(dense)}}


@dataclass(frozen=True)
class DigitCheck:
    """What the not-a-digit note needs, without the session: the model's content key and the model (held
    weakly: the answer route keeps this per session), the maps of every session, and their test digits."""
    model_id: str
    model: "weakref.ref"
    maps: Any
    images: np.ndarray
    labels: np.ndarray


def not_a_digit_note(check: DigitCheck, image: np.ndarray, stages: list) -> str | None:
    """When the drawing lies farther from every test digit than almost any digit does, the note saying so, and
    why the probability still reads high. Two matrix-vector products once the model's map is fitted (in the
    background: until then, nothing is said)."""
    model = check.model()
    if model is None:
        return None
    try:
        emb = check.maps.get(check.model_id, model, check.images, check.labels, wait=False)
    except Exception:  # noqa: BLE001 - a failed fit only costs this note; the Map page shows the error
        return None
    if emb is None:
        return None
    found = emb.check(emb.features_from_stages(image, stages))
    if found.is_digit:
        return None
    return ("**This does not look like any digit the model learned.** " + found.reason + " The model still names "
            "one of ten digits, often \"sure\": softmax shares out 100 % among the ten answers it knows, and has "
            "no way to say \"none of these\".")


def live_panels(result: PreprocessResult | None, stages: list[activations.Stage], check: DigitCheck,
                on_screen: set | frozenset, everything: bool) -> dict[str, str]:
    """The live panels' HTML by key, for a drawing's ``result`` and every layer's output (``None``: nothing
    drawn; ``stages`` are then the model's empty ones): the notes, the bars, and the steps' and the network's
    pictures while their sections are ``on_screen``. With ``everything`` (the page's run: each container gets
    an element every run) the sections off screen get their empty pictures, else they are left out (the answer
    route's reply)."""
    drawn = result is not None and not result.blank
    proba = stages[-1].array.reshape(-1) if drawn else np.zeros(10)
    notes = [figures.note_html("info", PROMPT)] if not drawn else [
        figures.note_html("warning", w) for w in result.warnings]
    if drawn and (note := not_a_digit_note(check, result.image, stages)) is not None:
        notes.append(figures.note_html("warning", note))
    panels = {NOTES: "".join(notes) or "<div></div>",
              BARS: figures.probability_bars_html(proba, title="Probability of each digit", height=280)}
    if everything or STEPS in on_screen:
        panels[STEP_PICTURES] = steps_piece(result if drawn and STEPS in on_screen else None)
    if everything or NETWORK in on_screen:
        panels.update(network_pieces(stages, drawn and NETWORK in on_screen))
    return panels


def route_panels(check: DigitCheck, reading, want: frozenset) -> dict[str, str]:
    """The live panels for the answer route's reply to a stroke (``reading``: the canvas's drawing read by the
    model; ``None`` after a clear), ``want`` the sections on the person's screen. Outside any script run."""
    model = check.model()
    if model is None:
        return {}
    if reading is None or reading.stages is None:
        return live_panels(None, activations.blank_stages(model), check, want, everything=False)
    return live_panels(reading.result, reading.stages, check, want, everything=False)
