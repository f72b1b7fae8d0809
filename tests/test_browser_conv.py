"""Point at a feature map in a real Chromium. On the convolution page a click on a map of the mosaic picks
that filter, and a click on a pixel of the map up close makes it the unit whose window, receptive field and
arithmetic the page shows (the sliders follow). On the pooling page a click on a pooled cell shows its window."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_support import open_page

pytestmark = pytest.mark.browser


def settle(page, timeout_ms: int = 120_000) -> None:
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)


def click_data_point(page, chart_key: str, x: float, y: float) -> None:
    """Click the chart with widget key ``chart_key`` at data coordinates (x, y), as a person points at it."""
    chart = page.locator(f".st-key-{chart_key} .js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    chart.locator(".nsewdrag").first.wait_for()
    px, py = chart.evaluate("""(gd, xy) => { const L = gd._fullLayout, r = gd.querySelector('.nsewdrag').getBoundingClientRect();
        return [r.left + L.xaxis.d2p(xy[0]), r.top + L.yaxis.d2p(xy[1])]; }""", [x, y])
    page.mouse.move(px, py)
    page.wait_for_timeout(200)  # let Plotly register the hover it selects on click
    page.mouse.click(px, py)


def slider_value(page, label: str):
    return page.get_by_test_id("stSlider").filter(has_text=label).first.get_by_role("slider")


def test_click_a_map_then_a_pixel(browser, app_url, screenshot_dir):
    page = open_page(browser, app_url, "stage_conv")
    try:
        settle(page)
        # map 10 of conv1's mosaic (8 per row: row 1, column 2; 28×28 maps, 1-pixel borders, upscaled 4×)
        click_data_point(page, "conv_maps_conv1", (2 * 29 + 14) * 4, (1 * 29 + 14) * 4)
        expect(page.get_by_role("spinbutton", name="Filter (0-31)")).to_have_value("10", timeout=60_000)
        settle(page)
        expect(page.get_by_text("Feature map 10: click a pixel")).to_be_visible()
        click_data_point(page, "conv_map_big", 5, 20)  # column 5, row 20 of the map up close
        expect(slider_value(page, "Output row")).to_have_attribute("aria-valuetext", "20", timeout=60_000)
        expect(slider_value(page, "Output column")).to_have_attribute("aria-valuetext", "5", timeout=60_000)
        settle(page)
        expect(page.get_by_text("How output pixel (20, 5) of filter 10 is computed")).to_be_visible()
        expect(page.get_by_text("Where unit (20, 5) looks")).to_be_visible()
        assert page.get_by_test_id("stException").count() == 0
        page.screenshot(path=str(screenshot_dir / "conv_clicked.png"), full_page=False)
    finally:
        page.close()


def test_click_a_pooled_cell_shows_its_window(browser, app_url):
    page = open_page(browser, app_url, "stage_pool")
    try:
        settle(page)
        click_data_point(page, "pool_after", 4, 3)  # column 4, row 3 of pool1's map
        expect(page.get_by_text("Cell (3, 4) on the right comes from the orange 2×2 window")).to_be_visible(timeout=60_000)
        assert page.get_by_test_id("stException").count() == 0
    finally:
        page.close()
