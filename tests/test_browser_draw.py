"""The Draw page in a real headless Chromium against `streamlit run app.py`: a vertical stroke reads
as 1, clearing brings the prompt back, a closed oval reads as 0. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from browser_support import (DRAW_PAGE, PROMPT, clear_canvas, draw, drawn_and_taken, drawn_answer, metric_value,
                             open_folded, open_page, oval, vertical_stroke, wait_for_figures, wait_for_idle)

pytestmark = pytest.mark.browser



def test_draw_one_then_zero(browser, app_url, screenshot_dir):
    from playwright.sync_api import expect

    page = open_page(browser, app_url, DRAW_PAGE, height=3600)  # tall: the whole page in one screenshot
    try:
        expect(page.get_by_text(PROMPT)).to_be_visible(timeout=90_000)
        wait_for_idle(page)
        page.screenshot(path=screenshot_dir / "draw_blank.png")

        draw(page, vertical_stroke())
        drawn_and_taken(page, "1")
        prediction = drawn_answer(page)
        # A stroke redraws no Plotly chart: the probability bars are plain HTML (each value on hover), and
        # plain inline pictures, each at its own size (the browser blows it up): the four preprocessing steps
        # (with their captions), each layer's mosaic, the dense strip, all decoded
        bars = page.locator(".mv-proba")
        expect(bars.locator('[title^="digit 1:"]')).to_have_count(1)
        assert bars.locator("[title^='digit ']").count() == 10
        page.wait_for_function(
            "() => { const im = [...document.querySelectorAll('.st-key-draw-steps img, .st-key-draw-network img')];"
            " return im.length === 9 && im.every(i => i.complete && i.naturalWidth > 0); }", timeout=60_000)
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
        # the activities are folded: opening one shows it for the latest drawing (two occlusion maps, the
        # nudged digit's bars); a later stroke follows into them when asked
        assert page.get_by_role("button", name="Explain my latest drawing").count() == 0
        open_folded(page, "What made it decide")
        open_folded(page, "Nudge it")
        wait_for_figures(page, at_least=3)
        expect(page.get_by_text("Drop of p(1)")).to_be_visible(timeout=60_000)
        expect(metric_value(page, "Nudged prediction")).to_have_text("1", timeout=60_000)
        page.screenshot(path=screenshot_dir / "draw_one.png")

        clear_canvas(page)
        expect(page.get_by_text(PROMPT)).to_be_visible(timeout=60_000)
        expect(prediction).to_have_text("")
        wait_for_idle(page)
        page.screenshot(path=screenshot_dir / "draw_cleared.png")

        draw(page, oval())
        expect(prediction).to_have_text("0", timeout=60_000)
        expect(bars.locator('[title^="digit 0:"]')).to_have_count(1)
        wait_for_figures(page, at_least=3)
        page.screenshot(path=screenshot_dir / "draw_zero.png")
        # no exception box anywhere on the page
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()


SECTION_IMAGES = "(keys) => keys.map(k => [...document.querySelectorAll('.st-key-' + k + ' img')].map(i => i.src))"


def test_sections_below_the_canvas_follow_the_drawing_once_scrolled_to(browser, app_url):
    """On a laptop-sized window the preprocessing steps and the network's view sit below the canvas. A stroke
    answers at once (prediction, bars) and leaves their empty pictures as they are (nothing to send or
    redraw); scrolled to, each section shows the drawing on the canvas."""
    import re

    from playwright.sync_api import expect

    page = open_page(browser, app_url, DRAW_PAGE, width=1300, height=900)
    try:
        expect(page.get_by_text(PROMPT)).to_be_visible(timeout=90_000)
        wait_for_idle(page)
        keys = ["draw-steps", "draw-network"]
        # the four steps' empty squares (no pictures); the four layers' mosaics and the dense strip with empty
        # cells (written a moment after the prompt)
        page.wait_for_function(f"(keys) => ({SECTION_IMAGES})(keys).map(s => s.length).join() === '0,5'", arg=keys,
                               timeout=60_000)
        blank = page.evaluate(SECTION_IMAGES, keys)

        draw(page, vertical_stroke())
        drawn_and_taken(page, "1")
        assert page.evaluate(SECTION_IMAGES, keys) == blank  # off screen: the same empty pictures
        expect(page.get_by_text(re.compile(r"units, [\d,]+ active"))).to_have_count(0)

        page.locator(".st-key-draw-steps").scroll_into_view_if_needed()
        page.wait_for_function(f"() => ({SECTION_IMAGES})(['draw-steps'])[0].length === 4", timeout=60_000)
        expect(page.get_by_text(re.compile(r"Cropped to the ink, \d+×\d+"))).to_be_visible(timeout=60_000)

        page.locator(".st-key-draw-network").evaluate("e => e.scrollIntoView({block: 'end'})")
        page.wait_for_function(f"(blank) => ({SECTION_IMAGES})(['draw-network'])[0].every((s, i) => s !== blank[i])",
                               arg=blank[1], timeout=60_000)
        expect(page.get_by_text(re.compile(r"units, [\d,]+ active"))).to_be_visible(timeout=60_000)
        # every picture loads
        page.wait_for_function("() => [...document.querySelectorAll('.st-key-draw-steps img, .st-key-draw-network img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)
        # leaving the page with the sections on screen: the probe's last word comes with the page switch
        page.get_by_test_id("stSidebarNav").get_by_text("3 · Convolution").click()
        expect(page.get_by_text("Every filter and the map it makes")).to_be_visible(timeout=60_000)
        wait_for_idle(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()


# Each element of the Draw page's live section that a stroke marks stale: its opacity and fade as drawn.
WATCH_STALE = """(key) => {
  window.__stale = [];
  new MutationObserver(changes => {
    for (const c of changes) {
      if (c.target.dataset.stale !== "true") continue;
      const style = getComputedStyle(c.target);
      window.__stale.push([style.opacity, style.transitionDuration]);
    }
  }).observe(document.querySelector(".st-key-" + key), {subtree: true, attributes: true,
                                                           attributeFilter: ["data-stale"]});
}"""


# Every change of the script's run state ("running", "notRunning") after the hook is installed.
WATCH_RUNS = """() => {
  window.__runs = [];
  new MutationObserver(changes => {
    for (const c of changes) window.__runs.push(c.target.getAttribute("data-test-script-state"));
  }).observe(document.querySelector('[data-testid="stApp"]'), {attributes: true,
                                                               attributeFilter: ["data-test-script-state"]});
}"""


def test_a_stroke_and_a_clear_run_no_script_and_the_route_updates_the_panels(browser, app_url):
    """A stroke costs the server no script run: the canvas puts the answer route's reply in place (the answer,
    the bars, the notes, the steps on screen). The session has the drawing all the same: the walkthrough
    follows it on the next page."""
    from playwright.sync_api import expect

    page = open_page(browser, app_url, DRAW_PAGE, width=1300, height=1000)
    try:
        expect(page.get_by_text(PROMPT)).to_be_visible(timeout=90_000)
        wait_for_idle(page)
        page.wait_for_timeout(1500)  # the on-screen probe's first report (a run of its own) is in
        wait_for_idle(page)
        page.evaluate(WATCH_RUNS)
        draw(page, vertical_stroke())
        expect(drawn_answer(page)).to_have_text("1", timeout=60_000)
        expect(page.locator(".mv-proba").locator('[title^="digit 1:"]')).to_have_count(1)  # highlighted
        expect(page.get_by_text(PROMPT)).to_have_count(0)
        page.wait_for_function("() => [...document.querySelectorAll('.st-key-draw-step-pictures img')]"
                               ".filter(i => i.complete && i.naturalWidth > 0).length === 4", timeout=30_000)
        clear_canvas(page)
        expect(page.get_by_text(PROMPT)).to_be_visible(timeout=60_000)
        expect(drawn_answer(page)).to_have_text("")
        draw(page, oval())
        expect(drawn_answer(page)).to_have_text("0", timeout=60_000)
        page.wait_for_timeout(500)
        assert page.evaluate("() => window.__runs") == []
        page.get_by_test_id("stSidebarNav").get_by_text("3 · Convolution").click()
        expect(page.get_by_text("your drawing").first).to_be_visible(timeout=60_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()


def test_the_canvas_and_its_answer_never_dim_while_a_stroke_is_read(browser, app_url):
    """Streamlit fades the elements a run will replace (after 0.5 s, over 1 s). On the Draw page that would
    grey the canvas under the pen and, on a busy laptop, repaint the fade every frame; the live section keeps
    full strength: every element a stroke marks stale is drawn at opacity 1 with no fade. A stroke runs the
    page when the answer route fails (here: every call refused), and the page's run answers."""
    from playwright.sync_api import expect

    page = open_page(browser, app_url, DRAW_PAGE, width=1300, height=900)
    try:
        expect(page.get_by_text(PROMPT)).to_be_visible(timeout=90_000)
        wait_for_idle(page)
        page.route("**/api/answer", lambda route: route.abort())
        page.evaluate(WATCH_STALE, "draw-live")
        # A stroke is one short run, which a fast browser may draw before it ever shows an element as stale: slow
        # the browser down as a busy laptop is, and draw until a run has (at most five strokes)
        page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
        for _ in range(5):
            draw(page, vertical_stroke())
            expect(metric_value(page, "Prediction")).to_have_text("1", timeout=60_000)
            expect(drawn_answer(page)).to_have_text("")  # the canvas had no answer to show
            clear_canvas(page)
            expect(page.get_by_text(PROMPT)).to_be_visible(timeout=60_000)
            if page.evaluate("() => window.__stale.length"):
                break
        seen = page.evaluate("() => window.__stale")
        assert seen, "no element of the live section was marked stale in five strokes: the check saw nothing"
        assert {tuple(s) for s in seen} == {("1", "0s")}
    finally:
        page.close()
