"""The convolution playground in Chromium: a negative number typed into "My own numbers" reaches the grid.

The data editor's number cells dropped a "-" typed at ordinary speed into a selected cell ("-1" became 1, or nothing changed),
which only a real browser shows; the editor now uses text cells that ``convarith.parse_grid`` reads.
"""

from __future__ import annotations

import pytest

from browser_support import open_page, wait_for_idle

pytestmark = pytest.mark.browser

SMALL_COLUMN = 75  # px: st.column_config width="small"
ROW = 35  # px: the data editor's header and row height


def test_typing_a_negative_number_into_my_own_numbers(browser, app_url):
    page = open_page(browser, app_url, "playground")
    try:
        page.get_by_text("1 · Convolution by hand").wait_for(timeout=120_000)
        wait_for_idle(page)
        choice = page.get_by_test_id("stMain").locator("input[aria-label='Input']").first
        choice.click(force=True)
        page.keyboard.type("My own")
        page.keyboard.press("Enter")
        page.get_by_text("Your input").wait_for(timeout=60_000)
        wait_for_idle(page)
        drawn_input = page.locator(".st-key-pg_in_still")
        assert "−1" not in drawn_input.inner_text()

        # The 5×5 editor: an index column, then five small columns; click row 0, column 0 (the grid is a
        # canvas, so by position), and type as a person does, one key at a time.
        box = page.get_by_test_id("stDataFrame").first.bounding_box()
        page.mouse.click(box["x"] + box["width"] - 5 * SMALL_COLUMN + SMALL_COLUMN / 2, box["y"] + ROW * 1.5)
        page.keyboard.type("-1", delay=60)
        page.get_by_text("Your input").click()  # done: click away, as people do
        wait_for_idle(page)
        page.wait_for_function("() => document.querySelector('.st-key-pg_in_still')?.innerText.includes('−1')",
                               timeout=60_000)
        assert not page.get_by_test_id("stException").count()
    finally:
        page.close()
