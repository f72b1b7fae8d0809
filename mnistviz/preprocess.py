"""A canvas drawing, photo or scan → the 28×28 input the model expects, made the way MNIST was made.

LeCun's recipe: the digit is size-normalised to fit a 20×20 box keeping its aspect ratio
(anti-aliased), then centred in a 28×28 field by its centre of mass. Here, step by step:

1. ``raw``:      grayscale ink in [0, 1], white on black (dark-on-light is inverted, the paper's
                 brightness is subtracted, faint noise dropped; in a photo of paper the uneven light
                 is divided out first, so a shadow or a gradient is not taken for ink).
2. ``cropped``:  the ink's bounding box (``PIL.Image.getbbox``; no box ⇒ a blank input).
3. ``fitted``:   scaled to fit 20×20 keeping the aspect ratio (``ImageOps.contain``, Lanczos).
4. ``centred``:  pasted into 28×28 and shifted so the centre of mass sits at (14, 14), where
                 MNIST digits have theirs (``scipy.ndimage.center_of_mass`` / ``shift``).

``centred`` is exactly what the model receives (``PreprocessResult.image``).
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from .data import INPUT_SIDE as SIDE  # the model's input is 28×28

BOX = 20  # MNIST digits fit a 20×20 box
CENTRE = (14.0, 14.0)  # where MNIST digits have their centre of mass (row, col), measured on the sample
WORK_SIDE = 1024  # larger inputs are shrunk to this first: no digit needs more pixels to be read
NOISE = 0.12  # after contrast stretching, ink fainter than this is treated as paper
ALPHA_VARIES = 0.02  # RGBA whose alpha spans more than this is read by its alpha (ink where opaque)
MAX_PIXELS = 40_000_000  # uploads above this many pixels are refused before decoding
MAX_BYTES = 20 * 1024 * 1024  # and files above this many bytes
TINY_INK = 0.12  # an ink box smaller than this fraction of the picture's side: "very little ink"
FULL_INK = 0.5  # more than this fraction of the picture inked: "almost all ink"
POLARITIES = ("auto", "white-on-black", "black-on-white")
# Photos of paper: the light falls unevenly and the sensor adds grain, so the paper is not one level.
PAPER_WINDOW = 1 / 3  # the paper's level is read over windows this share of the longer side: wider than any stroke
PAPER_SIDE = 96  # ... on a copy shrunk to at most this many pixels a side (a smooth map needs no more)
UNEVEN = 0.05  # the paper's level varying more than this across the picture: uneven light, divided out
GRAINY = 0.01  # the paper's grain (robust standard deviation, in ink units) above this: a photo's noise
FAINTEST = 0.15  # in a photo, ink must absorb at least this share of the paper's light ...
GRAIN_MARGIN = 6  # ... and stand this many grain deviations above the paper
GREY_PAPER = 0.15  # a border lighter than this but darker than mid-grey may be paper in dim light
SHADE_WINDOW = 1 / 8  # a shadow at least this share of the longer side wide ...
SHADE = 0.5  # ... taking at most this share of the light is taken out as well (ink takes more)
PHOTO_FLOOR = 0.25  # in a photo, ink fainter than this share of the darkest ink is paper (a shadow's fringe)
STROKE = 0.5  # in a photo, a mark counts only if it reaches this share of the darkest ink (grain does not)


class PreprocessError(ValueError):
    """An input that cannot be turned into a digit, with a message fit to show a person."""


@dataclass
class PreprocessResult:
    """The model's input and every intermediate image (all float32 in [0, 1], white ink on black)."""

    image: np.ndarray  # (28, 28): exactly what the model receives
    raw: np.ndarray  # (H, W) grayscale ink of the whole picture
    cropped: np.ndarray  # (h, w) the ink's bounding box
    fitted: np.ndarray  # (≤20, ≤20) scaled to fit the 20×20 box
    centred: np.ndarray  # (28, 28) centred by centre of mass (same as ``image``)
    blank: bool = False  # no ink at all: nothing to predict
    inverted: bool = False  # the input was dark ink on light paper
    bbox: tuple[int, int, int, int] | None = None  # (left, top, right, bottom) in ``raw``
    ink_fraction: float = 0.0  # share of ``raw``'s pixels that carry ink
    warnings: list[str] = field(default_factory=list)


# --- step 1: grayscale ink ---------------------------------------------------------------------

def _scale_to_unit(a: np.ndarray) -> np.ndarray:
    """Any numeric array → float32 in [0, 1] (integers by their type's range, floats in [0, 1] or [0, 255])."""
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        top = 255.0 if a.max(initial=0) <= 255 else (65535.0 if a.max() <= 65535 else float(a.max()))
        return a.astype(np.float32) / top
    a = np.nan_to_num(a.astype(np.float32))
    return np.clip(a / 255.0 if a.max(initial=0) > 1.0 else a, 0.0, 1.0)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image of any mode → uint8/uint16 array, grayscale (H, W) or RGB(A) (H, W, 3|4)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img)
        if a.dtype.kind == "i" or a.dtype.byteorder not in ("=", "|"):
            a = a.astype(np.int64)
        return np.clip(a, 0, 65535).astype(np.uint16)
    if img.mode == "F":
        return np.asarray(img, dtype=np.float32)
    if img.mode in ("1", "L"):
        return np.asarray(img.convert("L"))
    if img.mode in ("P", "PA", "LA", "RGBA", "La", "RGBa") or "transparency" in img.info:
        return np.asarray(img.convert("RGBA"))
    return np.asarray(img.convert("RGB"))


def to_gray(img) -> np.ndarray:
    """A PIL image or array (grayscale, RGB or RGBA, any size) → grayscale float32 (H, W) in [0, 1].

    RGBA whose alpha varies (a transparent canvas or cut-out) is read by its alpha: the ink is
    where it is opaque. Opaque RGBA and RGB are read by their luminance.
    """
    a = _pil_to_array(img) if isinstance(img, Image.Image) else np.asarray(img)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return _scale_to_unit(a)
    if a.ndim != 3 or a.shape[-1] not in (3, 4):
        raise PreprocessError(f"expected a grayscale (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, got shape {a.shape}")
    if a.dtype == np.uint8:  # the canvas at every stroke, and most photos: no float copy of every channel
        if a.shape[-1] == 4 and int(a[..., 3].max()) - int(a[..., 3].min()) > ALPHA_VARIES * 255:
            return a[..., 3].astype(np.float32) / np.float32(255)
        r, g, b = (a[..., i].astype(np.float32) for i in range(3))
        return (r * np.float32(0.299 / 255) + g * np.float32(0.587 / 255) + b * np.float32(0.114 / 255)).astype(np.float32)
    a = _scale_to_unit(a)
    if a.shape[-1] == 4:
        alpha = a[..., 3]
        if float(alpha.max() - alpha.min()) > ALPHA_VARIES:
            return np.ascontiguousarray(alpha)
        a = a[..., :3]
    return (a @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)  # ITU-R 601, as PIL's "L"


def _shrink(gray: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    if max(gray.shape) <= side:
        return gray
    img = Image.fromarray(gray, mode="F")
    img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(img, np.float32), 0.0, 1.0)


def _shrunk(a: np.ndarray) -> np.ndarray:
    """``a`` (H, W) averaged down to at most ``PAPER_SIDE`` pixels a side (box filter: grain averages out)."""
    h, w = a.shape
    factor = max(1, int(np.ceil(max(h, w) / PAPER_SIDE)))
    img = Image.fromarray(a.astype(np.float32), mode="F")
    return np.asarray(img.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.BOX), np.float32)


def _window(small: np.ndarray) -> int:
    # of the longer side: a digit cropped tightly can be narrow, with a stroke a third of its width
    return max(3, int(round(max(small.shape) * PAPER_WINDOW)))


def _marks_are_light(gray: np.ndarray) -> bool:
    """Whether what stands out from its surroundings is clearly lighter than them (chalk on a board, a
    negative) rather than darker (ink on grey paper in dim light) or nothing at all (blank paper)."""
    small = _shrunk(gray)
    k = _window(small)
    light = small - ndimage.grey_opening(small, size=(k, k), mode="nearest")  # light marks on darker ground
    dark = ndimage.grey_closing(small, size=(k, k), mode="nearest") - small  # dark marks on lighter ground
    return float(light.max()) > 2 * float(dark.max())


def _paper_trend(small: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """A smooth surface (a quadratic in x and y) through the ``paper`` pixels of ``small`` (H, W), refitted
    a few times without the pixels that lie well above it (ink): the light's gradient, right up to the edges."""
    h, w = small.shape
    y, x = np.mgrid[-1:1:h * 1j, -1:1:w * 1j]
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1).reshape(-1, 6)
    values, paper = small.ravel(), paper.ravel()
    if paper.sum() < 4 * basis.shape[1]:
        return np.full_like(small, np.median(values))
    for _ in range(3):
        on_paper = basis[paper]
        coef = np.linalg.lstsq(on_paper.T @ on_paper, on_paper.T @ values[paper], rcond=None)[0]  # least squares
        rest = values - basis @ coef
        paper = rest < max(3 * 1.4826 * float(np.median(np.abs(rest[paper]))), 0.02)
    return (basis @ coef).reshape(h, w).astype(np.float32)


def paper_level(ink: np.ndarray) -> np.ndarray:
    """The paper's own level under every pixel of ``ink`` (H, W) (ink units: 0 = white paper in full light).

    On a shrunk copy: every stroke narrower than ``PAPER_WINDOW`` of the picture is opened away (a grey
    opening: the lowest level nearby, then the highest of those), a smooth surface is fitted through
    what is left (the light's gradient, right up to the edges), and what it misses (a shadow's edge) is
    opened out of the rest. The map is scaled back up to the picture's size."""
    small = _shrunk(ink)
    k = _window(small)
    opened = ndimage.grey_opening(small, size=(k, k), mode="nearest")
    trend = _paper_trend(small, paper=small - opened < 0.05)
    rest = ndimage.grey_opening(small - trend, size=(k, k), mode="nearest")
    level = trend + ndimage.gaussian_filter(rest, k / 6, mode="nearest")
    return np.asarray(Image.fromarray(level, mode="F").resize(ink.shape[::-1], Image.Resampling.BILINEAR), np.float32)


def _grain(a: np.ndarray, apart: int = 1) -> float:
    """The sensor's noise in ``a`` (H, W): the robust standard deviation (1.4826 × the median absolute
    value) of differences between pixels ``apart`` columns apart, over √2. Stroke edges are too few to
    move the median, and a smooth gradient barely changes between neighbours."""
    if a.shape[1] <= apart:
        return 0.0
    step = max(1, a.shape[0] * a.shape[1] // 65_536)  # every step-th row is plenty for a median
    rows = a[::step]
    return 1.4826 * float(np.median(np.abs(rows[:, apart:] - rows[:, :-apart]))) / np.sqrt(2)


def ink_on_photo(ink: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Dark-on-light ink (inverted, (H, W)) photographed in uneven light → white ink on black in [0, 1].

    Each pixel becomes the share of the paper's light at that spot that the ink absorbs (so a gradient
    or a shadow is not ink), the grain is smoothed, and what does not stand out from the grain (faint
    specks, marks that never get near the darkest ink) is set to 0. No ink at all → all zeros."""
    absorbed = (ink - level) / np.maximum(1.0 - level, 0.05)
    # What is left of a shadow narrower than the paper's window: broad, and taking less light than ink.
    small = _shrunk(absorbed)
    k = max(3, int(round(max(small.shape) * SHADE_WINDOW)))
    shade = np.clip(ndimage.grey_opening(small, size=(k, k), mode="nearest"), 0.0, SHADE)
    shade = np.asarray(Image.fromarray(shade, mode="F").resize(ink.shape[::-1], Image.Resampling.BILINEAR), np.float32)
    absorbed = (absorbed - shade) / (1.0 - shade)
    sigma = max(1.0, max(ink.shape) / 512)
    absorbed = ndimage.gaussian_filter(absorbed, sigma)
    grain = _grain(absorbed, apart=int(np.ceil(3 * sigma)))  # smoothed: neighbours share their noise
    peak = float(absorbed.max(initial=0.0))
    if peak < max(FAINTEST, GRAIN_MARGIN * grain):
        return np.zeros_like(ink, dtype=np.float32)
    out = np.clip(absorbed / peak, 0.0, 1.0)
    out[out < max(PHOTO_FLOOR, GRAIN_MARGIN * grain / peak)] = 0.0
    marks, n = ndimage.label(out > 0)
    strong = np.zeros(n + 1, bool)
    strong[marks[out >= STROKE]] = True
    strong[0] = False
    return np.where(strong[marks], out, 0.0).astype(np.float32)


def to_ink(gray: np.ndarray, polarity: str = "auto") -> tuple[np.ndarray, bool]:
    """Grayscale (H, W) → white ink on black in [0, 1], and whether it was inverted.

    The paper's brightness is the median of the picture's border: with ``polarity="auto"``, a
    light border means dark ink on light paper and the picture is inverted (``"white-on-black"``
    and ``"black-on-white"`` force it, e.g. for the drawing canvas whose colours are known). The paper level is then subtracted, the contrast stretched to a peak of 1,
    and what stays fainter than ``NOISE`` (paper texture, JPEG noise) set to 0.

    Paper photographed in uneven light or with a grainy sensor (``paper_level`` varies, or the paper's
    grain shows) goes through ``ink_on_photo`` instead: the light is divided out before ink is looked for.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be one of {POLARITIES}, got {polarity!r}")
    edge = float(np.median(border))
    inverted = polarity == "black-on-white" or (
        polarity == "auto" and (edge > 0.5 or (edge > GREY_PAPER and not _marks_are_light(gray))))
    ink = 1.0 - gray if inverted else gray
    if inverted:
        level = paper_level(ink)
        if float(level.max() - level.min()) > UNEVEN or _grain(ink - level) > GRAINY:
            return ink_on_photo(ink, level), inverted
    paper = min(0.5, float(np.median(1.0 - border if inverted else border)))
    peak = float(ink.max(initial=0.0))
    if peak - paper < 0.1:  # nothing stands out from the paper
        return np.zeros_like(ink), inverted
    ink = np.clip((ink - paper) / (peak - paper), 0.0, 1.0)
    ink[ink < NOISE] = 0.0
    return ink.astype(np.float32), inverted


# --- steps 2-4 ---------------------------------------------------------------------------------

def fit_box(cropped: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale ``(h, w)`` to fit ``box``×``box`` keeping the aspect ratio (Lanczos, anti-aliased)."""
    img = ImageOps.contain(Image.fromarray(cropped.astype(np.float32), mode="F"), (box, box),
                           Image.Resampling.LANCZOS)
    return np.clip(np.asarray(img, np.float32), 0.0, 1.0)


def centre_by_mass(fitted: np.ndarray, side: int = SIDE, centre: tuple[float, float] = CENTRE) -> np.ndarray:
    """Paste ``fitted`` in the middle of a ``side``×``side`` field, then move its centre of mass to ``centre``.

    The shift is rounded to whole pixels, as in MNIST (no extra blur).
    """
    h, w = fitted.shape
    field_ = np.zeros((side, side), np.float32)
    top, left = (side - h) // 2, (side - w) // 2
    field_[top:top + h, left:left + w] = fitted
    if field_.sum() <= 0:
        return field_
    cy, cx = ndimage.center_of_mass(field_)
    dy, dx = np.rint(centre[0] - cy), np.rint(centre[1] - cx)
    moved = ndimage.shift(field_, (dy, dx), order=0, mode="constant", cval=0.0)
    return np.clip(moved, 0.0, 1.0).astype(np.float32)


def _blank(raw: np.ndarray, inverted: bool) -> PreprocessResult:
    zeros = np.zeros((SIDE, SIDE), np.float32)
    return PreprocessResult(image=zeros, raw=raw, cropped=np.zeros((0, 0), np.float32),
                            fitted=np.zeros((0, 0), np.float32), centred=zeros, blank=True, inverted=inverted)


def preprocess_image(img, polarity: str = "auto") -> PreprocessResult:
    """A PIL image or array (canvas RGBA, RGB or grayscale; any size; either polarity) → ``PreprocessResult``.

    ``polarity``: ``"auto"`` (detect dark-on-light from the border), or ``"white-on-black"`` when it is
    known, as for the drawing canvas (a canvas scribbled full of white must not be read as paper).
    A picture without ink gives ``blank=True`` (and a zero image), not an exception.
    """
    gray = _shrink(to_gray(img))
    if gray.size == 0:
        raise PreprocessError("the image has no pixels")
    raw, inverted = to_ink(gray, polarity)
    bbox = Image.fromarray(raw, mode="F").getbbox()
    if bbox is None:
        return _blank(raw, inverted)
    left, top, right, bottom = bbox
    cropped = raw[top:bottom, left:right]
    fitted = fit_box(cropped)
    centred = centre_by_mass(fitted)
    ink_fraction = float(np.mean(raw > 0.5))
    notes = []
    if max(right - left, bottom - top) < TINY_INK * max(raw.shape):
        notes.append("Very little ink: a tiny mark is blown up to fill the 20×20 box, so the prediction "
                     "is little more than a guess. Draw the digit larger.")
    if ink_fraction > FULL_INK:
        notes.append(f"Almost all ink ({ink_fraction:.0%} of the picture): there is no digit shape left to "
                     "read, so the prediction is little more than a guess.")
    return PreprocessResult(image=centred, raw=raw, cropped=cropped, fitted=fitted, centred=centred,
                            inverted=inverted, bbox=bbox, ink_fraction=ink_fraction, warnings=notes)


# --- files -------------------------------------------------------------------------------------

def _read_bytes(source: str | Path | bytes | BinaryIO) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise PreprocessError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
        if size > MAX_BYTES:
            raise PreprocessError(f"the file is too large ({size / 2**20:.0f} MB; at most {MAX_BYTES // 2**20} MB)")
        return path.read_bytes()
    if hasattr(source, "getvalue"):  # e.g. Streamlit's UploadedFile, io.BytesIO
        return bytes(source.getvalue())
    if hasattr(source, "read"):
        return source.read(MAX_BYTES + 1)
    raise PreprocessError(f"cannot read an image from a {type(source).__name__}")


def open_image(source: str | Path | bytes | BinaryIO) -> Image.Image:
    """Open and decode an image file safely: size checks first, then decoding; every failure is a ``PreprocessError``."""
    raw = _read_bytes(source)
    if len(raw) == 0:
        raise PreprocessError("the file is empty")
    if len(raw) > MAX_BYTES:
        raise PreprocessError(f"the file is too large ({len(raw) / 2**20:.0f} MB; at most {MAX_BYTES // 2**20} MB)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(raw))  # reads the header only
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise PreprocessError(f"the image is too large ({w:,}×{h:,} pixels; at most "
                                      f"{MAX_PIXELS / 1e6:.0f} megapixels). Please upload a smaller picture.")
            if w == 0 or h == 0:
                raise PreprocessError("the image has no pixels")
            img.load()
            img = ImageOps.exif_transpose(img)  # phone photos: apply the camera's rotation
        except PreprocessError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PreprocessError("the image is too large to open safely. Please upload a smaller picture.") from exc
        except UnidentifiedImageError as exc:
            raise PreprocessError("this file is not an image we can read (use a PNG or JPEG)") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise PreprocessError(f"the image is damaged or truncated and cannot be decoded ({exc})") from exc
    return img


def preprocess_file(source: str | Path | bytes | BinaryIO) -> PreprocessResult:
    """An image file (path, bytes or an uploaded file) → ``PreprocessResult``; bad files raise ``PreprocessError``."""
    return preprocess_image(open_image(source))


# --- batches (the CLI's --preprocess) ----------------------------------------------------------

def prepare_batch(x: np.ndarray) -> np.ndarray:
    """Every image of ``x`` (grayscale ``(N, H, W)`` or RGB(A) ``(N, H, W, 3|4)``, any size, either
    polarity) through ``preprocess_image`` → float32 ``(N, 28, 28)``; blank images become zeros."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[-1] in (3, 4))):
        raise PreprocessError(f"x must have shape (N, H, W) or (N, H, W, 3|4), got {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise PreprocessError(f"x must hold numbers, got {x.dtype}")
    out = np.zeros((len(x), SIDE, SIDE), np.float32)
    for i, image in enumerate(x):
        out[i] = preprocess_image(image).image
    return out
