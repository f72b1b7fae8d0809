"""Helpers for the Playwright tests: open a page of the app, draw on the canvas, read a metric."""

from __future__ import annotations

import math

DRAW_PAGE = "draw"  # st.navigation's URL path of pages/draw.py
PROMPT = "Draw a digit from 0 to 9"  # the Draw page's note while its canvas is empty


def open_page(browser, app_url: str, path: str = "", width: int = 1400, height: int = 1000):
    """A fresh tab (its own Streamlit session) on ``app_url/path``, once the app has rendered."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{app_url}/{path}", wait_until="domcontentloaded")
    page.get_by_test_id("stApp").wait_for(timeout=60_000)
    return page


# The Draw page's canvas (pages/draw_canvas.py), or the Teach page's (Fabric.js stacks two <canvas>; the top
# one takes the mouse).
CANVAS = "canvas.mv-board, canvas.upper-canvas"


def canvas_box(page) -> dict:
    """The drawing canvas' box on screen."""
    canvas = page.locator(CANVAS).first
    canvas.wait_for(state="visible", timeout=90_000)
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()


def draw(page, points: list[tuple[float, float]], steps: int = 4) -> None:
    """One stroke through ``points`` given as fractions (0-1) of the canvas' width and height."""
    box = canvas_box(page)
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()


def vertical_stroke() -> list[tuple[float, float]]:
    return [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)]


def oval(n: int = 40) -> list[tuple[float, float]]:
    """A closed oval, taller than wide, around the canvas' centre."""
    return [(0.5 + 0.22 * math.sin(2 * math.pi * k / n), 0.5 - 0.33 * math.cos(2 * math.pi * k / n))
            for k in range(n + 1)] + [(0.5 + 0.22 * math.sin(2 * math.pi * 3 / n), 0.5 - 0.33 * math.cos(2 * math.pi * 3 / n))]


def metric_value(page, label: str):
    """The value locator of the ``st.metric`` whose label is exactly ``label``."""
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return metric.get_by_test_id("stMetricValue")


def drawn_answer(page):
    """The digit the Draw page's canvas shows above itself once a stroke ends (empty text: no answer)."""
    return page.locator("[data-mv-answer] .mv-digit")


def drawn_and_taken(page, digit: str, timeout: int = 60_000) -> None:
    """Wait until the canvas shows ``digit`` as its answer AND the stroke's panels are in place (the prompt to
    draw is gone): from the answer route's reply, which means the server has the drawing for the session's
    next run (a section opened, a page visited); or, where the route failed, from the page's own run."""
    from playwright.sync_api import expect

    expect(drawn_answer(page)).to_have_text(digit, timeout=timeout)
    expect(page.get_by_text(PROMPT)).to_have_count(0, timeout=timeout)
    wait_for_idle(page, timeout)


def clear_canvas(page) -> None:
    """The canvas toolbar's reset button (it empties the canvas and its undo history)."""
    page.get_by_role("button", name="Reset canvas & history").first.click()


def open_folded(page, title: str) -> None:
    """Open a folded section (an expander whose content is built only while open): click its title, then
    wait for the page's rerun that lays the content out."""
    page.locator('[data-testid="stExpander"] summary', has_text=title).click()
    wait_for_idle(page)


def wait_for_idle(page, timeout: int = 60_000) -> None:
    """Wait until the script (or fragment) run has finished: Streamlit's running indicator is gone."""
    page.wait_for_timeout(300)  # let a just-sent event start its run
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=timeout)


def wait_for_figures(page, at_least: int = 1, timeout: int = 60_000) -> None:
    """Wait for the run to finish and Plotly to draw every chart (for screenshots worth looking at)."""
    wait_for_idle(page, timeout)
    page.wait_for_function(
        "n => { const c = [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')];"
        " return c.length >= n && c.every(x => x.querySelector('.main-svg')); }", arg=at_least, timeout=timeout)
