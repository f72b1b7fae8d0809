"""'Teach it your handwriting' in Chromium: draw and label two 1s and two 0s on the real canvas, save
them, fine-tune the default model for one epoch and read both accuracies."""

from __future__ import annotations

import re

import pytest

from browser_support import draw, open_page, oval, vertical_stroke, wait_for_idle

pytestmark = pytest.mark.browser


def test_draw_label_save_and_fine_tune(browser, app_url, screenshot_dir):
    from playwright.sync_api import expect

    page = open_page(browser, app_url, "teach", height=2200)
    try:
        expect(page.get_by_text("Nothing saved yet")).to_be_visible(timeout=90_000)
        for n, (digit, stroke) in enumerate([("1", vertical_stroke()), ("0", oval()), ("1", vertical_stroke()),
                                             ("0", oval())], start=1):
            draw(page, stroke)
            expect(page.get_by_text("The active model reads it as")).to_be_visible(timeout=60_000)
            page.get_by_test_id("stButtonGroup").get_by_role("radio", name=digit, exact=True).click()
            wait_for_idle(page)
            page.get_by_role("button", name="Save this drawing").click()
            expect(page.get_by_text(f"{n} drawings", exact=True)).to_be_visible(timeout=60_000)
            # the canvas is fresh for the next digit
            expect(page.get_by_text("The active model reads it as")).to_have_count(0)
        expect(page.get_by_text("1 × 2")).to_be_visible()
        page.get_by_role("button", name="Fine-tune").click()
        own = page.get_by_test_id("stMetric").filter(has_text="Your digits, after")
        held = page.get_by_test_id("stMetric").filter(has_text="Held-out sample digits, after")
        expect(own).to_be_visible(timeout=180_000)
        assert re.fullmatch(r"\d+%", own.get_by_test_id("stMetricValue").inner_text())
        assert re.fullmatch(r"\d+\.\d%", held.get_by_test_id("stMetricValue").inner_text())
        page.get_by_role("button", name="Use the fine-tuned model on every page").click()
        expect(page.get_by_text("now the active model on every page")).to_be_visible(timeout=60_000)
        page.screenshot(path=screenshot_dir / "teach_fine_tuned.png", full_page=True)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()
