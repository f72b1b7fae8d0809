"""The shared Plotly figures: one light PNG per feature-map grid, heatmaps with values on hover."""

import base64
import io

import numpy as np
from PIL import Image

from mnistviz import figures


def _decoded(fig) -> Image.Image:
    uri = fig.data[0].source
    assert uri.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_mosaic_is_one_png_image_of_the_tiled_maps():
    maps = np.zeros((28, 28, 32), np.float32)
    maps[5, 7, 3] = 2.0  # one bright pixel in channel 3
    fig = figures.mosaic(maps, title="conv1", upscale=4)
    assert len(fig.data) == 1 and fig.data[0].type == "image"
    img = np.asarray(_decoded(fig).convert("RGB"))
    # 32 maps → 6 columns × 6 rows of 28 with 1-pixel borders, each pixel drawn 4×4
    assert img.shape == ((6 * 29 - 1) * 4, (6 * 29 - 1) * 4, 3)
    r, c = (5 + 0 * 29) * 4, (7 + 3 * 29) * 4  # channel 3 sits in row 0, column 3
    assert tuple(img[r, c]) == (253, 231, 37)  # the map's own maximum: the top of viridis
    assert tuple(img[r + 8, c]) == (68, 1, 84)  # zero: the bottom of viridis
    assert tuple(img[28 * 4, 0]) == (40, 40, 40)  # the border between rows


def test_heatmap_keeps_values_for_hover_and_centres_diverging_scales():
    z = np.array([[-2.0, 0.5], [1.0, 0.0]], np.float32)
    fig = figures.heatmap(z, diverging=True, hover="drop %{z:.3f}")
    trace = fig.data[0]
    assert trace.type == "heatmap" and np.array_equal(np.asarray(trace.z), z)
    assert (trace.zmin, trace.zmax) == (-2.0, 2.0)
    assert "drop %{z:.3f}" in trace.hovertemplate
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 at the top, like an image
