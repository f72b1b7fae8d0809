"""Every page of the app (mnistviz.lessons, which app.py's navigation is built from), opened in a real headless Chromium against `streamlit run app.py`:
no exception box, no error alert, its main figure on screen, and a full-page screenshot of it in
test-artifacts/screenshots/ for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from browser_support import open_page
from mnistviz import lessons

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 1400
PHONE = {"width": 390, "height": 844}
MAX_SHOT_HEIGHT = 16_000  # px; a taller page is cut (Chromium's texture limit is about there)


def app_pages() -> list[tuple[str, str]]:
    """(file stem, URL path) of every page; the default page lives at ``/``."""
    stems = [(Path(lesson.path).stem, lesson.default) for lesson in lessons.available_lessons(redis=False)]
    return [(stem, "" if default else stem) for stem, default in stems]


TITLES = {Path(lesson.path).stem: lesson.title for lesson in lessons.LESSONS}


PAGES = app_pages()

# What "the page's main figure" is, where it is not a Plotly chart.
MAIN_FIGURE = {
    "home": '[data-testid="stPageLink"]',  # home is text and the links to where to start
    "draw": "canvas.mv-board",  # the drawing canvas (pages/draw_canvas.py)
    "teach": "canvas.upper-canvas",
}
PLOTLY = ".js-plotly-plot"


def settle(page, timeout_ms: int = 180_000) -> None:
    """Wait until the page's script run has finished (Streamlit marks it on the app's root element)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)


def full_page_screenshot(page, path: Path) -> None:
    """Streamlit scrolls inside its main container, not the document: grow the viewport to the content first."""
    height = page.evaluate("""() => Math.max(document.body.scrollHeight,
        ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"],'
                                          + ' [data-testid="stSidebarContent"]')].map(e => e.scrollHeight))""")
    page.set_viewport_size({"width": WIDTH, "height": int(min(height + 40, MAX_SHOT_HEIGHT))})
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.screenshot(path=str(path), full_page=True)


def test_every_page_file_is_listed():
    listed = {stem for stem, _ in PAGES}
    files = {p.stem for p in (ROOT / "pages").glob("*.py")} - {Path(p).stem for p in lessons.PAGE_HELPERS}
    files -= {Path(lesson.path).stem for lesson in lessons.LESSONS if lesson.needs_redis}  # not listed without Redis
    assert listed == files, f"pages not listed: {files - listed}; listed but missing: {listed - files}"
    assert sum(path == "" for _, path in PAGES) == 1  # exactly one default page


@pytest.fixture(scope="module")
def tab(browser, app_url):
    """One tab (one session) that visits every page through the sidebar, as a person clicking through the app
    does: each visit is the page's script run, not a reload of the whole app."""
    page = open_page(browser, app_url, "", width=WIDTH)
    settle(page)
    yield page
    page.close()


def visit(page, stem: str, path: str) -> None:
    """Open page ``stem`` from the sidebar's list of pages (widening the window back first)."""
    page.set_viewport_size({"width": WIDTH, "height": 1000})
    nav = page.get_by_test_id("stSidebarNav")
    try:
        nav.wait_for(state="visible", timeout=5_000)  # the sidebar comes back as the window widens
    except Exception:  # noqa: BLE001 - still collapsed: open it as a person would
        page.get_by_test_id("stExpandSidebarButton").click()
        nav.wait_for(state="visible", timeout=10_000)
    link = nav.get_by_role("link", name=TITLES[stem], exact=True)
    if link.get_attribute("aria-current") == "page":
        return  # already there (the tab opens on Home)
    before = page.locator("h1").first.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/" + re.escape(path) + r"(\?.*)?$"), timeout=60_000)
    # the new page's title replaces the last one's (until then the figures on screen may be the last page's)
    page.wait_for_function("t => { const h = document.querySelector('h1'); return h && h.innerText !== t; }",
                           arg=before, timeout=120_000)


@pytest.mark.parametrize("stem,path", PAGES, ids=[stem for stem, _ in PAGES])
def test_page_opens_without_errors_and_shows_its_figure(tab, screenshot_dir, stem, path):
    page = tab
    visit(page, stem, path)
    settle(page)
    figure = page.locator(MAIN_FIGURE.get(stem, PLOTLY)).first
    figure.wait_for(state="visible", timeout=60_000)
    box = figure.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 20, f"{stem}: main figure is not really drawn: {box}"
    assert page.locator("h1").first.is_visible(), f"{stem}: no page title"
    settle(page)  # a figure's first draw can trigger nothing, but a fragment might still be running

    exceptions = page.get_by_test_id("stException")
    assert exceptions.count() == 0, f"{stem}: exception box: {exceptions.first.inner_text()[:500]}"
    assert page.get_by_test_id("stAlertContentError").count() == 0, (
        f"{stem}: st.error on a fresh page: {page.get_by_test_id('stAlertContentError').first.inner_text()}")
    for alert in page.get_by_test_id("stAlert").all():
        text = alert.inner_text()
        assert not re.search(r"\bError\b|Traceback", text), f"{stem}: alert reports an error: {text[:300]}"
    body = page.get_by_test_id("stMain").inner_text()
    assert "Traceback (most recent call last)" not in body

    full_page_screenshot(page, screenshot_dir / f"page_{stem}.png")
    assert (screenshot_dir / f"page_{stem}.png").stat().st_size > 10_000

    # The same page on a phone's width (390 px): columns stack and nothing makes the page scroll sideways.
    page.set_viewport_size(PHONE)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    widths = page.evaluate("""() => [document.documentElement.scrollWidth, window.innerWidth,
        ...[...document.querySelectorAll('[data-testid="stMain"]')].map(e => e.scrollWidth - e.clientWidth)]""")
    assert widths[0] <= widths[1] and all(extra <= 0 for extra in widths[2:]), f"{stem}: wider than a phone: {widths}"
    shown = page.evaluate("""() => [...document.querySelectorAll('.modebar-container')]
        .filter(e => getComputedStyle(e).display !== 'none').length""")
    assert shown == 0, f"{stem}: Plotly's toolbar would cover chart titles on a phone"
    page.screenshot(path=str(screenshot_dir / f"phone_{stem}.png"), full_page=True)
