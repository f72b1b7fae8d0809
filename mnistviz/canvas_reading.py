"""A canvas drawing read by a model: the PNG decoded, preprocessed like MNIST and passed forward once.

A stroke is read by the answer route (``mnistviz.answer_route``) the moment it ends, and again by the
session's next run (another page, or a Draw page section), which needs the same preprocessing steps and
every layer's output. ``read_drawing`` remembers its last readings per model, keyed by the PNG's hash, so
that run reuses the route's work instead of repeating it. The model is the key's other half, held weakly: a model
shared by every session (the default) shares its readings, each session's own model has its own, and they
go with the model. Readings are shared: their arrays are read-only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from mnistviz import activations
from mnistviz.preprocess import PreprocessResult, preprocess_image

MAX_PIXELS = 4_000_000  # a canvas is 280×280; anything this big is not one
RECENT_PER_MODEL = 32  # a stroke's route call and page run are ~0.1-1 s apart; ~0.5 MB each


class BadDrawing(ValueError):
    """The posted picture cannot be read as an image."""


@dataclass(frozen=True)
class Reading:
    """A drawing read by a model: every preprocessing step, and each layer's output (``None`` when
    nothing is drawn); ``proba`` is the ten probabilities ``(10,)``."""
    result: PreprocessResult
    stages: list[activations.Stage] | None

    @property
    def proba(self) -> np.ndarray | None:
        return None if self.stages is None else self.stages[-1].array.reshape(-1)


def decode_png(data_url: str) -> np.ndarray:
    """A canvas' ``data:image/png;base64,…`` (or bare base64) → its RGBA pixels ``(H, W, 4)`` uint8."""
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(data_url.split(",", 1)[-1], validate=True)
        with Image.open(io.BytesIO(raw)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise BadDrawing("the picture is too large")
            return np.asarray(img.convert("RGBA"))
    except (binascii.Error, UnidentifiedImageError, OSError) as exc:
        raise BadDrawing("the picture could not be read") from exc


def read_rgba(model, rgba: np.ndarray) -> Reading:
    """A white-on-black canvas picture ``(H, W, 4)`` → its ``Reading`` by ``model`` (not remembered)."""
    result = preprocess_image(rgba, polarity="white-on-black")
    return Reading(result, None if result.blank else activations.stages(model, result.image))


class _Recent:
    """One model's latest readings, by the PNG's hash (least recently used forgotten first)."""

    def __init__(self, _model=None):
        self.readings: "OrderedDict[bytes, Reading]" = OrderedDict()
        self.lock = threading.Lock()


_recent = activations.PerModel(_Recent)


def read_drawing(model, png: str) -> Reading:
    """The canvas' PNG data URL read by ``model``: the same ``Reading`` for the same picture and model, worked
    out once (raises ``BadDrawing`` for a picture that cannot be read)."""
    key = hashlib.sha256(png.encode()).digest()
    recent = _recent(model)
    with recent.lock:
        if (found := recent.readings.get(key)) is not None:
            recent.readings.move_to_end(key)
            return found
    reading = read_rgba(model, decode_png(png))
    _freeze(reading)
    with recent.lock:
        recent.readings[key] = reading
        while len(recent.readings) > RECENT_PER_MODEL:
            recent.readings.popitem(last=False)
    return reading


def _freeze(reading: Reading) -> None:
    """Shared between sessions and threads: no one may write into it."""
    r = reading.result
    for a in (r.image, r.raw, r.cropped, r.fitted, r.centred, *(s.array for s in reading.stages or ())):
        a.setflags(write=False)
