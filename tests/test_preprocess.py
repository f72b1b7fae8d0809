"""Preprocessing (mnistviz.preprocess): real sample digits moved and scaled onto a canvas keep their
prediction; blank, dot and full-ink drawings; dark-on-light inversion; bad, huge, 16-bit, palette and
RGBA uploads; the CLI's ``evaluate --preprocess``."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mnistviz import activations, data, pretrained
from mnistviz.preprocess import (MAX_PIXELS, PreprocessError, PreprocessResult, prepare_batch, preprocess_file,
                                 preprocess_image)

ROOT = Path(__file__).resolve().parents[1]
CANVAS = 280


def digit_on_canvas(digit: np.ndarray, rng: np.random.Generator, canvas: int = CANVAS,
                    scale: float | None = None, thicken: int | None = None) -> np.ndarray:
    """A 28×28 uint8 digit scaled (×3…×9.5), drawn thicker and moved off-centre on a black
    ``canvas``×``canvas`` RGBA array, as the drawing canvas sends it."""
    scale = float(rng.uniform(3.0, 9.5)) if scale is None else scale
    side = int(round(28 * scale))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
    thicken = int(rng.integers(1, max(2, int(scale)))) if thicken is None else thicken
    if thicken > 1:
        big = ndimage.grey_dilation(big, size=(thicken, thicken))
    top, left = (int(rng.integers(0, canvas - side + 1)) for _ in range(2))
    out = np.zeros((canvas, canvas, 4), np.uint8)
    out[..., 3] = 255
    out[top:top + side, left:left + side, :3] = big[..., None]
    return out


@pytest.fixture(scope="module")
def sample():
    return data.load_sample()


@pytest.fixture(scope="module")
def model():
    return pretrained.load_default_model()


def predict(model, images) -> np.ndarray:
    return activations.probabilities(model, np.asarray(images, np.float32)).argmax(axis=1)


# --- real digits on a canvas -------------------------------------------------------------------

def test_canvas_digits_keep_their_prediction(sample, model):
    """200 real digits scaled (×3…×9.5), thickened and moved around a 280×280 canvas: the model's answer
    on the preprocessed canvas matches its answer on the original 28×28 digit."""
    rng = np.random.default_rng(4)
    x = sample.x_test[:200]
    proba = activations.probabilities(model, data.scale(x))
    plain, sure = proba.argmax(axis=1), proba.max(axis=1) >= 0.9
    drawn = [preprocess_image(digit_on_canvas(d, rng)) for d in x]
    assert not any(r.blank for r in drawn)
    images = np.stack([r.image for r in drawn])
    assert images.shape == (200, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    same = predict(model, images) == plain
    # where the model is sure of the original, the canvas version must (nearly) always agree; overall
    # agreement also counts borderline digits of a weak model, which a one-pixel change can flip
    assert sure.sum() >= 50
    assert same[sure].mean() >= 0.97, f"only {same[sure].mean():.1%} of the confidently read digits agree"
    assert same.mean() >= 0.9, f"only {same.mean():.1%} of the canvas digits keep their prediction"


def test_steps_have_mnist_geometry(sample):
    r = preprocess_image(digit_on_canvas(sample.x_test[0], np.random.default_rng(0), scale=6.0, thicken=3))
    assert isinstance(r, PreprocessResult) and not r.blank and not r.warnings
    assert r.raw.shape == (CANVAS, CANVAS)
    assert max(r.fitted.shape) == 20 and min(r.fitted.shape) <= 20
    assert r.centred is r.image
    cy, cx = ndimage.center_of_mass(r.image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    ys, xs = np.nonzero(r.image > 0.1)
    assert ys.max() - ys.min() <= 22 and xs.max() - xs.min() <= 22  # fits the 20×20 box (plus Lanczos' fringe)


def test_plain_mnist_digit_is_left_almost_unchanged(sample):
    d = sample.x_test[3]
    r = preprocess_image(d)
    assert np.corrcoef(r.image.ravel(), data.scale(d).ravel())[0, 1] > 0.9


def test_vertical_stroke_is_thin_and_tall():
    canvas = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[60:220, 130:150, :3] = 255
    r = preprocess_image(canvas)
    assert r.fitted.shape[0] == 20 and r.fitted.shape[1] <= 4


# --- blank, dot, full ink ----------------------------------------------------------------------

def test_blank_canvas_is_blank_not_an_error():
    canvas = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    canvas[..., 3] = 255
    r = preprocess_image(canvas)
    assert r.blank and r.image.shape == (28, 28) and not r.image.any()
    assert preprocess_image(np.zeros((CANVAS, CANVAS, 4), np.uint8)).blank  # transparent, never touched
    assert preprocess_image(np.full((50, 60), 255, np.uint8)).blank  # white paper


def test_single_dot_gives_a_result_and_a_warning():
    canvas = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[135:145, 135:145, :3] = 255
    r = preprocess_image(canvas)
    assert not r.blank and r.image.max() > 0.5
    assert any("little ink" in w for w in r.warnings)


def test_full_ink_gives_a_result_and_a_warning():
    canvas = np.full((CANVAS, CANVAS, 4), 255, np.uint8)
    canvas[:30, :30, :3] = 0  # a corner left black
    r = preprocess_image(canvas, polarity="white-on-black")  # the canvas' colours are known
    assert not r.blank and not r.inverted
    assert any("all ink" in w for w in r.warnings)
    # without knowing, white everywhere reads as paper with a small black mark: still a warning
    assert preprocess_image(canvas).warnings


# --- polarity and colour models ----------------------------------------------------------------

def test_dark_on_light_is_inverted(sample, model):
    d = sample.x_test[:20]
    on_paper = [np.asarray(Image.fromarray(255 - x).resize((140, 140), Image.Resampling.BILINEAR)) for x in d]
    # grey paper with a little noise, as in a scan or a photo
    rng = np.random.default_rng(1)
    noisy = [np.clip(0.8 * p + 40 + rng.normal(0, 4, p.shape), 0, 255).astype(np.uint8) for p in on_paper]
    results = [preprocess_image(p) for p in noisy]
    assert all(r.inverted for r in results)
    agree = np.mean(predict(model, [r.image for r in results]) == predict(model, data.scale(d)))
    assert agree >= 0.9


def test_transparent_canvas_reads_ink_from_alpha():
    canvas = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    canvas[60:220, 130:150] = (0, 0, 0, 255)  # black strokes on a transparent background
    r = preprocess_image(canvas)
    assert not r.blank and r.fitted.shape[0] == 20


def test_pil_image_and_rgb_array_give_the_same_input(sample):
    rgba = digit_on_canvas(sample.x_test[5], np.random.default_rng(2))
    a = preprocess_image(rgba).image
    b = preprocess_image(Image.fromarray(rgba[..., :3])).image
    assert np.allclose(a, b, atol=1e-5)


# --- files -------------------------------------------------------------------------------------

def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def digit_image(sample, i=0, side=112) -> Image.Image:
    return Image.fromarray(sample.x_test[i]).resize((side, side), Image.Resampling.BILINEAR)


def test_png_file_path_and_bytes(sample, tmp_path):
    p = tmp_path / "d.png"
    digit_image(sample).save(p)
    a = preprocess_file(p).image
    b = preprocess_file(p.read_bytes()).image
    c = preprocess_file(io.BytesIO(p.read_bytes())).image
    assert np.array_equal(a, b) and np.array_equal(a, c) and a.max() > 0.5


def test_jpeg_photo_of_dark_ink(sample, model):
    img = Image.fromarray(255 - np.asarray(digit_image(sample, 7))).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    r = preprocess_file(buf.getvalue())
    assert r.inverted
    assert predict(model, [r.image])[0] == predict(model, data.scale(sample.x_test[7:8]))[0]


def test_16bit_palette_and_rgba_files(sample):
    base = np.asarray(digit_image(sample, 1))
    reference = preprocess_file(png_bytes(Image.fromarray(base))).image
    wide = Image.fromarray(base.astype(np.uint16) * 257)  # 16-bit grayscale
    as16 = Image.open(io.BytesIO(png_bytes(wide)))
    assert as16.mode.startswith("I")
    palette = Image.fromarray(base).convert("P")
    rgba = Image.fromarray(base).convert("RGBA")
    la = Image.fromarray(base).convert("LA")
    for img in (wide, palette, rgba, la):
        got = preprocess_file(png_bytes(img)).image
        assert np.abs(got - reference).max() < 0.05, img.mode


def test_not_an_image():
    with pytest.raises(PreprocessError, match="not an image"):
        preprocess_file(b"hello, this is text, not a PNG")
    with pytest.raises(PreprocessError, match="empty"):
        preprocess_file(b"")


def test_truncated_png(sample):
    raw = png_bytes(digit_image(sample, side=200))
    with pytest.raises(PreprocessError, match="truncated"):
        preprocess_file(raw[: len(raw) // 2])


def huge_png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width``×``height`` (1-bit grayscale), with a token data chunk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_enormous_image_is_refused_before_decoding():
    raw = huge_png_header(20_000, 20_000)
    assert len(raw) < 200
    with pytest.raises(PreprocessError, match="too large"):
        preprocess_file(raw)
    # just above our cap, below Pillow's own bomb limit: our check, not Pillow's, refuses it
    side = int(MAX_PIXELS ** 0.5) + 10
    with pytest.raises(PreprocessError, match="too large"):
        preprocess_file(huge_png_header(side, side))


# --- batches and the CLI -----------------------------------------------------------------------

def test_prepare_batch_mixed_polarity_and_rgba(sample):
    rng = np.random.default_rng(3)
    rgba = np.stack([digit_on_canvas(d, rng, canvas=100, scale=3.0, thicken=1) for d in sample.x_test[:4]])
    out = prepare_batch(rgba)
    assert out.shape == (4, 28, 28) and out.dtype == np.float32
    gray = rgba[..., 0].copy()
    gray[1] = 255 - gray[1]  # one dark-on-light image
    gray[2] = 0  # one blank image
    out2 = prepare_batch(gray)
    assert np.allclose(out2[[0, 1, 3]], out[[0, 1, 3]], atol=1e-5)
    assert not out2[2].any()
    with pytest.raises(PreprocessError):
        prepare_batch(np.zeros((2, 5, 5, 7)))


def test_cli_evaluate_with_preprocess(sample, model, tmp_path):
    rng = np.random.default_rng(5)
    x = np.stack([digit_on_canvas(d, rng, canvas=84, scale=2.5, thicken=1)[..., 0] for d in sample.x_test[:40]])
    x[::2] = 255 - x[::2]  # half of them dark-on-light
    y = sample.y_test[:40]
    f = tmp_path / "mine.npz"
    np.savez(f, x=x, y=y)
    cmd = [sys.executable, "-m", "mnistviz", "evaluate", "--data", str(f)]
    refused = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--preprocess" in refused.stderr
    done = subprocess.run(cmd + ["--preprocess"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["n"] == 40 and out["preprocess"] is True
    plain = float(np.mean(predict(model, data.scale(sample.x_test[:40])) == y))
    assert out["accuracy"] >= plain - 0.1  # the same model scores (nearly) as well as on the 28×28 originals
