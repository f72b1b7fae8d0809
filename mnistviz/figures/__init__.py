"""Every Plotly figure of the app, by topic (no streamlit here).

- ``images``: pictures of arrays (digit heatmap, feature-map mosaic, matrix heatmap, probability bars,
  PNG helpers and the one tiling helper ``tile`` with its ``tile_coordinates``); re-exported here, so
  ``figures.mosaic`` and ``figures.heatmap`` work;
- ``data``: the Data and Reshape pages (one-hot, class counts, samples, flat row and grid);
- ``conv``: convolution and pooling (kernel mosaic, channel contributions, pooling windows, number grids);
- ``dense``: flatten, dense units and logits;
- ``model``: the whole architecture;
- ``training``: the lab (training curves, run comparison, confusion matrix, per-digit accuracy, gallery);
- ``maps``: the Map page (digits placed at one depth, the input as a star).
"""

from . import conv, data, dense, maps, model, training
from .images import (DIVERGING, INK, PALETTE_WHITE, SEQUENTIAL, VIRIDIS_PALETTE, blank_mosaic, caption_row_html,
                     captioned_squares_html, compact, digit_heatmap, heatmap, mosaic, mosaic_index, mosaic_rgb, note_html,
                     outline, picture, pixel_row_html, png_bytes, png_data_uri, probability_bars, probability_bars_html,
                     tile, tile_coordinates)

__all__ = ["conv", "data", "dense", "maps", "model", "training", "DIVERGING", "INK", "PALETTE_WHITE", "SEQUENTIAL",
           "VIRIDIS_PALETTE", "blank_mosaic", "caption_row_html", "captioned_squares_html", "compact", "digit_heatmap",
           "heatmap", "mosaic", "mosaic_index", "mosaic_rgb", "note_html", "outline", "picture", "pixel_row_html", "png_bytes",
           "png_data_uri", "probability_bars", "probability_bars_html", "tile", "tile_coordinates"]
