"""A teacher's link in Chromium: /stage_data?digit=42&hide=input,nav opens the Data page on test digit
#42 without the page list or the input picker, and "Share this view" gives the same link back."""

from __future__ import annotations

import pytest

from browser_support import open_page, wait_for_idle

pytestmark = pytest.mark.browser


def test_a_link_with_hidden_controls(browser, app_url, screenshot_dir):
    from playwright.sync_api import expect

    page = open_page(browser, app_url, "stage_data?digit=42&hide=input,nav")
    try:
        expect(page.get_by_text("The input: test digit #42")).to_be_visible(timeout=90_000)
        wait_for_idle(page)
        expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
        expect(page.get_by_text("Index in the test split")).to_have_count(0)
        expect(page.get_by_text("Active model")).to_be_visible()  # not hidden by this link
        page.get_by_role("button", name="Share this view").click()
        code = page.get_by_test_id("stCode").filter(has_text="stage_data")
        expect(code).to_contain_text(f"{app_url}/stage_data?digit=42&hide=input,nav", timeout=30_000)
        page.screenshot(path=screenshot_dir / "link_hidden_controls.png")
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()
