"""Fixtures that start real servers on loopback (each stopped by its own PID):

- ``redis_server``: ``redis-server`` on a free port, nothing saved to disk (``.url``, ``.stop()``);
- ``start_worker``: starts ``python -m mnistviz worker`` processes against a Redis URL and a store folder;
- ``haproxy_class``: HAProxy (config from ``mnistviz.serve.haproxy_config``) in front of two
  ``streamlit run app.py`` processes (one set per test module).

They skip (not fail) when ``redis-server`` or ``haproxy`` is not installed (``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mnistviz.serve import (answers, find_program, free_port, haproxy_config, local_servers, redis_command,
                            streamlit_command)

ROOT = Path(__file__).resolve().parents[1]
# A browser context's name, set as a cookie: HAProxy's log shows it with every request. A cookie, not a header:
# a browser sends its cookies with the websocket's upgrade request, and Chromium (150 here) does not add
# Playwright's extra headers to that request.
MARK_COOKIE = "mv_test_session"


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Terminate one process by its PID, kill it if it does not stop."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def wait_for(check, proc: subprocess.Popen, what: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop(self.proc)


def start_redis(folder: Path) -> RedisServer:
    """``redis-server`` on a free loopback port, up and answering (skips if it is not installed)."""
    if find_program("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    port, log = free_port(), folder / "redis.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(redis_command(port), cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    server = RedisServer(port, proc)
    try:
        wait_for(lambda: _port_open(port), proc, "redis-server", log, timeout=20)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture
def redis_server(tmp_path):
    server = start_redis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def worker_env(redis_url: str, store: Path) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), MNISTVIZ_REDIS_URL=redis_url, MNISTVIZ_CACHE=str(store),
                TF_CPP_MIN_LOG_LEVEL="2")


def start_worker_process(redis_url: str, store: Path, log: Path) -> subprocess.Popen:
    """``python -m mnistviz worker`` for ``redis_url``, training into ``store``."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "mnistviz", "worker"], cwd=ROOT,
                                env=worker_env(redis_url, store), stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture
def start_worker(tmp_path):
    """``start_worker(redis_url, store)`` → a running ``python -m mnistviz worker`` (stopped afterwards)."""
    procs: list[subprocess.Popen] = []

    def start(redis_url: str, store: Path) -> subprocess.Popen:
        procs.append(start_worker_process(redis_url, store, tmp_path / f"worker{len(procs)}.log"))
        return procs[-1]

    yield start
    for proc in procs:
        stop(proc)


@dataclass
class Backend:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path


@dataclass
class HAProxyClass:
    url: str
    socket: Path
    proxy: subprocess.Popen
    proxy_log: Path
    backends: list[Backend] = field(default_factory=list)

    def servers_state(self) -> dict[str, str]:
        """Each back end's state as HAProxy's runtime API reports it (``show stat``): ``UP``, ``DOWN``, …"""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        rows = [line.split(",") for line in data.decode().splitlines() if line and not line.startswith("#")]
        return {r[1]: r[17] for r in rows if r[0] == "web" and r[1] not in ("FRONTEND", "BACKEND")}


def start_web(name: str, folder: Path, env: dict) -> Backend:
    """``streamlit run app.py`` on a free loopback port (log in ``folder``); see ``web_ready``."""
    port, log = free_port(), folder / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(streamlit_command(port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Backend(name, port, proc, log)


def web_ready(web: Backend, browser) -> None:
    """Wait for the health page, then make the first visit a deep link (conftest.warm_up)."""
    from conftest import warm_up

    wait_for(lambda: answers(f"http://127.0.0.1:{web.port}/_stcore/health"), web.proc, web.name, web.log)
    warm_up(browser, f"http://127.0.0.1:{web.port}")


@pytest.fixture(scope="module")
def haproxy_class(tmp_path_factory, browser):
    """HAProxy on a free port in front of two ``streamlit run app.py`` processes (embedded queue)."""
    haproxy = find_program("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (apt-get install -y haproxy)")
    run = tmp_path_factory.mktemp("haproxy")
    env = dict(os.environ, PYTHONPATH=str(ROOT), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
               MNISTVIZ_CACHE=str(run / "store"))
    env.pop("MNISTVIZ_REDIS_URL", None)
    backends = []
    proxy = None
    try:
        backends += [start_web(f"web{i}", run, env) for i in (1, 2)]
        front, sock, cfg = free_port(), run / "haproxy.sock", run / "haproxy.cfg"
        text = haproxy_config(local_servers([b.port for b in backends]), front, str(sock))
        capture = f"    http-request capture req.cook({MARK_COOKIE}) len 16\n"
        cfg.write_text(text.replace("frontend www\n", "frontend www\n" + capture))
        log = run / "haproxy.log"
        with open(log, "wb") as out:
            proxy = subprocess.Popen([haproxy, "-f", str(cfg), "-db"], stdout=out, stderr=subprocess.STDOUT)
        for b in backends:
            web_ready(b, browser)
        setup = HAProxyClass(f"http://127.0.0.1:{front}", sock, proxy, log, backends)
        wait_for(lambda: set(setup.servers_state().values()) == {"UP"} if sock.exists() else False, proxy,
                 "haproxy", log, timeout=20)
        yield setup
    finally:
        if proxy is not None:
            stop(proxy)
        for b in backends:
            stop(b.proc)
