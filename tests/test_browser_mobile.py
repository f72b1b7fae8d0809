"""A phone: 390×844 with touch. Draw a 1 and a 0 on the Draw page with the finger (CDP touch events,
as a touchscreen sends them) and read each prediction; the page never scrolls sideways."""

from __future__ import annotations

import pytest

from browser_support import CANVAS, DRAW_PAGE, canvas_box, drawn_answer, oval, vertical_stroke, wait_for_idle

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def touch_stroke(page, cdp, points: list[tuple[float, float]], steps: int = 4) -> None:
    """One finger stroke through ``points`` (fractions of the canvas)."""
    box = canvas_box(page)
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": xy[0][0], "y": xy[0][1]}]})
    for (x0, y0), (x1, y1) in zip(xy, xy[1:]):
        for k in range(1, steps + 1):
            x, y = x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def scrolled(page) -> list[float]:
    """How far the document and Streamlit's scrolling containers are scrolled."""
    return page.evaluate("""() => [window.scrollY, ...[...document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stAppViewContainer"]')].map(e => e.scrollTop)]""")


def scrolls_sideways(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")


def test_draw_a_one_and_a_zero_by_touch(browser, app_url, screenshot_dir):
    from playwright.sync_api import expect

    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        page.goto(f"{app_url}/{DRAW_PAGE}", wait_until="domcontentloaded")
        cdp = context.new_cdp_session(page)
        canvas_box(page)
        wait_for_idle(page)
        page.locator(CANVAS).first.scroll_into_view_if_needed()  # as a person brings it into view
        scroll_before = scrolled(page)
        touch_stroke(page, cdp, vertical_stroke())
        expect(drawn_answer(page)).to_have_text("1", timeout=60_000)
        expect(drawn_answer(page)).to_be_in_viewport()  # the answer in sight while drawing
        assert scrolled(page) == scroll_before  # drawing did not scroll the page
        assert not scrolls_sideways(page)
        page.screenshot(path=screenshot_dir / "phone_draw_one.png")
        # the canvas's own undo, redo and clear show without hovering (a finger never hovers)
        for name in ("Undo", "Redo", "Reset canvas & history"):
            expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
        # a person reads the answer before clearing: the page's own run after the stroke is over by then (a tap
        # on the trash while that run was still being drawn gave no click in 3 of 5 headless runs)
        wait_for_idle(page)
        page.get_by_role("button", name="Reset canvas & history").first.tap()
        expect(drawn_answer(page)).to_have_text("", timeout=60_000)
        touch_stroke(page, cdp, oval())
        expect(drawn_answer(page)).to_have_text("0", timeout=60_000)
        assert not scrolls_sideways(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        context.close()
