"""HAProxy in front of two ``streamlit run app.py`` processes, with real Chromium sessions.

- 4 browser contexts spread over both back ends (HAProxy's cookie says which); every request of a
  context (page, scripts, the websocket, the /media images) reaches the back end its cookie names,
  as HAProxy's own log shows; each draws a 1, gets its prediction and follows it to a page whose /media
  images load.
- One back end stopped: HAProxy marks it down within seconds, and a new session lands on the other
  one and works.
"""

from __future__ import annotations

import re
import time

import pytest

from browser_support import DRAW_PAGE, draw, drawn_and_taken, vertical_stroke
from mnistviz.serve import COOKIE
from servers import MARK_COOKIE  # HAProxy logs it with each request

pytestmark = pytest.mark.browser

# httplog: ... www web/web1 0/0/0/5/5 200 ... {s1} "GET /draw HTTP/1.1"
LOG_LINE = re.compile(r" www web/(\S+) .*?\{([^}]*)\} \"(\S+) (\S+)")
IMAGES_LOADED_JS = """() => { const imgs = [...document.querySelectorAll('img[src*="/media/"]')];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }"""


def open_session(browser, url: str, mark: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": MARK_COOKIE, "value": mark, "url": url}])
    page = context.new_page()
    page.goto(f"{url}/{DRAW_PAGE}", wait_until="domcontentloaded")
    page.get_by_test_id("stApp").wait_for(timeout=60_000)
    return context, page


def server_cookie(context) -> str:
    values = [c["value"] for c in context.cookies() if c["name"] == COOKIE]
    assert len(values) == 1, context.cookies()
    return values[0]


def draw_a_one(pages: list) -> None:
    """In each page, draw a 1 and get its prediction, then follow it to the Convolution page, whose sidebar
    shows the drawing as a /media image (the Draw page's own pictures are inline) and wait for every /media
    image to load. The sessions do each step together, as a class does: their waits overlap."""
    for page in pages:
        draw(page, vertical_stroke())
    for page in pages:
        drawn_and_taken(page, "1", timeout=90_000)
    for page in pages:
        page.get_by_test_id("stSidebarNav").get_by_text("3 · Convolution", exact=True).click()
    for page in pages:
        page.wait_for_function(IMAGES_LOADED_JS, timeout=60_000)


def requests_by_session(log_text: str) -> dict[str, list[tuple[str, str]]]:
    """``mark → [(server, path), ...]`` from HAProxy's log lines."""
    out: dict[str, list[tuple[str, str]]] = {}
    for server, mark, _method, path in LOG_LINE.findall(log_text):
        if mark:
            out.setdefault(mark, []).append((server, path))
    return out


def test_four_sessions_spread_over_both_back_ends_and_each_stays_on_its_own(browser, haproxy_class):
    sessions = [open_session(browser, haproxy_class.url, f"s{i}") for i in range(4)]
    try:
        cookies = [server_cookie(ctx) for ctx, _ in sessions]
        assert sorted(cookies) == ["web1", "web1", "web2", "web2"]  # round robin over both back ends
        draw_a_one([page for _, page in sessions])
    finally:
        for ctx, _ in sessions:
            ctx.close()  # HAProxy logs a websocket when it ends
    marks = [f"s{i}" for i in range(len(sessions))]

    def websockets_logged(seen):
        return all(any(p.startswith("/_stcore/stream") for _, p in seen.get(m, [])) for m in marks)

    deadline = time.monotonic() + 20
    while not websockets_logged(seen := requests_by_session(haproxy_class.proxy_log.read_text())):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for mark, cookie in zip(marks, cookies):
        reqs = seen[mark]
        assert {server for server, _ in reqs} == {cookie}, reqs  # every request on its own back end
        paths = [p for _, p in reqs]
        assert any(p.startswith("/_stcore/stream") for p in paths), paths  # the websocket
        assert any(p.startswith("/media/") for p in paths), paths  # the images


def test_a_stopped_back_end_is_marked_down_and_new_sessions_land_on_the_other(browser, haproxy_class):
    victim, survivor = haproxy_class.backends
    victim.proc.terminate()
    victim.proc.wait(timeout=15)
    t0 = time.monotonic()
    while haproxy_class.servers_state()[victim.name] != "DOWN":
        assert time.monotonic() - t0 < 10, haproxy_class.servers_state()  # inter 1s, fall 2: a few seconds
        time.sleep(0.2)
    assert haproxy_class.servers_state()[survivor.name] == "UP"
    # round robin would have sent one of these to the stopped back end
    sessions = [open_session(browser, haproxy_class.url, f"after{i}") for i in range(2)]
    try:
        assert [server_cookie(ctx) for ctx, _ in sessions] == [survivor.name] * 2
        draw_a_one([page for _, page in sessions])
    finally:
        for ctx, _ in sessions:
            ctx.close()
