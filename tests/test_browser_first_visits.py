"""A fresh server whose very first visitors are a whole group opening the same deep link at once (a
teacher shares /draw): every one gets the Draw page under the app's navigation, with its canvas, and no
exception box. The first run of a fresh server switches Streamlit's legacy pages/-folder mode off and
reruns (pages/__init__.py); raised inside the import of a shared module, that rerun left the module half
made for the sessions waiting on the same import ("cannot import name ... from pages.components"), seen
in the class benchmark as exception boxes when 20 students arrived together."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from browser_support import CANVAS, DRAW_PAGE
from servers import ROOT, start_web, stop, wait_for
from mnistviz.serve import answers

pytestmark = pytest.mark.browser

VISITORS = 8


def test_a_group_opening_a_fresh_servers_link_at_once_all_get_the_page(browser, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
               MNISTVIZ_CACHE=str(tmp_path / "store"))
    env.pop("MNISTVIZ_REDIS_URL", None)
    web = start_web("fresh", tmp_path, env)
    contexts = []
    try:
        url = f"http://127.0.0.1:{web.port}"
        wait_for(lambda: answers(f"{url}/_stcore/health"), web.proc, web.name, web.log)
        contexts = [browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(VISITORS)]
        pages = [c.new_page() for c in contexts]
        for page in pages:  # all sessions start while the first one is still importing the app
            page.goto(f"{url}/{DRAW_PAGE}", wait_until="commit")
        for page in pages:
            page.locator(CANVAS).first.wait_for(state="visible", timeout=180_000)
            expect(page.get_by_test_id("stSidebarNav").get_by_text("Draw a digit", exact=True)).to_be_visible()
        for page in pages:
            expect(page.get_by_test_id("stException")).to_have_count(0)
        log = web.log.read_text(errors="replace")
        assert "ImportError" not in log and "Traceback" not in log, log[-3000:]
    finally:
        for c in contexts:
            c.close()
        stop(web.proc)
