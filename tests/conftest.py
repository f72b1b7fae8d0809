"""Shared fixtures for the browser tests (``@pytest.mark.browser``): a real ``streamlit run app.py``
server and a headless Debian Chromium driven by Playwright's sync API.

- ``app_url``: the running app's base URL (one server per test session, first visited through a
  deep link, stopped afterwards).
- ``browser``: a Playwright ``Browser`` (one per session); make a page with ``browser.new_page()``.
- ``screenshot_dir``: ``test-artifacts/screenshots/`` (git-ignored), created on demand.

Both skip (not fail) when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def warm_up(browser, url: str) -> None:
    """The server's very first visit goes straight to a deep link, as a shared link would. Streamlit
    decides its legacy pages/-folder mode before app.py has ever run; pages/shared.py switches it off,
    so the page must come up under app.py's navigation (titles such as "Convolution playground"),
    not under a list of file names."""
    page = browser.new_page()
    try:
        page.goto(f"{url}/playground", wait_until="domcontentloaded")
        nav = page.get_by_test_id("stSidebarNav")
        nav.get_by_text("Convolution playground").wait_for(timeout=STARTUP_TIMEOUT_S * 1000)
        if nav.get_by_text("shared", exact=True).count():
            pytest.fail("a first visit to a deep link showed Streamlit's legacy page list")
    finally:
        page.close()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, browser):
    """Start ``streamlit run app.py`` on a free port with this venv's Python; yield its URL; stop it."""
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    # One training at a time whatever the machine's cores (tests/test_browser_queue.py counts on it).
    env = dict(os.environ, PYTHONPATH=str(ROOT), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", MNISTVIZ_TRAIN_SLOTS="1")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           # no file watcher: nothing is edited during a test, and on a busy machine an inotify overflow
           # makes Streamlit re-scan pages/ and show the legacy page list instead of st.navigation's
           "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers(f"{url}/_stcore/health"):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        warm_up(browser, url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright (never a downloaded browser)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module", autouse=True)
def _collect_and_freeze_the_heap():
    """Each test module starts with the garbage of the ones before collected and the survivors frozen.

    TensorFlow and the AppTests leave a large heap of long-lived objects; every full collection Python
    makes on its own (and Keras' ``clear_session``) would scan all of it again, so a training late in
    the suite ran ten times slower than alone. The app does the same once its model is loaded."""
    import gc

    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(scope="session")
def model():
    """The shipped default model (read-only: tests never train or mutate it)."""
    from mnistviz import pretrained

    return pretrained.load_default_model()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
from servers import haproxy_class, redis_server, start_worker  # noqa: E402,F401 - real Redis/HAProxy fixtures
