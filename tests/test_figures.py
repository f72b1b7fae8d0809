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


# --- the one tiling helper ----------------------------------------------------------------------------

def test_tile_coordinates_name_the_channel_row_and_col_under_every_mosaic_pixel():
    maps = np.random.default_rng(0).random((5, 4, 7)).astype(np.float32)
    mosaic = figures.tile(maps, cols=3)
    where = figures.tile_coordinates(maps.shape, cols=3)
    assert where.shape == (*mosaic.shape, 3)
    inside = where[..., 0] >= 0
    ch, r, c = where[inside].T
    np.testing.assert_array_equal(mosaic[inside], maps[r, c, ch])  # every pixel is the value it names
    assert np.isnan(mosaic[~inside]).all() and (where[~inside] == -1).all()  # borders and empty cells
    assert inside.sum() == maps.size


def test_kernel_mosaic_hover_names_each_filter():
    kernel = np.arange(3 * 3 * 2 * 10, dtype=np.float32).reshape(3, 3, 2, 10) - 90
    fig = figures.conv.kernel_mosaic(kernel, in_channel=1, title="k", height=200, cols=4)
    trace = fig.data[0]
    z, idx = np.asarray(trace.z, dtype=np.float64), np.asarray(trace.customdata)
    np.testing.assert_array_equal(z[idx == 6].reshape(3, 3), kernel[:, :, 1, 6])  # filter 6: row 1, column 2
    assert idx[4, 8] == 6 and trace.zmid == 0 and trace.zmax == -trace.zmin


def test_number_grid_writes_every_number_and_draws_infinity_blank():
    fig = figures.conv.number_grid(np.array([[-3.0, -np.inf], [6000.0, 0.5]]), "padded", scale="gray",
                                   boxes=[(0, 0, 1, 2, "#f08c00", 0.0)])
    trace = fig.data[0]
    assert np.asarray(trace.text).tolist() == [["−3", "−∞"], ["6000", "0.50"]]
    assert np.isnan(np.asarray(trace.z, dtype=np.float64)[0, 1])
    assert len(fig.layout.shapes) == 1


def test_architecture_has_one_box_per_layer_with_its_counts_on_hover():
    rows = [{"Layer": "pixels", "Type": "InputLayer", "Output shape": "(None, 784)", "Parameters": 0},
            {"Layer": "dense", "Type": "Dense", "Output shape": "(None, 1024)", "Parameters": 3_212_288}]
    fig = figures.model.architecture(rows)
    assert len(fig.layout.shapes) == 2
    assert [a.text.split("<br>")[-2] for a in fig.layout.annotations if a.text] == ["0", "3.2M"]
    assert list(fig.data[0].customdata[1]) == ["dense", "Dense", "(None, 1024)", 3_212_288]


# --- the lab's figures (figures.training) ---------------------------------------------------------------

HISTORY = {"loss": [0.9, 0.4, 0.3], "accuracy": [0.7, 0.88, 0.91], "val_loss": [0.5, 0.35], "val_accuracy": [0.85, 0.9]}


def test_training_curves_draw_train_and_validation_and_the_epoch_in_progress():
    fig = figures.training.training_curves(HISTORY, partial={"epoch": 3.5, "loss": 0.25, "accuracy": 0.93}, epochs=5)
    by_name = {}
    for tr in fig.data:
        by_name.setdefault(tr.name, []).append(tr)
    assert [list(t.y) for t in by_name["train"]] == [HISTORY["loss"], HISTORY["accuracy"]]
    assert [list(t.y) for t in by_name["validation"]] == [HISTORY["val_loss"], HISTORY["val_accuracy"]]
    dotted = by_name["train (epoch in progress)"]
    assert [list(t.x) for t in dotted] == [[3, 3.5], [3, 3.5]] and list(dotted[0].y) == [0.3, 0.25]
    assert tuple(fig.layout.xaxis.range) == (0, 5.2)


def test_confusion_and_per_digit_accuracy_show_the_numbers_given():
    confusion = np.diag(np.arange(10, 20))
    confusion[3, 5] = 4
    fig = figures.training.confusion_matrix(confusion)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), confusion)
    per_class = np.linspace(0.9, 1.0, 10)
    per_class[7] = 0.5
    bars = figures.training.per_class_accuracy(per_class)
    colours = list(bars.data[0].marker.color)
    assert colours[7] != colours[0] and colours.count(colours[7]) == 1  # the worst digit stands out
    assert bars.layout.yaxis.range[1] == 1.0  # accuracy ends at 100 %


def test_digit_gallery_is_one_picture_with_a_caption_per_digit():
    images = np.zeros((7, 28, 28), np.float32)
    images[:, 10:18, 12:16] = 1.0
    fig = figures.training.digit_gallery(images, [f"#{i}" for i in range(7)], cols=4, scale=2)
    assert len(fig.data) == 1 and fig.data[0].type == "image"
    assert [a.text for a in fig.layout.annotations] == [f"#{i}" for i in range(7)]
    width, height = _decoded(fig).size
    assert (width, height) == (4 * 30 * 2, 2 * 38 * 2)  # 4 columns of 28 + 2, 2 rows of 28 + 10 for the caption, 2×


def test_html_probability_bars_are_as_tall_as_each_probability_with_values_on_hover():
    import re

    p = np.array([0.01, 0.9, 0.04, 0, 0, 0.05, 0, 0, 0, 0], np.float32)
    html = figures.probability_bars_html(p, title="Probability of each digit", height=280)
    titles = re.findall(r'title="digit (\d): ([0-9.]+)"', html)
    assert [int(d) for d, _ in titles] == list(range(10))
    assert np.allclose([float(v) for _, v in titles], p, atol=5e-5)
    heights = [float(h) for h in re.findall(r"width:70%;height:([0-9.]+)px", html)]
    assert np.allclose(np.array(heights) / max(heights), p / p.max(), atol=1e-3)
    colours = re.findall(r"background:(#[0-9a-f]{6})", html)
    assert colours[1] == "#3b5bdb" and set(colours[:1] + colours[2:]) == {"#adb5bd"}  # the predicted digit
    assert ">90%<" in html and ">1%<" in html and "Probability of each digit" in html


def test_caption_rows_put_each_caption_in_its_column_and_escape_what_a_model_names():
    """The sizes under the Draw page's map rows: a layer name comes from the model, which a person may upload."""
    import re

    row = figures.caption_row_html(["conv1: 32 maps of 28×28", "<img src=x onerror=alert(1)>", ""], width=948, gap=16)
    assert re.findall(r"<div>(.*?)</div>", row) == ["conv1: 32 maps of 28×28",
                                                   "&lt;img src=x onerror=alert(1)&gt;", ""]
    assert "repeat(3,1fr)" in row and "column-gap:1.69%" in row  # 16 px of 948, as between the pictures


def _inline_pictures(piece: str) -> list[Image.Image]:
    import base64
    import re

    found = re.findall(r'src="data:image/png;base64,([^"]+)"', piece)
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in found]


def test_pixel_rows_send_each_picture_at_its_own_size_for_the_browser_to_blow_up():
    """The Draw page's network view: each stage's mosaic inline at its own size, sharp pixels, in the columns of
    its caption row; an empty column keeps its place, and a layer's name (a model's, maybe uploaded) is escaped."""
    big, small = np.zeros((27, 41), np.uint8), np.full((11, 11), 7, np.uint8)
    row = figures.pixel_row_html([big, small, None], figures.VIRIDIS_PALETTE, width=948, gap=16,
                                 alts=["conv1", "<b>pool</b>", ""], caption="dense: 128 units")
    sent = _inline_pictures(row)
    assert [p.size for p in sent] == [(41, 27), (11, 11)] and all(p.mode == "P" for p in sent)
    assert (np.asarray(sent[1]) == 7).all()
    assert row.count("image-rendering:pixelated") == 2 and "repeat(3,1fr)" in row and "column-gap:1.69%" in row
    assert 'alt="&lt;b&gt;pool&lt;/b&gt;"' in row and "<b>" not in row and row.endswith("dense: 128 units</div></div>")


def test_step_squares_fit_each_picture_to_its_square_and_blow_up_only_small_ones():
    steps = figures.captioned_squares_html([np.zeros((140, 100), np.uint8), np.zeros((20, 14), np.uint8), None],
                                           ["1 · a", "2 · <b>", "3"], width=444, gap=12, alt="step")
    assert [p.size for p in _inline_pictures(steps)] == [(100, 140), (14, 20)]
    assert "width:71.43%" in steps and "width:70.00%" in steps  # the longer side fills the square
    assert steps.count("image-rendering:pixelated") == 1 and steps.count("image-rendering:auto") == 1
    assert steps.count("aspect-ratio:1") == 3 and "rgb(235,235,235)" in steps  # the empty one, blank grey
    assert "&lt;b&gt;" in steps and "<b>" not in steps


def test_a_palette_mosaic_is_the_rgb_mosaic_in_a_third_of_the_bytes():
    maps = np.random.default_rng(0).random((14, 14, 8)).astype(np.float32)
    index = figures.mosaic_index(maps)
    assert index.ndim == 2 and index.dtype == np.uint8
    assert (figures.VIRIDIS_PALETTE[index] == figures.mosaic_rgb(maps)).all()
    png = Image.open(io.BytesIO(figures.png_bytes(index, palette=figures.VIRIDIS_PALETTE)))
    assert png.mode == "P" and (np.asarray(png.convert("RGB")) == figures.mosaic_rgb(maps)).all()
    assert tuple(figures.VIRIDIS_PALETTE[0]) == (68, 1, 84) and tuple(figures.VIRIDIS_PALETTE[252]) == (253, 231, 37)
    assert tuple(figures.VIRIDIS_PALETTE[figures.PALETTE_WHITE]) == (255, 255, 255)
    empty = figures.blank_mosaic(index)  # same cells, nothing in them
    assert empty.shape == index.shape and len(np.unique(empty)) == 2
