"""The embedded training queue in real Chromium: the suite's ``streamlit run app.py`` (no Redis,
``MNISTVIZ_TRAIN_SLOTS=1``). Three sessions press Train: one runs, the other two wait and
are told their place; a fourth session draws meanwhile and gets its prediction. Cancelling the running
one lets the next run start."""

from __future__ import annotations

import random

import pytest
from playwright.sync_api import expect

from browser_support import CANVAS, DRAW_PAGE, draw, drawn_answer, metric_value, vertical_stroke
from test_browser_lab_rq import LONG, SHORT, no_error_boxes, open_labs, running, train_button

pytestmark = pytest.mark.browser


def test_three_train_one_runs_two_wait_and_a_fourth_draws(browser, app_url):
    one_slot = app_url  # the suite's server trains one run at a time (tests/conftest.py)
    u = random.sample(range(40, 400), 3)  # sizes new to the model store: each must train
    sessions = open_labs(browser, one_slot, LONG.format(u=u[0]), SHORT.format(u=u[1]), SHORT.format(u=u[2]))
    pages = [p for _, p in sessions]
    drawer = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        draw_page = drawer.new_page()  # a fourth person, on the Draw page
        draw_page.goto(f"{one_slot}/{DRAW_PAGE}", wait_until="domcontentloaded")
        draw_page.locator(CANVAS).first.wait_for(state="visible", timeout=120_000)
        train_button(pages[0]).click()
        expect(running(pages[0])).to_be_visible(timeout=120_000)
        for page in pages[1:]:  # in turn: the queue's order is the order the submits arrive in
            train_button(page).click()
            expect(page.get_by_role("button", name="Cancel")).to_be_visible(timeout=60_000)
        expect(pages[1].get_by_text("You are next: waiting for a free training slot.")).to_be_visible(timeout=30_000)
        expect(pages[2].get_by_text("1 run ahead of yours")).to_be_visible(timeout=30_000)

        draw(draw_page, vertical_stroke())  # ... draws while the slot is busy
        expect(drawn_answer(draw_page)).to_have_text("1", timeout=60_000)
        expect(running(pages[0])).to_be_visible()  # the training was still going on
        # its curves so far, redrawn every few seconds (the progress bar above them every second)
        expect(pages[0].locator(".js-plotly-plot").filter(has_text="Training so far")).to_be_visible(timeout=60_000)
        expect(running(pages[0])).to_be_visible()

        pages[0].get_by_role("button", name="Cancel").click()
        expect(pages[0].get_by_text("Training cancelled at epoch")).to_be_visible(timeout=60_000)
        # the next in line takes the slot (a short run: it may already be done when the page looks)
        expect(running(pages[1]).or_(metric_value(pages[1], "Test accuracy"))).to_be_visible(timeout=120_000)
        for page in (*pages, draw_page):
            no_error_boxes(page)
    finally:
        drawer.close()
        for context, _ in sessions:
            context.close()
