"""Pictures of arrays (no streamlit here): a digit heatmap, a feature-map mosaic, one matrix as a heatmap, probability bars.

A grid of feature maps is ONE picture (``mosaic_rgb``, a tiled mosaic sent as a PNG), not one
figure per map: a rerun stays small. ``mosaic`` wraps it in a Plotly image; a live page can show
the picture itself with ``st.image(png_bytes(...))``, which the browser draws far faster.
"""

from __future__ import annotations

import base64
import html
import io
import re

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from PIL import Image

SEQUENTIAL = "Viridis"  # activations: 0 is dark, strong is bright
DIVERGING = "RdBu_r"  # kernels and weights: blue negative, white 0, red positive
INK = "gray"  # digits: black background, white ink as in MNIST


def compact(fig: go.Figure, height: int | None = None, title: str | None = None) -> go.Figure:
    """Thin margins (room for a title only when there is one), and the height when given."""
    fig.update_layout(margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title)
    if height:
        fig.update_layout(height=height)
    return fig


def digit_heatmap(image: np.ndarray, title: str | None = None, height: int = 320, scale_255: bool = False) -> go.Figure:
    """A 28×28 digit as a heatmap whose hover shows every pixel value (0-255 or 0-1)."""
    z = np.asarray(image, dtype=np.float32)
    if scale_255 and z.max() <= 1.0:
        z = np.rint(z * 255)
    fig = px.imshow(z, color_continuous_scale=INK, zmin=0, zmax=255 if scale_255 else 1.0, aspect="equal")
    fig.update_traces(hovertemplate="row %{y}, col %{x}<br>value %{z}<extra></extra>")
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    return compact(fig, height, title)


def tile(maps: np.ndarray, cols: int | None = None, pad: int = 1, pad_value: float = np.nan) -> np.ndarray:
    """Feature maps ``(H, W, C)`` → one mosaic ``(rows·(H+pad), cols·(W+pad))``, channel c at row c//cols, col c%cols."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 2:
        maps = maps[..., None]
    h, w, c = maps.shape
    cols = cols or int(np.ceil(np.sqrt(c)))
    rows = int(np.ceil(c / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), pad_value, dtype=np.float32)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = maps[..., k]
    return out


def tile_coordinates(hwc: tuple[int, int, int], cols: int, pad: int = 1) -> np.ndarray:
    """For a mosaic made by ``tile``: ``(channel, row, col)`` under every mosaic pixel ``(…, 3)`` (−1 on borders)."""
    h, w, c = (int(d) for d in hwc)
    rr, cc, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return np.stack([tile(a, cols, pad, pad_value=-1) for a in (ch, rr, cc)], axis=-1).astype(np.int32)


def outline(fig: go.Figure, top: int, left: int, height: int = 1, width: int = 1, colour: str = "#e8590c",
            line_width: float = 3) -> go.Figure:
    """Draw a rectangle around cells ``[top, top+height) × [left, left+width)`` of a heatmap or image."""
    fig.add_shape(type="rect", x0=left - 0.5, x1=left + width - 0.5, y0=top - 0.5, y1=top + height - 0.5,
                  line=dict(color=colour, width=line_width))
    return fig


def png_bytes(rgb: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """A uint8 ``(H, W, 3)`` (or grey ``(H, W)``) picture → PNG bytes (fast, light compression). With a
    ``palette`` (``(256, 3)`` uint8, e.g. ``VIRIDIS_PALETTE``), an ``(H, W)`` picture holds palette indices:
    a third of the bytes of RGB to compress and send (a mosaic row: ~4 ms and 45 KB instead of ~15 ms and 75 KB)."""
    img = Image.fromarray(np.ascontiguousarray(rgb))
    if palette is not None:
        img.putpalette(np.asarray(palette, np.uint8).tobytes())
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_data_uri(rgb: np.ndarray, palette: np.ndarray | None = None) -> str:
    """A uint8 picture (palette indices with ``palette``, as ``png_bytes``) → a ``data:image/png`` URI."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb, palette)).decode("ascii")


def picture(rgb: np.ndarray, title: str | None = None, height: int | None = None, upscale: int = 1) -> go.Figure:
    """A uint8 picture as one PNG image trace (no hover), each pixel drawn as ``upscale``² screen pixels.

    Built with ``go.Image`` directly: Plotly Express' ``imshow`` costs tens of milliseconds a
    figure, which a live page pays on every stroke.
    """
    if upscale > 1:
        rgb = np.repeat(np.repeat(rgb, upscale, axis=0), upscale, axis=1)
    fig = go.Figure(go.Image(source=png_data_uri(rgb), hoverinfo="skip"))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    return compact(fig, height, title)


def mosaic_index(maps: np.ndarray, cols: int | None = None, per_map_scale: bool = True) -> np.ndarray:
    """All channels of ``(H, W, C)`` tiled into one uint8 picture of ``VIRIDIS_PALETTE`` indices: 0-252 the
    viridis scale (each map scaled to its own max unless ``per_map_scale`` is off), ``PALETTE_BORDER``
    between maps and in empty cells."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 2:
        maps = maps[..., None]
    if per_map_scale:
        peak = np.nanmax(np.abs(maps), axis=(0, 1), keepdims=True)
        norm = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
        norm[np.isnan(maps)] = np.nan
    else:
        peak = float(np.nanmax(np.abs(maps))) or 1.0
        norm = maps / peak
    z = tile(np.clip(norm, 0, 1), cols)
    index = np.rint(np.nan_to_num(z) * (_LEVELS - 1)).astype(np.uint8)
    index[np.isnan(z)] = PALETTE_BORDER
    return index


def mosaic_rgb(maps: np.ndarray, cols: int | None = None, per_map_scale: bool = True, upscale: int = 1) -> np.ndarray:
    """All channels of ``(H, W, C)`` tiled into one uint8 RGB picture (viridis), each map scaled to its own max.

    Each map is normalised to its own [0, max] so weak filters stay visible; borders are dark grey
    (NaN cells too); every pixel is repeated ``upscale``×``upscale`` so small maps stay sharp.
    """
    rgb = VIRIDIS_PALETTE[mosaic_index(maps, cols, per_map_scale)]
    if upscale > 1:
        rgb = np.repeat(np.repeat(rgb, upscale, axis=0), upscale, axis=1)
    return rgb


def mosaic(maps: np.ndarray, cols: int | None = None, title: str | None = None, height: int | None = None,
           per_map_scale: bool = True, upscale: int = 4) -> go.Figure:
    """``mosaic_rgb`` as one light Plotly image (a PNG; no per-pixel hover)."""
    return picture(mosaic_rgb(maps, cols, per_map_scale), title=title, height=height, upscale=upscale)


_VIRIDIS = np.array([[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137],
                     [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]], dtype=np.float32)
_LEVELS = 253  # viridis steps in the palette; three entries are left for a light grey, white and the border grey
PALETTE_BLANK, PALETTE_WHITE, PALETTE_BORDER = 253, 254, 255


def _viridis_palette() -> np.ndarray:
    t = np.linspace(0, 1, _LEVELS) * (len(_VIRIDIS) - 1)
    i = np.minimum(t.astype(int), len(_VIRIDIS) - 2)
    f = (t - i)[:, None]
    steps = _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    return np.vstack([np.rint(steps), [[233, 236, 239], [255, 255, 255], [40, 40, 40]]]).astype(np.uint8)


# (256, 3): index 0-252 dark → bright, then a light grey (an empty map), white, the border grey
VIRIDIS_PALETTE = _viridis_palette()


def blank_mosaic(index: np.ndarray) -> np.ndarray:
    """A ``mosaic_index`` picture emptied: each map a light grey cell on white, for a page showing where the
    maps will be before there is anything to show."""
    return np.where(index == PALETTE_BORDER, PALETTE_WHITE, PALETTE_BLANK).astype(np.uint8)


def diverging_mosaic_rgb(maps: np.ndarray, cols: int | None = None, upscale: int = 1) -> np.ndarray:
    """Signed maps ``(H, W, C)`` (e.g. one input channel of a conv layer's kernels) tiled into one uint8 RGB
    picture: blue negative, white 0, red positive, one scale for all (the largest |value|); borders dark grey."""
    z = tile(maps, cols)
    peak = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.0
    v = np.clip(np.nan_to_num(z) / (peak or 1.0), -1, 1)
    rgb = np.stack([np.where(v > 0, 1.0, 1 + v), 1 - np.abs(v), np.where(v < 0, 1.0, 1 - v)], axis=-1) * 255
    rgb[np.isnan(z)] = (40, 40, 40)
    rgb = rgb.astype(np.uint8)
    if upscale > 1:
        rgb = np.repeat(np.repeat(rgb, upscale, axis=0), upscale, axis=1)
    return rgb


def heatmap(z: np.ndarray, title: str | None = None, diverging: bool = False, height: int = 300,
            text: bool = False, hover: str = "value %{z:.3f}", zmax: float | None = None) -> go.Figure:
    """A single matrix as a heatmap with values on hover (diverging scale centred on 0 for weights).
    ``zmax``: a diverging scale's ±limit, to draw several maps on one shared scale (default: this map's max |z|).

    Row 0 at the top and square cells, as an image; built with ``go.Heatmap`` directly (a live page
    draws these on every stroke, and Plotly Express adds ~10 ms a figure).
    """
    z = np.asarray(z, dtype=np.float32)
    kwargs = dict(colorscale=DIVERGING if diverging else SEQUENTIAL)
    if diverging:
        m = float(zmax if zmax is not None else np.max(np.abs(z))) or 1.0
        kwargs.update(zmin=-m, zmax=m)
    if text:
        kwargs.update(texttemplate="%{z:.2f}")
    fig = go.Figure(go.Heatmap(z=z, hovertemplate=f"row %{{y}}, col %{{x}}<br>{hover}<extra></extra>", **kwargs))
    fig.update_xaxes(constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showgrid=False, zeroline=False)
    return compact(fig, height, title)


def probability_bars(proba: np.ndarray, title: str | None = None, height: int = 260,
                     highlight: int | None = None, true_label: int | None = None) -> go.Figure:
    """Ten probabilities as bars, the predicted digit highlighted, values on hover and as text."""
    p = np.asarray(proba, dtype=np.float64).reshape(-1)
    pred = int(p.argmax()) if highlight is None else highlight
    colors = ["#3b5bdb" if d == pred else "#adb5bd" for d in range(len(p))]
    if true_label is not None and true_label != pred:
        colors[true_label] = "#e8590c"
    fig = go.Figure(go.Bar(x=[str(d) for d in range(len(p))], y=p, marker_color=colors,
                           text=[f"{v:.0%}" if v >= 0.005 else "" for v in p], textposition="outside",
                           hovertemplate="digit %{x}: %{y:.4f}<extra></extra>"))
    fig.update_yaxes(range=[0, 1.15], title="probability", tickformat=".0%")
    fig.update_xaxes(title="digit", type="category")
    return compact(fig, height, title)


def probability_bars_html(proba: np.ndarray, title: str | None = None, height: int = 260) -> str:
    """Ten probabilities as plain HTML bars: the same picture as ``probability_bars`` (predicted digit in
    blue, the percentage over each bar, the exact value on hover), for a page redrawn at every stroke,
    where a Plotly chart costs the browser ~150 ms of script per redraw and these bars almost nothing."""
    p = np.asarray(proba, dtype=np.float64).reshape(-1)
    pred = int(p.argmax()) if p.any() else -1  # all zero: nothing drawn yet, nothing highlighted
    plot = height - (48 if title else 24)  # px left for the bars under the title and over the digits
    cells = []
    for d, v in enumerate(p):
        colour = "#3b5bdb" if d == pred else "#adb5bd"
        label = f"{v:.0%}" if v >= 0.005 else ""
        cells.append(
            f'<div title="digit {d}: {v:.4f}" style="flex:1;display:flex;flex-direction:column;'
            f'justify-content:flex-end;align-items:center;height:100%">'
            f'<div style="font-size:12px;line-height:16px;color:#495057">{label}</div>'
            f'<div style="width:70%;height:{v * (plot - 16):.1f}px;background:{colour};min-height:1px"></div></div>')
    digits = "".join(f'<div style="flex:1;text-align:center">{d}</div>' for d in range(len(p)))
    heading = (f'<div style="font-size:14px;font-weight:600;height:24px;line-height:24px">{title}</div>'
               if title else "")
    summary = ", ".join(f"{d}: {v:.1%}" for d, v in enumerate(p))
    return (f'<div class="mv-proba" role="img" aria-label="Probabilities, digit: value. {summary}" '
            f'style="height:{height}px;font-family:sans-serif">{heading}'
            f'<div style="display:flex;gap:4px;height:{plot}px;border-bottom:1px solid #868e96">{"".join(cells)}</div>'
            f'<div style="display:flex;gap:4px;font-size:13px;line-height:24px;color:#212529">{digits}</div></div>')


# Streamlit's st.info and st.warning boxes, in raw HTML (light theme): notes that a stroke rewrites without a
# script run (the Draw page's answer route sends them), and that its run draws the same way.
_NOTE_COLOURS = {"info": ("rgba(28, 131, 225, 0.1)", "rgb(0, 66, 128)"),
                 "warning": ("rgba(255, 227, 18, 0.1)", "rgb(146, 108, 5)")}


def note_html(kind: str, text: str) -> str:
    """A note box (``kind`` "info" or "warning") holding ``text``, escaped, with ``**bold**`` kept as bold."""
    background, colour = _NOTE_COLOURS[kind]
    body = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
    return (f'<div class="mv-note mv-{kind}" role="note" style="background:{background};color:{colour};'
            f'border-radius:0.5rem;padding:16px;margin-bottom:1rem;font-size:1rem;line-height:1.6">{body}</div>')


_CAPTION_CSS = "font-size:0.875rem;line-height:1.4;color:rgba(49,51,63,0.6)"  # Streamlit's caption, in raw HTML


def _columns_css(n: int, width: int, gap: int) -> str:
    """CSS for ``n`` equal columns, ``gap`` px between them out of ``width`` px (a share: it shrinks with the
    page)."""
    return f"display:grid;grid-template-columns:repeat({n},1fr);column-gap:{100 * gap / width:.2f}%"


def caption_row_html(captions: list[str], width: int, gap: int, margin_top: str = "0") -> str:
    """Captions side by side in equal columns (``gap`` px between them, ``width`` px in all), as ONE piece
    of HTML: the labels under a row of pictures laid out on the same grid (``pixel_row_html``)."""
    cells = "".join(f"<div>{html.escape(c)}</div>" for c in captions)
    return (f'<div style="{_columns_css(len(captions), width, gap)};margin-top:{margin_top};{_CAPTION_CSS}">'
            f'{cells}</div>')


def pixel_row_html(pictures: list[np.ndarray | None], palette: np.ndarray, width: int, gap: int, alts: list[str],
                   caption: str | None = None) -> str:
    """Palette pictures ``(H, W)`` side by side in equal columns (``gap`` px between them, ``width`` px in all,
    the grid of ``caption_row_html``; ``None`` leaves a column empty), as ONE piece of HTML with each picture
    inline at its own size: the browser blows each up to its column's width with sharp pixels. A live page
    then encodes and sends a few small PNGs instead of one blown-up picture (a row of four layer mosaics:
    ~0.5 ms instead of ~4 ms, and no separate fetch)."""
    cells = []
    for pic, alt in zip(pictures, alts):
        cells.append("<div></div>" if pic is None else
                     f'<img src="{png_data_uri(pic, palette)}" alt="{html.escape(alt)}" '
                     f'style="width:100%;display:block;image-rendering:pixelated">')
    note = f'<div style="{_CAPTION_CSS};margin-top:0.25rem">{html.escape(caption)}</div>' if caption else ""
    return (f'<div class="mv-pixels"><div style="{_columns_css(len(cells), width, gap)};align-items:start">'
            f'{"".join(cells)}</div>{note}</div>')


def captioned_squares_html(pictures: list[np.ndarray | None], captions: list[str], width: int, gap: int, alt: str,
                           margin: int = 90, blank: int = 235) -> str:
    """Grey pictures ``(H, W)`` uint8 side by side in square cells (``width`` px in all, ``gap`` px between), each
    at its own size, scaled by the browser (sharp pixels when blown up) until its longer side fills its cell, on
    a ``margin`` grey; a caption under each; ``None`` is an empty ``blank`` grey cell. ONE piece of HTML that
    shrinks with the page and never grows past ``width``. For a page redrawn at every stroke: small PNGs to
    encode instead of one picture of the cells at full size."""
    cells = []
    for pic in pictures:
        if pic is None:
            cells.append(f'<div style="aspect-ratio:1;background:rgb({blank},{blank},{blank});'
                         f'border-radius:4px"></div>')
            continue
        h, w = pic.shape[:2]
        side = max(h, w, 1)
        look = "pixelated" if 2 * side <= width / len(pictures) else "auto"  # blown up: sharp; about its size: smooth
        cells.append(f'<div style="aspect-ratio:1;background:rgb({margin},{margin},{margin});border-radius:4px;'
                     f'display:flex;align-items:center;justify-content:center;overflow:hidden">'
                     f'<img src="{png_data_uri(pic)}" alt="{html.escape(alt)}" '
                     f'style="width:{100 * w / side:.2f}%;display:block;image-rendering:{look}"></div>')
    return (f'<div class="mv-strip" style="max-width:{width}px"><div style="{_columns_css(len(cells), width, gap)}">'
            f'{"".join(cells)}</div>'
            f'{caption_row_html(captions, width, gap, margin_top="0.5rem")}</div>')
