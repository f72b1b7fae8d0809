"""The lab on the Redis + RQ queue, in real Chromium: one ``streamlit run app.py`` with ``MNISTVIZ_REDIS_URL``
set, a real ``redis-server`` and real ``python -m mnistviz worker`` processes (small MLP trainings).

- 3 sessions press Train: one runs, the waiting ones show their queue position; Cancel on the page stops
  the running one and the waiting ones then run and finish (``test_jobs_rq`` has all three finishing);
- a worker killed mid-run is reported on the page with a Retry button, Retry runs it on a new worker, and
  Cancel on the page stops it with nothing stored;
- Redis stopped: the lab says so in one message and the Draw page still predicts.
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser_support import DRAW_PAGE, draw, drawn_answer, metric_value, vertical_stroke
from servers import RedisServer, start_redis, start_web, start_worker_process, stop, web_ready, worker_env

pytestmark = pytest.mark.browser

LONG_S = 240_000  # ms: a worker's start includes TensorFlow's import on a busy machine
SHORT = "b=0&dl=1&u={u}&ep=1&n=500"  # seconds to train
LONG = "b=0&dl=2&u={u}&ep=30&n=8000"  # long enough to be caught running, cancelled or killed


@dataclass
class RQLab:
    url: str
    redis: RedisServer
    store: Path
    folder: Path
    workers: list = field(default_factory=list)

    def start_worker(self):
        self.workers.append(start_worker_process(self.redis.url, self.store, self.folder / "worker.log"))
        return self.workers[-1]

    def stored_models(self) -> list[str]:
        return sorted(p.name for p in self.store.glob("*.keras")) if self.store.exists() else []


@pytest.fixture(scope="module")
def rq_lab(tmp_path_factory, browser):
    folder = tmp_path_factory.mktemp("rq_lab")
    redis = start_redis(folder)
    env = dict(worker_env(redis.url, folder / "store"), MNISTVIZ_DATA="sample",
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    web = start_web("web", folder, env)
    setup = RQLab(f"http://127.0.0.1:{web.port}", redis, folder / "store", folder)
    setup.start_worker()  # its TensorFlow import overlaps the web process's
    try:
        web_ready(web, browser)
        yield setup
    finally:
        for proc in setup.workers:
            stop(proc)
        stop(web.proc)
        redis.stop()


def open_labs(browser, url: str, *queries: str) -> list:
    """``(context, page)`` per query, each its own session on the lab, loaded side by side."""
    sessions = []
    for query in queries:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{url}/lab?{query}", wait_until="commit")
        sessions.append((context, page))
    for _, page in sessions:
        settle(page)
        train_button(page).wait_for(timeout=60_000)
    return sessions


def settle(page) -> None:
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=180_000)


def train_button(page):
    return page.get_by_role("button", name="Train", exact=True)


def what_the_page_shows(page) -> str:
    """The lab's training state as a person reads it: progress line, messages, Train/Cancel/Retry."""
    return page.evaluate("""() => JSON.stringify({
      progress: [...document.querySelectorAll('[data-testid="stProgress"]')].map(e => e.innerText),
      messages: [...document.querySelectorAll('[data-testid="stAlert"]')].map(e => e.innerText.slice(0, 300)),
      buttons: [...document.querySelectorAll('button')].map(e => e.innerText.trim())
          .filter(t => /(^|\\s)(Train|Cancel|Retry)$/.test(t)).map(t => t.split(/\\s/).pop()),
      script: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state')})""")


def results_shown(page, lab: RQLab) -> None:
    """Wait for the run's "Test accuracy"; if it never comes, fail with what the page and the worker said."""
    try:
        metric_value(page, "Test accuracy").wait_for(timeout=LONG_S)
    except Exception as exc:  # noqa: BLE001 - re-raised with the evidence
        log = lab.folder / "worker.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no worker log)"
        raise AssertionError(f"no results after {LONG_S // 1000} s; the page shows {what_the_page_shows(page)}; "
                             f"stored: {lab.stored_models()}; the worker's log ends:\n{tail}") from exc


def running(page):
    """The progress line of a running training, e.g. ``Epoch 2/30 · batch 14/57 · …``."""
    return page.get_by_text(re.compile(r"^Epoch \d+/\d+ · batch \d+/\d+")).first


def no_error_boxes(page) -> None:
    assert page.get_by_test_id("stException").count() == 0


def test_three_sessions_queue_with_positions_and_cancel_on_the_page_lets_the_next_run(browser, rq_lab):
    queries = [LONG.format(u=32), SHORT.format(u=17), SHORT.format(u=19)]
    sessions = open_labs(browser, rq_lab.url, *queries)
    pages = [p for _, p in sessions]
    try:
        train_button(pages[0]).click()
        expect(running(pages[0])).to_be_visible(timeout=LONG_S)  # one runs (one worker) ...
        for page in pages[1:]:  # one after the other: the queue's order is the order its submits arrive in
            train_button(page).click()
            expect(page.get_by_role("button", name="Cancel")).to_be_visible(timeout=60_000)
        # ... and the others wait, each told how many runs are ahead of theirs
        expect(pages[1].get_by_text("You are next: waiting for a free training slot.")).to_be_visible(timeout=30_000)
        expect(pages[2].get_by_text("1 run ahead of yours")).to_be_visible(timeout=30_000)

        pages[0].get_by_role("button", name="Cancel").click()  # its only follower leaves: the training stops
        expect(pages[0].get_by_text("Training cancelled at epoch")).to_be_visible(timeout=60_000)
        expect(train_button(pages[0])).to_be_enabled(timeout=30_000)
        for page in pages[1:]:  # the waiting runs follow and finish
            results_shown(page, rq_lab)
            assert "from the store" not in metric_value(page, "Training time").inner_text()
        for page in pages:
            no_error_boxes(page)
        assert len(rq_lab.stored_models()) == 2  # the cancelled run is not stored
    finally:
        for context, _ in sessions:
            context.close()


def test_a_killed_worker_is_reported_on_the_page_retry_runs_it_and_cancel_stops_it(browser, rq_lab):
    before = rq_lab.stored_models()
    ((context, page),) = open_labs(browser, rq_lab.url, LONG.format(u=301))
    try:
        train_button(page).click()
        expect(running(page)).to_be_visible(timeout=LONG_S)
        worker = rq_lab.workers[-1]
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        rq_lab.start_worker()  # a replacement, starting while the page finds out
        expect(page.get_by_text("stopped mid-run", exact=False)).to_be_visible(timeout=60_000)
        retry = page.get_by_role("button", name="Retry")
        expect(retry).to_be_visible()
        assert rq_lab.stored_models() == before  # nothing half-written

        retry.click()
        expect(running(page)).to_be_visible(timeout=LONG_S)  # the new worker trains it
        page.get_by_role("button", name="Cancel").click()  # the one follower leaves: the training stops
        expect(page.get_by_text("Training cancelled at epoch")).to_be_visible(timeout=60_000)
        expect(train_button(page)).to_be_enabled(timeout=30_000)
        assert rq_lab.stored_models() == before  # a cancelled run is not stored
        no_error_boxes(page)
    finally:
        context.close()


def test_redis_hanging_as_train_is_pressed_is_said_once(browser, rq_lab):
    """Redis stops answering (paused, not gone) between the page's run and the press of Train: the lab says
    so once, above the Train button, within seconds, and picks up when Redis answers again."""
    ((context, page),) = open_labs(browser, rq_lab.url, SHORT.format(u=31))
    try:
        expect(train_button(page)).to_be_enabled(timeout=60_000)
        os.kill(rq_lab.redis.proc.pid, signal.SIGSTOP)
        try:
            train_button(page).click()
            expect(page.get_by_text("Training is unavailable right now.")).to_be_visible(timeout=30_000)
            settle(page)
            expect(page.get_by_text("cannot be reached", exact=False)).to_have_count(1)
            expect(train_button(page)).to_be_disabled()
            no_error_boxes(page)
        finally:
            os.kill(rq_lab.redis.proc.pid, signal.SIGCONT)
        page.reload()
        expect(train_button(page)).to_be_enabled(timeout=60_000)
    finally:
        context.close()


def test_redis_down_the_lab_says_so_and_drawing_keeps_working(browser, rq_lab):
    rq_lab.redis.stop()
    ((context, page),) = open_labs(browser, rq_lab.url, SHORT.format(u=23))
    try:
        expect(page.get_by_text("Training is unavailable right now.")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("cannot be reached", exact=False)).to_be_visible()
        expect(train_button(page)).to_be_disabled(timeout=30_000)
        no_error_boxes(page)
        page.goto(f"{rq_lab.url}/{DRAW_PAGE}", wait_until="domcontentloaded")
        draw(page, vertical_stroke())
        expect(drawn_answer(page)).to_have_text("1", timeout=90_000)
        no_error_boxes(page)
    finally:
        context.close()
