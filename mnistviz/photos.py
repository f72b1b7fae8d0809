"""Synthetic photos of a digit on paper, for tests and figures: an MNIST digit ``(28, 28)`` drawn in dark
ink on grey paper, photographed in uneven light (a brightness gradient, a soft shadow), slightly out of focus, with
sensor noise, a slight rotation, at any picture size and digit size. Deterministic by seed.

What the camera records, per pixel: ``light × (paper − (paper − ink) × coverage)``, blurred, plus noise,
where ``coverage`` is the MNIST digit's value in [0, 1] (its anti-aliased edges are half-inked).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage, special

WIDTH = 1024  # the blur is given in pixels of a picture this wide and scales with the picture
PAPER_TINT = np.array([1.0, 0.97, 0.9], np.float32)  # warm indoor light on grey paper (RGB)


@dataclass(frozen=True)
class PhotoStyle:
    """How one synthetic photo looks. Reflectances and light are in [0, 1] of full white."""

    size: tuple[int, int] = (1024, 768)  # (width, height) in pixels
    digit_height: float = 0.5  # the digit's 28×28 field, as a share of the picture's height
    offset: tuple[float, float] = (0.0, 0.0)  # the digit's centre moved right/down, as shares of width/height
    angle: float = 0.0  # degrees, counter-clockwise
    paper: float = 0.7  # the paper's reflectance (grey paper < 1)
    ink: float = 0.12  # the ink's reflectance
    light: float = 0.5  # the darkest corner gets (1 − light) of the brightest corner's light
    light_angle: float = 0.0  # direction the light falls off to, in degrees
    shadow: float = 0.0  # a soft-edged shadow (the phone's, a hand's) takes this share of the light ...
    shadow_edge: float = 0.4  # ... where it falls: up to this share of the picture along ``shadow_angle``
    shadow_angle: float = 0.0  # degrees (0: the shadow comes in from the left)
    shadow_soft: float = 0.05  # the width of its penumbra, as a share of the picture
    blur: float = 1.5  # out of focus: Gaussian sigma in pixels of a 1024-wide picture
    noise: float = 0.02  # sensor noise: standard deviation of each pixel's brightness


def random_style(rng: np.random.Generator, size: tuple[int, int] = (1024, 768)) -> PhotoStyle:
    """A plausible phone photo of a digit on paper: digit sizes from a quarter of the picture's height to
    most of it, ±8° rotation, grey paper, light falling off by 20-55 % across the picture, and in half of
    them a soft shadow taking another 20-45 % of the light from part of the picture."""
    digit_height = float(rng.uniform(0.25, 0.9))
    box = digit_height * 20 / 28  # the digit itself (MNIST's 20×20 box), as a share of the height
    room_x, room_y = (1.0 - box * size[1] / size[0]) / 2, (1.0 - box) / 2  # keep it inside the picture
    return PhotoStyle(
        size=size,
        digit_height=digit_height,
        offset=(float(rng.uniform(-room_x, room_x)), float(rng.uniform(-room_y, room_y))),
        angle=float(rng.uniform(-8, 8)),
        paper=float(rng.uniform(0.55, 0.85)),
        ink=float(rng.uniform(0.05, 0.2)),
        light=float(rng.uniform(0.2, 0.55)),
        light_angle=float(rng.uniform(0, 360)),
        shadow=float(rng.uniform(0.2, 0.45)) if rng.random() < 0.5 else 0.0,  # half of them
        shadow_edge=float(rng.uniform(0.2, 0.6)),
        shadow_angle=float(rng.uniform(0, 360)),
        shadow_soft=float(rng.uniform(0.02, 0.08)),
        blur=float(rng.uniform(0.5, 2.5)),
        noise=float(rng.uniform(0.005, 0.03)),
    )


def _coverage(digit: np.ndarray, style: PhotoStyle) -> np.ndarray:
    """The digit's ink coverage in [0, 1] on the whole picture ``(H, W)``: scaled, rotated, placed."""
    w, h = style.size
    side = max(2, int(round(style.digit_height * h)))
    d = np.asarray(digit, np.float32)
    d = d / 255.0 if d.max(initial=0) > 1.0 else d
    big = Image.fromarray(np.clip(d, 0, 1), mode="F").resize((side, side), Image.Resampling.BICUBIC)
    big = big.rotate(style.angle, resample=Image.Resampling.BICUBIC, expand=True)
    field = Image.new("F", (w, h), 0.0)
    cx, cy = w / 2 + style.offset[0] * w, h / 2 + style.offset[1] * h
    field.paste(big, (int(round(cx - big.width / 2)), int(round(cy - big.height / 2))))
    return np.clip(np.asarray(field, np.float32), 0.0, 1.0)


def _ramp(size: tuple[int, int], angle: float) -> np.ndarray:
    """0 → 1 across a picture of ``size`` (width, height), rising in the direction ``angle`` (degrees)."""
    w, h = size
    t = np.deg2rad(angle)
    ramp = (np.cos(t) * np.arange(w, dtype=np.float32) / w)[None, :] + (np.sin(t) * np.arange(h, dtype=np.float32) / h)[:, None]
    return (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)


def _light(style: PhotoStyle) -> np.ndarray:
    """The light falling on the paper ``(H, W)``: 1 at the brightest corner, ``1 − light`` at the darkest,
    less ``shadow`` where the shadow falls (its edge blurred over ``shadow_soft`` of the picture)."""
    light = 1.0 - style.light * _ramp(style.size, style.light_angle)
    if style.shadow > 0:
        across = _ramp(style.size, style.shadow_angle) - style.shadow_edge
        light *= 1.0 - style.shadow * 0.5 * special.erfc(across / (max(style.shadow_soft, 1e-3) * np.sqrt(2)))
    return light.astype(np.float32)


def render_photo(digit: np.ndarray, style: PhotoStyle | None = None, seed: int = 0) -> Image.Image:
    """An MNIST digit ``(28, 28)`` (uint8 0-255 or float 0-1, white ink on black) → an RGB photo of it
    written in dark ink on grey paper (``style.size``), deterministic for a given ``seed``."""
    style = style or PhotoStyle()
    rng = np.random.default_rng(seed)
    coverage = _coverage(digit, style)
    reflectance = style.paper - (style.paper - style.ink) * coverage
    scene = reflectance * _light(style)
    sigma = style.blur * style.size[0] / WIDTH
    if sigma > 0:
        scene = ndimage.gaussian_filter(scene, sigma)
    scene += style.noise * rng.standard_normal(scene.shape, np.float32)
    rgb = scene[..., None] * (PAPER_TINT * 255)
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), mode="RGB")


def blank_photo(style: PhotoStyle | None = None, seed: int = 0) -> Image.Image:
    """The same photo with nothing written on the paper (only the light's gradient, blur and noise)."""
    return render_photo(np.zeros((28, 28), np.float32), style, seed)


def encode(img: Image.Image, fmt: str = "PNG", quality: int = 90) -> bytes:
    """A picture as file bytes (``"PNG"`` or ``"JPEG"``), as a person would upload it."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": quality} if fmt.upper() in ("JPEG", "JPG") else {}))
    return buf.getvalue()
