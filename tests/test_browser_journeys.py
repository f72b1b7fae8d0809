"""One person across pages in real Chromium: the input digit they chose (a drawing, a typed test index, a
random pick) follows them through the sidebar's navigation, the in-page "Next:" links and pages that do
not show the input picker."""

from __future__ import annotations

import re

import pytest

from browser_support import draw, metric_value, open_page, vertical_stroke, wait_for_idle

pytestmark = pytest.mark.browser


def heading(page) -> str:
    return page.locator("h1").first.inner_text(timeout=60_000)


def go(page, title: str, via: str = "nav") -> None:
    """Open the page titled ``title`` from the sidebar's navigation or the in-page "Next:" link, and wait
    until its own heading is up and its script run has finished."""
    before = heading(page)
    if via == "nav":
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    else:
        link = page.get_by_role("link", name=f"Next: {title}")
        link.scroll_into_view_if_needed()
        link.click()
    page.wait_for_function("old => { const h = document.querySelector('h1');"
                           " return h && h.innerText !== old; }", arg=before, timeout=60_000)
    wait_for_idle(page)


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def source_is_drawing(page) -> bool:
    return sidebar(page).get_by_role("radio", name="My drawing").is_checked()


def index_value(page) -> int:
    return int(sidebar(page).get_by_label("Index in the test split").input_value())


def caption(page) -> str:
    return sidebar(page).get_by_test_id("stImage").inner_text()


def test_the_chosen_input_follows_one_person_everywhere(browser, app_url, screenshot_dir):
    page = open_page(browser, app_url, "draw")
    try:
        # 1. a drawing, then the walkthrough through the sidebar and through the Next links
        draw(page, vertical_stroke())
        metric_value(page, "Prediction").wait_for(timeout=90_000)
        wait_for_idle(page)
        go(page, "3 · Convolution")
        assert source_is_drawing(page) and "your drawing" in caption(page)
        go(page, "4 · Max pooling")
        assert source_is_drawing(page), "the drawing was lost on the second page"
        go(page, "5 · Flatten", via="next")
        assert source_is_drawing(page), "the drawing was lost through a Next link"
        go(page, "Home")  # a page without the input picker
        go(page, "6 · Dense and dropout")
        assert source_is_drawing(page)

        # 2. a typed test index
        sidebar(page).get_by_text("Test digit", exact=True).click()
        wait_for_idle(page)
        box = sidebar(page).get_by_label("Index in the test split")
        box.fill("42")
        box.press("Enter")
        wait_for_idle(page)
        assert "test digit #42" in caption(page)
        go(page, "7 · Logits and softmax")
        assert index_value(page) == 42 and not source_is_drawing(page)
        go(page, "Draw a digit")
        go(page, "Overview")
        assert index_value(page) == 42
        go(page, "1 · Data", via="next")
        assert index_value(page) == 42, "the typed index was lost through a Next link"

        # 3. a random digit
        sidebar(page).get_by_role("button", name="Random digit").click()
        page.wait_for_function("() => !document.querySelector('[data-testid=stSidebar] img')"
                               "?.closest('[data-testid=stImage]')?.innerText.includes('#42')", timeout=60_000)
        wait_for_idle(page)
        picked = index_value(page)
        assert f"test digit #{picked}" in caption(page)
        go(page, "2 · Reshape to NHWC", via="next")
        assert index_value(page) == picked
        go(page, "Convolution playground")
        go(page, "4 · Max pooling")
        assert index_value(page) == picked and f"test digit #{picked}" in caption(page)
    except Exception:
        page.screenshot(path=str(screenshot_dir / "journey-failure.png"), full_page=True)
        raise
    finally:
        page.close()
