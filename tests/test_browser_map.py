"""The map page in real Chromium: click a test digit on a map and it becomes the input."""

from __future__ import annotations

import pytest

from browser_support import open_page, wait_for_figures

pytestmark = pytest.mark.browser

# The page position of an outlying point of one digit's trace (so no other dot or the star lies on it),
# and that point's test index, read from the plot Plotly drew.
FIND_POINT = """
([mapIndex, digit]) => {
  const gd = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')[mapIndex];
  const trace = gd._fullData.find(t => t.name === String(digit));
  const xs = Array.from(trace.x), ys = Array.from(trace.y);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let best = 0, far = -1;
  xs.forEach((x, i) => { const d = (x - mx) ** 2 + (ys[i] - my) ** 2; if (d > far) { far = d; best = i; } });
  const fl = gd._fullLayout, box = gd.getBoundingClientRect();
  return {x: box.left + fl._size.l + fl.xaxis.l2p(xs[best]), y: box.top + fl._size.t + fl.yaxis.l2p(ys[best]),
          index: Number(trace.customdata[best])};
}
"""


def index_input(page):
    return page.get_by_test_id("stSidebar").get_by_label("Index in the test split")


def test_clicking_a_map_point_makes_it_the_input(browser, app_url, screenshot_dir):
    page = open_page(browser, app_url, "map")
    try:
        wait_for_figures(page, at_least=4, timeout=180_000)
        assert index_input(page).input_value() == "0"
        page.screenshot(path=str(screenshot_dir / "map.png"), full_page=True)
        target = page.evaluate(FIND_POINT, [2, 7])  # the dense map, an outlying 7
        assert target["index"] != 0
        page.mouse.move(target["x"], target["y"])
        page.wait_for_timeout(300)
        page.mouse.click(target["x"], target["y"])
        page.wait_for_function(
            "i => { const el = [...document.querySelectorAll('[data-testid=\"stSidebar\"] input')]"
            ".find(e => e.getAttribute('aria-label') === 'Index in the test split'); return el && el.value === i; }",
            arg=str(target["index"]), timeout=60_000)
        wait_for_figures(page, at_least=4)
        assert page.get_by_text(f"test digit #{target['index']} (true label 7)").first.is_visible()
        page.screenshot(path=str(screenshot_dir / "map_clicked.png"), full_page=True)
    finally:
        page.close()
