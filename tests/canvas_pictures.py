"""Pictures as the Draw page's canvas makes them: 280×280 RGBA, white strokes on black, and the PNG data URL
it posts to the answer route and keeps as its state (pages/draw_canvas.js)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image, ImageDraw

SIDE = 280


def drawn(shape: str) -> np.ndarray:
    """A black 280×280 RGBA canvas with white strokes: "one", "zero", "seven", "x", "dot" or "blank"."""
    img = Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    if shape == "one":
        pen.line([(140, 50), (140, 230)], fill=(255, 255, 255, 255), width=20)
    elif shape == "zero":
        pen.ellipse([80, 40, 200, 240], outline=(255, 255, 255, 255), width=20)
    elif shape == "seven":
        pen.line([(70, 50), (210, 50), (120, 240)], fill=(255, 255, 255, 255), width=20)
    elif shape == "x":
        pen.line([(60, 60), (220, 220)], fill=(255, 255, 255, 255), width=20)
        pen.line([(220, 60), (60, 220)], fill=(255, 255, 255, 255), width=20)
    elif shape == "dot":
        pen.ellipse([135, 135, 147, 147], fill=(255, 255, 255, 255))
    elif shape != "blank":
        raise ValueError(shape)
    return np.asarray(img)


def data_url(picture: np.ndarray) -> str:
    """An RGBA picture as the canvas sends it: ``data:image/png;base64,…``."""
    buf = io.BytesIO()
    Image.fromarray(picture, mode="RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
