"""The class benchmark: a room of simulated students in headless Chromium, written to BENCHMARKS.md.

    python -m mnistviz bench --class                      # everything (≈ 15-20 min on 2 cores)
    python -m mnistviz bench --class --students 2 --trainers 1 --setups a --seconds 20 --parts setups

Each student is a Playwright browser context on the Draw page: it draws one of five digits (the strokes the
concurrency test checks, each moved and scaled a little: every stroke a new picture), waits for the answer,
clears the canvas with its reset button and draws again about every 5 s. K of them also have the Lab open in a
window of its own and train one small, never-seen-before model after another (press Train, wait, open a new link,
press Train …).

Setups, each measured against the floor page (canvas + a constant metric) under the same load:
(a) one `streamlit run app.py` with the embedded training queue (`MNISTVIZ_TRAIN_SLOTS=1`);
(b) `python -m mnistviz serve --web 2 --workers 1`: redis-server, HAProxy, 2 web processes, 1 RQ worker.
Other parts: the pinned 10-session run (ours vs floor, no training; three pairs of back-to-back windows, the
order swapped each pair, because this host's speed drifts over minutes), the first stroke of fresh sessions
(reload before each stroke), and where the browser spends a stroke on our page (DevTools metrics, a
JavaScript profile by script, DOM changes by element).

Servers run on core 0 (`taskset -c 0`), this process, Playwright's driver and Chromium on core 1, so
each CPU figure belongs to one side. CPU seconds come from /proc/<pid>/stat (utime + stime) of every
process of a side, sampled each second. Each window opens once the pages just loaded have gone quiet.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the digit strokes and the timing hook the browser tests checked

from benchmarks.run import CHROMIUM_ARGS, pct  # noqa: E402
from mnistviz.serve import answers, find_program, free_port, haproxy_config, local_servers, streamlit_command  # noqa: E402
from test_browser_concurrency import DIGITS, TIMING_JS  # noqa: E402

SERVER_CORE, BROWSER_CORE = 0, 1
STROKE_EVERY_S = 5.0
ANSWER_TIMEOUT_MS = 60_000
PAGE_DONE_TIMEOUT_MS = 15_000  # a stroke whose page run has not ended by then has no "page done" figure
FLOOR_SCRIPT = "benchmarks/apps/floor.py"
JSON_OUT = ROOT / "benchmarks" / "classroom.json"
MD_OUT = ROOT / "BENCHMARKS.md"
SECTION_START, SECTION_END = "<!-- class benchmark: start -->", "<!-- class benchmark: end -->"
CLK = os.sysconf("SC_CLK_TCK")

# The answer once the timing hook (TIMING_JS) has stopped its clock, else null; and whether no answer shows
# (after a clear). TIMING_JS's window.__mvAnswer says what counts as an answer on either page.
ANSWER_JS = """() => (!window.__mv || window.__mv.t1 === null) ? null
    : {ms: window.__mv.t1 - window.__mv.t0, value: window.__mvAnswer() ?? ''}"""
NO_ANSWER_JS = "() => window.__mvAnswer() === null"
LAB_STATE_JS = """() => ({
  progress: [...document.querySelectorAll('[data-testid="stProgress"]')].map(e => e.innerText).join(' '),
  results: [...document.querySelectorAll('h1, h2, h3')].some(h => h.textContent.includes('Results of run')),
  errors: [...document.querySelectorAll('[data-testid="stAlert"]')].map(e => e.innerText)
      .filter(t => /fail|unavailable|error/i.test(t)).join(' | '),
  exceptions: document.querySelectorAll('[data-testid="stException"]').length,
})"""
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'


# --- /proc: processes, CPU time, memory ----------------------------------------------------------

def proc_table() -> dict[int, tuple[str, int, int, int]]:
    """pid → (command name, parent pid, CPU ticks user+system, start time) for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        right = raw.rfind(")")
        f = raw[right + 2:].split()
        out[int(name)] = (raw[raw.find("(") + 1:right], int(f[1]), int(f[11]) + int(f[12]), int(f[19]))
    return out


def descendants(table: dict, roots: set[int]) -> set[int]:
    """``roots`` (those still alive) and every process below them."""
    found = {p for p in roots if p in table}
    grew = True
    while grew:
        more = {p for p, row in table.items() if row[1] in found and p not in found}
        found |= more
        grew = bool(more)
    return found


def memory(pid: int) -> dict:
    out = {"pid": pid}
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        text = [c.decode(errors="replace") for c in cmd if c]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key.lower() + "_mb"] = round(int(rest.split()[0]) / 1024, 1)
    except OSError:
        return out
    joined = " ".join(text)
    if "streamlit" in joined:
        out["name"] = "streamlit " + next((t for t in text if t.endswith(".py")), "")
    elif "mnistviz" in text:
        out["name"] = "mnistviz " + " ".join(text[text.index("mnistviz") + 1:][:1])
    else:
        out["name"] = Path(text[0]).name if text else "?"
    return out


def core_ticks() -> dict[int, tuple[int, int]]:
    """cpu index → (busy ticks, total ticks) from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *v = line.split()
            v = [int(x) for x in v]
            idle = v[3] + v[4]
            out[int(name[3:])] = (sum(v[:8]) - idle, sum(v[:8]))
    return out


def busy_fractions(before: dict, after: dict) -> dict[int, float]:
    """cpu index → the fraction of its ticks spent busy between two ``core_ticks()`` readings."""
    return {c: (after[c][0] - before[c][0]) / max(1, after[c][1] - before[c][1]) for c in after if c in before}


class CpuMeter:
    """CPU seconds spent by groups of processes between ``start()`` and ``stop()``, sampled every second
    (a process that ends between two samples loses at most its last second)."""

    def __init__(self, groups: dict):
        self.groups = groups  # name → function(table) → set of pids
        self.first: dict = {}
        self.last: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.each_second: list = []  # [busy fraction of each core] per second

    def _sample(self, baseline: bool = False) -> None:
        table = proc_table()
        for group, select in self.groups.items():
            for pid in select(table):
                comm, _, ticks, started = table[pid]
                key = (group, pid, started)
                if key not in self.first:
                    self.first[key] = ticks if baseline else 0
                self.last[key] = ticks

    def _run(self) -> None:
        before = self.cores0  # read by start(): the seconds add up to the whole window's figure
        while not self._stop.wait(1.0):
            self._sample()
            now = core_ticks()
            busy = busy_fractions(before, now)
            self.each_second.append([round(busy[c], 2) for c in sorted(busy)])
            before = now

    def start(self) -> None:
        self.cores0 = core_ticks()
        self.t0 = time.monotonic()
        self._sample(baseline=True)
        self._thread.start()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        wall = time.monotonic() - self.t0
        cores1 = core_ticks()
        out = {"wall_s": round(wall, 1), "cpu_s": {}, "processes": {}, "core_busy_each_second": self.each_second}
        for group in self.groups:
            keys = [k for k in self.first if k[0] == group]
            out["cpu_s"][group] = round(sum(self.last[k] - self.first[k] for k in keys) / CLK, 2)
            out["processes"][group] = len(keys)
            if group == "server":
                names = {k[1]: memory(k[1]).get("name", str(k[1])) for k in keys}
                by_name: dict = {}
                for k in keys:
                    by_name[names[k[1]]] = by_name.get(names[k[1]], 0) + (self.last[k] - self.first[k]) / CLK
                out["server_cpu_s_by_process"] = {n: round(v, 2) for n, v in by_name.items()}
        out["core_busy"] = {str(c): round(b, 3) for c, b in busy_fractions(self.cores0, cores1).items()}
        return out


# A fixed piece of Python work, run every few seconds on the server core (5-20 % busy in these runs) by a
# process of its own: its CPU time says how fast this machine is just then. The same page doing the same work
# has cost up to half again as much CPU per stroke in some runs as in others, on both cores and in every process
# alike (the floor's server included), with no steal time in /proc/stat: the host, not the page.
_SPEED_WORK = """
import os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
while True:
    t = time.process_time()
    data = list(range(500_000)); data.reverse(); data.sort()
    sum(x * x for x in data[::2])
    print(round((time.process_time() - t) * 1000, 2), flush=True)
    time.sleep(float(sys.argv[2]))
"""


class SpeedProbe:
    """The machine's speed while a run lasts: CPU milliseconds of ``_SPEED_WORK``, once every ``every_s``
    seconds on ``core`` (a higher figure is a slower machine). Two runs compare fairly only at similar speeds."""

    def __init__(self, core: int = SERVER_CORE, every_s: float = 3.0):
        self.samples: list[float] = []
        self._proc = subprocess.Popen([sys.executable, "-c", _SPEED_WORK, str(core), str(every_s)],
                                      stdout=subprocess.PIPE, text=True)
        self.pid = self._proc.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._proc.stdout:
            self.samples.append(float(line))

    def stop(self) -> dict:
        """Stop the probe (again: no harm): its median and range in CPU ms, and how many samples."""
        if self._proc.poll() is None:
            self._proc.terminate()
        self._proc.wait()
        self._reader.join(timeout=5)
        s = self.samples
        return {"median_ms": pct(s, 50), "min_ms": min(s, default=float("nan")), "max_ms": max(s, default=float("nan")),
                "samples": len(s)}


# --- the servers -----------------------------------------------------------------------------------

def pinned(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", str(SERVER_CORE), *cmd] if shutil.which("taskset") else cmd


def server_env(store: Path, **extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
               MNISTVIZ_CACHE=str(store), TF_CPP_MIN_LOG_LEVEL="2", **extra)
    env.pop("MNISTVIZ_REDIS_URL", None)
    return env


@dataclass
class Servers:
    """One setup's processes (started on the server core) and the URL students open."""
    name: str
    url: str = ""
    procs: list = field(default_factory=list)
    logs: Path | None = None

    def start(self, name: str, cmd: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(pinned(cmd), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def pids(self, table: dict) -> set[int]:
        return descendants(table, {p.pid for p in self.procs})

    def wait_healthy(self, urls: list[str], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not all(answers(u) for u in urls):
            dead = [p for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tail = "\n".join(f.read_text(errors="replace")[-1500:] for f in self.logs.glob("*.log"))
                self.stop()
                raise RuntimeError(f"{self.name}: servers did not come up\n{tail}")
            time.sleep(0.5)

    def memory(self) -> list[dict]:
        return [memory(pid) for pid in sorted(self.pids(proc_table()))]

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def one_process(name: str, script: str, work: Path, **env: str) -> Servers:
    """`streamlit run SCRIPT` on the server core (the embedded training queue for app.py)."""
    s = Servers(name, logs=work)
    port = free_port()
    cmd = streamlit_command(port)
    cmd[cmd.index("app.py")] = script
    s.start(name, cmd, server_env(work / "store", **env))
    s.url = f"http://127.0.0.1:{port}"
    return s  # not waited for: both pages' servers start side by side (wait_healthy)


def haproxy_floor(work: Path, web: int) -> Servers:
    """The floor page behind HAProxy (the config `serve` writes) on ``web`` processes."""
    s = Servers("floor-haproxy", logs=work)
    ports = [free_port() for _ in range(web)]
    for i, port in enumerate(ports, 1):
        cmd = streamlit_command(port)
        cmd[cmd.index("app.py")] = FLOOR_SCRIPT
        s.start(f"floor{i}", cmd, server_env(work / "store"))
    front = free_port()
    cfg = work / "haproxy-floor.cfg"
    cfg.write_text(haproxy_config(local_servers(ports), front))
    s.start("haproxy-floor", [find_program("haproxy") or "haproxy", "-f", str(cfg), "-db"], os.environ.copy())
    s.url = f"http://127.0.0.1:{front}"
    s.wait_healthy([f"http://127.0.0.1:{p}/_stcore/health" for p in ports] + [s.url + "/_stcore/health"])
    return s


def served_class(work: Path, web: int, workers: int) -> Servers:
    """`python -m mnistviz serve --web N --workers M` on the server core (it starts redis, HAProxy, webs, workers)."""
    s = Servers("serve", logs=work)
    front = free_port()
    s.start("serve", [sys.executable, "-m", "mnistviz", "serve", "--web", str(web), "--workers", str(workers),
                      "--port", str(front), "--cache", str(work / "store")], server_env(work / "store"))
    s.url = f"http://127.0.0.1:{front}"
    deadline = time.monotonic() + 300
    while "open http" not in (work / "serve.log").read_text(errors="replace"):
        if s.procs[0].poll() is not None or time.monotonic() > deadline:
            tail = (work / "serve.log").read_text(errors="replace")[-3000:]
            s.stop()
            raise RuntimeError(f"serve did not come up:\n{tail}")
        time.sleep(0.5)
    return s


# --- one student -----------------------------------------------------------------------------------

@dataclass
class Tally:
    """What the students of one run saw."""
    answers_s: list = field(default_factory=list)
    page_done_s: list = field(default_factory=list)  # mouse-up → the page's own run after the stroke finished
    wrong: list = field(default_factory=list)  # (expected, shown)
    no_answer: int = 0
    exceptions: int = 0  # exception boxes seen (on any page, summed over checks)
    pages_with_exception: set = field(default_factory=set)
    trainings: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)  # the measured window's start (reset when it opens)
    timeline: list = field(default_factory=list)  # (seconds into the window, what, who, value)

    def mark(self, what: str, who: int, value: float | None = None) -> None:
        self.timeline.append((round(time.monotonic() - self.t0, 2), what, who, value))


async def stroke(page, box: dict, points: list) -> None:
    """One stroke through ``points`` (fractions of the canvas), as browser_support.draw moves the mouse."""
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    await page.mouse.move(*xy[0])
    await page.mouse.down()
    for x, y in xy[1:]:
        await page.mouse.move(x, y, steps=4)
    await page.mouse.up()


async def open_draw(page, url: str) -> dict:
    await page.goto(url, wait_until="domcontentloaded")
    canvas = page.locator("canvas.mv-board").first
    try:
        await canvas.wait_for(state="visible", timeout=240_000)
        await page.locator(READY).wait_for(timeout=240_000)
    except Exception as exc:
        shot = Path(tempfile.gettempdir()) / f"mnistviz-class-{os.getpid()}-{id(page)}.png"
        await page.screenshot(path=str(shot), full_page=True)
        text = (await page.locator("body").inner_text())[:600]
        raise RuntimeError(f"{url}: no canvas ({type(exc).__name__}); screenshot {shot}; page says: {text}") from exc
    await canvas.scroll_into_view_if_needed()
    reset = page.get_by_role("button", name="Reset canvas & history").first
    # Read where the button is once the page has stopped moving: on a server's first visit the layout still
    # shifts after the canvas shows, and a click where the button was costs the student a 10 s wait.
    where, settled_at = None, time.monotonic() + 5
    while time.monotonic() < settled_at:
        now = (await canvas.bounding_box(), await reset.bounding_box())
        if now == where:
            break
        where = now
        await asyncio.sleep(0.3)
    return {**where[0], "reset": where[1]}


# Every stroke is a new picture, as a class's are: each digit's path moved by up to 6 % of the canvas and scaled
# by 0.90-1.05 (all 300 of such strokes, drawn offline, are read right). The same picture twice would be answered
# from the reading the server remembers (mnistviz.canvas_reading), hiding the decoding, preprocessing and forward
# pass a real stroke costs; until 2026-12-07 every stroke of a digit was the same picture.
_NUDGES = random.Random(11)


def nudged(points: list, rng: random.Random = _NUDGES) -> list:
    """``points`` (fractions of the canvas) moved and scaled a little about the centre, kept inside the canvas."""
    dx, dy, s = rng.uniform(-0.06, 0.06), rng.uniform(-0.06, 0.06), rng.uniform(0.90, 1.05)
    return [(min(0.97, max(0.03, 0.5 + (x - 0.5) * s + dx)), min(0.97, max(0.03, 0.5 + (y - 0.5) * s + dy)))
            for x, y in points]


async def draw_and_read(page, box: dict, digit: int) -> dict | None:
    """Draw ``digit`` (a new picture each time); the in-page time from mouse-up to the answer on screen and its
    value (None: no answer)."""
    await stroke(page, box, nudged(DIGITS[digit]))
    try:
        handle = await page.wait_for_function(ANSWER_JS, polling=100, timeout=ANSWER_TIMEOUT_MS)
        return await handle.json_value()
    except Exception:  # noqa: BLE001 - a timeout is a figure (no answer), not a crash
        return None


async def page_done(page) -> float | None:
    """Seconds from the last mouse-up until everything the stroke changes was on screen (the page's own run after
    it had finished, or the Draw page's canvas had put the route's panels in place: the steps, the
    network's view and the bars redrawn), or None if it did not finish in time."""
    try:
        handle = await page.wait_for_function("() => window.__mv.t2 !== null ? window.__mv.t2 - window.__mv.t0 : null",
                                              polling=100, timeout=PAGE_DONE_TIMEOUT_MS)
        return await handle.json_value() / 1000
    except Exception:  # noqa: BLE001 - not a crash: that stroke has no such figure
        return None


async def clear(page, box: dict) -> None:
    """Press the canvas toolbar's reset button (where it was when the page opened: a mouse click there, without
    Playwright's wait for a still page, which a busy browser core can hold up for long) until the metric goes."""
    r = box["reset"]
    await page.mouse.click(r["x"] + r["width"] / 2, r["y"] + r["height"] / 2)
    try:
        await page.wait_for_function(NO_ANSWER_JS, polling=100, timeout=10_000)
    except Exception:  # noqa: BLE001 - the page moved: press the button wherever it is now
        await page.get_by_role("button", name="Reset canvas & history").first.click(timeout=ANSWER_TIMEOUT_MS)
        await page.wait_for_function(NO_ANSWER_JS, polling=100, timeout=ANSWER_TIMEOUT_MS)


async def count_exceptions(page, tally: Tally, who: str) -> None:
    n = await page.locator('[data-testid="stException"]').count()
    if n:
        tally.exceptions += n
        tally.pages_with_exception.add(who)


async def student(page, box: dict, who: int, checks_digits: bool, stop_at: float, tally: Tally, rng) -> int:
    """Draw, read, clear, about every 5 s until ``stop_at``; returns the strokes made."""
    strokes = 0
    next_at = time.monotonic() + rng.uniform(0, STROKE_EVERY_S)
    while True:
        await asyncio.sleep(max(0.0, min(next_at, stop_at) - time.monotonic()))  # the window ends on time
        if time.monotonic() >= stop_at:
            tally.mark("student done", who)
            return strokes
        next_at += rng.uniform(0.8, 1.2) * STROKE_EVERY_S
        digit = rng.choice(list(DIGITS))
        try:
            got = await draw_and_read(page, box, digit)
            strokes += 1
            if got is None:
                tally.no_answer += 1
                tally.mark("no answer", who)
            else:
                tally.answers_s.append(got["ms"] / 1000)
                tally.mark("answer", who, got["ms"] / 1000)
                if checks_digits and got["value"] != str(digit):
                    tally.wrong.append((digit, got["value"]))
                if (done := await page_done(page)) is not None:
                    tally.page_done_s.append(done)
            await count_exceptions(page, tally, f"draw {who}")
            await clear(page, box)
        except Exception as exc:  # noqa: BLE001 - reported with the figures
            tally.errors.append(f"student {who}: {type(exc).__name__}: {str(exc)[:200]}")
            await asyncio.sleep(1)


def lab_link(rng, used: set, n_train: int, epochs: int) -> str:
    """A small CNN nobody has trained yet in this store (so it trains rather than loads)."""
    while True:
        filters, units = rng.randint(2, 16), rng.randint(8, 64)
        if (filters, units) not in used:
            used.add((filters, units))
            return f"lab?b=1&f1={filters}&k1=3&u={units}&do=0&ep={epochs}&n={n_train}&bs=128"


async def open_lab(page, url: str, link: str) -> None:
    await page.goto(f"{url}/{link}", wait_until="domcontentloaded")
    await page.get_by_role("button", name="Train", exact=True).wait_for(timeout=240_000)
    await page.locator(READY).wait_for(timeout=240_000)


async def follow_training(page, run: dict, who: int, stop_at: float, tally: Tally) -> None:
    """Press Train and read the page every half second until the results show (or the window ends)."""
    t0 = time.monotonic()
    await page.get_by_role("button", name="Train", exact=True).click(timeout=30_000)
    tally.mark("train pressed", who)
    was_queued = False
    while time.monotonic() < stop_at + 1:  # a run still going when the window ends counts as unfinished
        state = await page.evaluate(LAB_STATE_JS)
        now = round(time.monotonic() - t0, 2)
        queued = any(w in state["progress"] for w in ("Waiting for a free", "You are next"))
        was_queued |= queued
        if state["progress"] and not queued and "started_s" not in run:
            run["started_s"] = now
            tally.mark("training runs", who)
        if state["results"]:
            run.update(finished=True, total_s=now)
            tally.mark("results shown", who)
            run.setdefault("started_s", now if was_queued else 0.0)  # too quick to see it run
            return
        if state["errors"]:
            run["error"] = state["errors"][:200]
            return
        if state["exceptions"]:
            tally.exceptions += state["exceptions"]
            tally.pages_with_exception.add(f"lab {who}")
            return
        await asyncio.sleep(0.5)


async def trainer(page, url: str, who: int, stop_at: float, tally: Tally, rng, used: set,
                  lab: tuple[int, int], link: str) -> None:
    """Train the open lab link, then open a fresh one and train again, until ``stop_at``."""
    while time.monotonic() < stop_at:
        run = {"link": link, "finished": False}
        try:
            if link is None:
                run["link"] = link = lab_link(rng, used, *lab)
                await asyncio.wait_for(open_lab(page, url, link), timeout=max(1.0, stop_at - time.monotonic()))
            await follow_training(page, run, who, stop_at, tally)
        except asyncio.TimeoutError:
            break  # the window ended while the lab was opening: no run was started
        except Exception as exc:  # noqa: BLE001 - reported with the figures
            if time.monotonic() >= stop_at and "started_s" not in run:
                break  # the window ended before this run got going: not a run
            run["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            await asyncio.sleep(1)
        tally.trainings.append(run)
        link = None
        if stop_at - time.monotonic() < 2:
            break  # too late to start another run in this window
    tally.mark("trainer done", who)


async def class_run(browser, label: str, *args) -> dict:
    """One run (see ``_class_run``); a run that breaks gives ``{"error": …}`` and the other runs go on."""
    try:
        return await _class_run(browser, label, *args)
    except Exception as exc:  # noqa: BLE001 - reported in BENCHMARKS.md with the figures
        print(f"[class] {label} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}


def run_of(results: dict, key: str, page: str) -> dict | None:
    """A finished run's figures (None when the run was not made or broke)."""
    r = results.get(key, {}).get(page)
    return r if r and "strokes" in r else None


async def _class_run(browser, label: str, servers: Servers, page_path: str, students: int, trainers: int,
                     seconds: float, checks_digits: bool, lab: tuple[int, int], seed: int) -> dict:
    """``students`` contexts on ``page_path`` (``trainers`` of them also training) for ``seconds``."""
    print(f"[class] {label}: {students} students, {trainers} training, {seconds:.0f} s", file=sys.stderr, flush=True)
    rng = random.Random(seed)
    tally = Tally()
    contexts = [await browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(students)]
    probe = None
    try:
        pages = [await c.new_page() for c in contexts]
        for p in pages:
            await p.add_init_script(TIMING_JS)
        gate = asyncio.Semaphore(4)  # sessions open four at a time, as a class trickles in

        async def arrive(i, p):
            async with gate:
                try:
                    box = await open_draw(p, f"{servers.url}/{page_path}")
                    await draw_and_read(p, box, 1)  # a first stroke (measured apart, in the first-stroke part)
                    await clear(p, box)
                    return box
                except Exception as exc:  # noqa: BLE001 - a student who could not start is reported, not fatal
                    tally.errors.append(f"student {i} did not start: {type(exc).__name__}: {str(exc)[:300]}")
                    return None

        boxes = await asyncio.gather(*(arrive(i, p) for i, p in enumerate(pages)))
        # Each trainer's Lab in a window of its own: a second tab of the Draw page's window would be a
        # background tab, whose renderer Chromium renices (+5, measured), so on a full core that student's
        # drawing (or their Lab) would get a third of the others' share. A person looks at the tab they use.
        lab_windows = [await browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(trainers)]
        contexts += lab_windows
        labs = [await w.new_page() for w in lab_windows]
        used: set = set()
        links = [lab_link(rng, used, *lab) for _ in labs]
        opened = await asyncio.gather(*(open_lab(p, servers.url, link) for p, link in zip(labs, links)),
                                      return_exceptions=True)
        for i, res in enumerate(opened):
            if isinstance(res, Exception):  # that trainer opens a fresh link inside the window
                tally.errors.append(f"lab {i} did not open: {type(res).__name__}: {str(res)[:200]}")
                links[i] = None
        await asyncio.to_thread(quiet_core, BROWSER_CORE)
        own = os.getpid()
        probe = SpeedProbe()  # its own CPU is left out of every group below (it shows in core 0's busy share)
        meter = CpuMeter({
            "server": servers.pids,
            "chromium": lambda t: {p for p in descendants(t, {own}) if "chrom" in t[p][0].lower()},
            "playwright_driver": lambda t: {p for p in descendants(t, {own}) - servers.pids(t) - {own, probe.pid}
                                            if "chrom" not in t[p][0].lower()},
            "harness": lambda t: {own},
        })
        meter.start()
        tally.t0 = time.monotonic()
        stop_at = tally.t0 + seconds
        counts = await asyncio.gather(
            *(student(p, b, i, checks_digits, stop_at, tally, random.Random(seed * 100 + i))
              for i, (p, b) in enumerate(zip(pages, boxes)) if b is not None),
            *(trainer(p, servers.url, i, stop_at, tally, random.Random(seed * 1000 + i), used, lab, link)
              for i, (p, link) in enumerate(zip(labs, links))))
        cpu = meter.stop()
        speed = probe.stop()
        strokes = sum(c for c in counts if c)
        mem = servers.memory()
        for i, p in enumerate(pages):
            await count_exceptions(p, tally, f"draw {i}")
    finally:
        if probe is not None:
            probe.stop()  # a run that broke leaves no probe behind
        for c in contexts:
            await c.close()
    done = [t for t in tally.trainings if t.get("finished")]
    waits = [t["started_s"] for t in done if t.get("started_s") is not None]
    per_stroke = {k: round(v / max(1, strokes), 3) for k, v in cpu["cpu_s"].items()}
    out = {
        "students": students, "students_started": sum(b is not None for b in boxes), "trainers": trainers, "seconds": seconds, "strokes": strokes,
        "answered": len(tally.answers_s), "no_answer": tally.no_answer, "answers_s": [round(a, 4) for a in tally.answers_s],
        "p50_s": pct(tally.answers_s, 50), "p95_s": pct(tally.answers_s, 95),
        "max_s": max(tally.answers_s) if tally.answers_s else float("nan"),
        "page_done_s": [round(a, 4) for a in tally.page_done_s],
        "page_p50_s": pct(tally.page_done_s, 50), "page_p95_s": pct(tally.page_done_s, 95),
        "wrong": len(tally.wrong) if checks_digits else None, "wrong_examples": tally.wrong[:10],
        "exception_boxes": tally.exceptions, "pages_with_exception": sorted(tally.pages_with_exception),
        "trainings_started": len(tally.trainings), "trainings_finished": len(done),
        "training_wait_s": {"p50": pct(waits, 50), "max": max(waits) if waits else float("nan")},
        "training_total_s": {"p50": pct([t["total_s"] for t in done], 50),
                             "max": max([t["total_s"] for t in done]) if done else float("nan")},
        "training_errors": [t["error"] for t in tally.trainings if "error" in t][:5],
        "cpu": cpu, "cpu_s_per_stroke": per_stroke, "server_memory": mem, "speed_probe": speed,
        "harness_errors": tally.errors[:10],
        "timeline": tally.timeline, "core_busy_each_second": cpu.pop("core_busy_each_second"),
    }
    print(f"[class] {label}: {json.dumps({k: out[k] for k in ('strokes', 'p50_s', 'p95_s', 'max_s', 'wrong', 'exception_boxes', 'trainings_finished', 'cpu_s_per_stroke', 'speed_probe')})}",
          file=sys.stderr, flush=True)
    return out


def _until_quiet(busy_over_a_second: Callable[[], float], busy: float, timeout: float) -> None:
    """Wait (at most ``timeout`` s) until ``busy_over_a_second()`` (it takes one second) reads under ``busy``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and busy_over_a_second() >= busy:
        pass


def settle(servers: "Servers", busy: float = 0.05, timeout: float = 120) -> None:
    """Wait (at most ``timeout`` s) until the servers spend under ``busy`` of a core over one second."""
    def servers_busy() -> float:
        t0 = proc_table()
        time.sleep(1.0)
        t1 = proc_table()
        return sum(t1[p][2] - t0[p][2] for p in servers.pids(t1) if p in t0) / CLK

    _until_quiet(servers_busy, busy, timeout)


def quiet_core(core: int, busy: float = 0.3, timeout: float = 20) -> None:
    """Wait (at most ``timeout`` s) until ``core`` is under ``busy`` over one second: the pages just opened
    finish loading before a window opens, so its first seconds do not carry their tail."""
    def core_busy() -> float:
        before = core_ticks()
        time.sleep(1.0)
        return busy_fractions(before, core_ticks()).get(core, 0.0)

    _until_quiet(core_busy, busy, timeout)


def pooled(runs: list[dict]) -> dict:
    """Several windows of one page as one run: answers pooled, strokes and CPU seconds added up, core shares
    weighted by each window's length, the speed probe's samples as one median (of the windows' medians)."""
    answers = [a for r in runs for a in r["answers_s"]]
    done = [a for r in runs for a in r.get("page_done_s", [])]
    strokes = sum(r["strokes"] for r in runs)
    cpu_s = {g: round(sum(r["cpu"]["cpu_s"][g] for r in runs), 2) for g in runs[0]["cpu"]["cpu_s"]}
    wall = sum(r["cpu"]["wall_s"] for r in runs)
    busy = {c: round(sum(r["cpu"]["core_busy"][c] * r["cpu"]["wall_s"] for r in runs) / wall, 3)
            for c in runs[0]["cpu"]["core_busy"]}
    probes = [r["speed_probe"] for r in runs if r.get("speed_probe", {}).get("samples")]
    last = runs[-1]
    return {**{k: last[k] for k in ("students", "students_started", "trainers", "trainings_started", "trainings_finished",
                                    "training_wait_s", "training_total_s", "training_errors", "server_memory")},
            "seconds": sum(r["seconds"] for r in runs), "windows": len(runs), "strokes": strokes,
            "answered": len(answers), "no_answer": sum(r["no_answer"] for r in runs), "answers_s": answers,
            "p50_s": pct(answers, 50), "p95_s": pct(answers, 95), "max_s": max(answers) if answers else float("nan"),
            "page_done_s": done, "page_p50_s": pct(done, 50), "page_p95_s": pct(done, 95),
            "wrong": None if last["wrong"] is None else sum(r["wrong"] for r in runs),
            "wrong_examples": [w for r in runs for w in r["wrong_examples"]][:10],
            "exception_boxes": sum(r["exception_boxes"] for r in runs),
            "pages_with_exception": sorted({p for r in runs for p in r["pages_with_exception"]}),
            "cpu": {"wall_s": round(wall, 1), "cpu_s": cpu_s, "core_busy": busy},
            "cpu_s_per_stroke": {g: round(v / max(1, strokes), 3) for g, v in cpu_s.items()},
            "speed_probe": {"median_ms": statistics.median(p["median_ms"] for p in probes),
                            "min_ms": min(p["min_ms"] for p in probes), "max_ms": max(p["max_ms"] for p in probes),
                            "samples": sum(p["samples"] for p in probes)} if probes else None,
            "harness_errors": [e for r in runs for e in r["harness_errors"]][:10]}


def pair_order(k: int) -> tuple[str, str]:
    """Which page's window comes first in pair ``k`` (from 0): the floor, then ours first, and so on."""
    return ("floor", "ours") if k % 2 == 0 else ("ours", "floor")


async def pinned_pairs(run, floor: "Servers", ours: "Servers", students: int, pairs: int,
                       warm_up_s: float = 5) -> dict:
    """The pinned run as ``pairs`` back-to-back windows of the floor and our page, the order swapped each pair
    (floor first, then ours first, …): the host's speed drifts over minutes, and one long window of each page
    measured them at different speeds. Each pair's p50 ratio, and both pages pooled."""
    windows: dict = {"floor": [], "ours": []}
    each = []
    # A short unmeasured session first: our server's first drawing starts work in the background (the model's
    # digit map is fitted once), which would otherwise land in the first window's server CPU.
    if warm_up_s > 0:
        await run("pinned warm-up", ours, "draw", 1, 0, True, 0, seconds=warm_up_s)
    for k in range(pairs):
        order = pair_order(k)
        got = {}
        for page in order:
            servers, path, checks = (floor, "", False) if page == "floor" else (ours, "draw", True)
            settle(servers)
            got[page] = await run(f"pinned {page} ({k + 1}/{pairs})", servers, path, students, 0, checks, 1 + k)
            windows[page].append(got[page])
        if any("error" in r for r in got.values()):
            continue  # a broken window is reported with its page's figures
        each.append({"first": order[0], "floor_p50_s": got["floor"]["p50_s"], "ours_p50_s": got["ours"]["p50_s"],
                     "ratio": ratio(got["ours"]["p50_s"], got["floor"]["p50_s"]),
                     **{f"{page}_probe_ms": (got[page].get("speed_probe") or {}).get("median_ms") for page in order}})
    out: dict = {}
    for page, runs in windows.items():
        good = [r for r in runs if "error" not in r]
        out[page] = pooled(good) if good else runs[0]
        if len(good) < len(runs):
            out[page]["harness_errors"] = [r["error"] for r in runs if "error" in r] + out[page].get("harness_errors", [])
    out["pairs"] = each
    out["median_pair_ratio"] = statistics.median(p["ratio"] for p in each) if each else float("nan")
    return out


# --- first strokes and where the browser spends a stroke ---------------------------------------------

async def first_strokes(browser, floor: Servers, ours: Servers, rounds: int) -> dict:
    """A fresh session each time (the page reloaded), one stroke, its answer time; floor and ours interleaved."""
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await ctx.new_page()
    await page.add_init_script(TIMING_JS)
    times: dict = {"floor": [], "ours": []}
    try:
        for k in range(rounds + 1):  # round 0 warms each server up (its very first session compiles)
            for name, url in (("floor", floor.url), ("ours", f"{ours.url}/draw")):
                box = await open_draw(page, url)
                got = await draw_and_read(page, box, list(DIGITS)[k % len(DIGITS)])
                if got is not None and k > 0:
                    times[name].append(got["ms"] / 1000)
    finally:
        await ctx.close()
    out = {name: {"p50_s": pct(v, 50), "mean_s": sum(v) / len(v) if v else float("nan"), "n": len(v), "all_s": v}
           for name, v in times.items()}
    out["ours_vs_floor_p50"] = out["ours"]["p50_s"] / out["floor"]["p50_s"]
    return out


MUTATIONS_JS = """() => {
  // DOM changes after a mouse-up, counted by the Streamlit element they belong to
  window.__mut = {};
  new MutationObserver(records => {
    for (const r of records) {
      let el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      while (el && !el.dataset?.testid) el = el.parentElement;
      const k = el ? el.dataset.testid : '(none)';
      window.__mut[k] = (window.__mut[k] || 0) + 1;
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
ELEMENTS_JS = """() => Object.fromEntries(['stPlotlyChart', 'stImage', 'stMetric', 'stSlider', 'stPageLink',
  'stDataFrame'].map(k => [k, document.querySelectorAll(`[data-testid="${k}"]`).length]))"""
METRICS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "LayoutCount",
           "RecalcStyleCount", "Nodes", "JSHeapUsedSize")


async def browser_cost(browser, url: str, strokes: int) -> dict:
    """One session alone: DevTools Performance metrics per stroke (stroke + its rerun drawn), a sampled
    JavaScript profile summed by script file, and DOM changes per stroke by Streamlit element."""
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await ctx.new_page()
    await page.add_init_script(TIMING_JS)
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("Performance.enable")
    await cdp.send("Profiler.enable")
    await cdp.send("Profiler.setSamplingInterval", {"interval": 500})
    box = await open_draw(page, url)
    await draw_and_read(page, box, 1)
    await clear(page, box)
    await page.evaluate(MUTATIONS_JS)
    deltas = {m: [] for m in METRICS}
    elements: dict = {}
    by_script: dict = {}
    mutations: dict = {}
    try:
        for k in range(strokes):
            await page.wait_for_timeout(1000)
            await page.evaluate("() => { window.__mut = {}; }")
            before = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
            await cdp.send("Profiler.start")
            await draw_and_read(page, box, list(DIGITS)[k % len(DIGITS)])
            await page.locator(READY).wait_for(timeout=60_000)
            await page.wait_for_timeout(1500)  # charts and images finish drawing
            profile = (await cdp.send("Profiler.stop"))["profile"]
            after = {m["name"]: m["value"] for m in (await cdp.send("Performance.getMetrics"))["metrics"]}
            for m in METRICS:
                deltas[m].append(after.get(m, 0) - before.get(m, 0))
            for name, n in (await page.evaluate("() => window.__mut")).items():
                mutations[name] = mutations.get(name, 0) + n
            elements = await page.evaluate(ELEMENTS_JS)
            self_ms = profile_self_ms(profile)
            for name, ms in self_ms.items():
                by_script[name] = by_script.get(name, 0.0) + ms
            await clear(page, box)
    finally:
        await ctx.close()
    per = {m: sum(v) / len(v) for m, v in deltas.items()}
    top = sorted(by_script.items(), key=lambda kv: -kv[1])[:10]
    return {"strokes": strokes,
            "per_stroke": {"task_ms": per["TaskDuration"] * 1000, "script_ms": per["ScriptDuration"] * 1000,
                           "layout_ms": per["LayoutDuration"] * 1000, "style_ms": per["RecalcStyleDuration"] * 1000,
                           "layouts": per["LayoutCount"], "style_recalcs": per["RecalcStyleCount"],
                           "dom_nodes_added": per["Nodes"]},
            "elements_on_page_after_a_stroke": elements,
            "js_self_ms_per_stroke_by_script": {k: round(v / strokes, 1) for k, v in top},
            "dom_changes_per_stroke_by_element": {k: round(v / strokes, 1) for k, v in
                                                  sorted(mutations.items(), key=lambda kv: -kv[1])[:12]}}


def profile_self_ms(profile: dict) -> dict[str, float]:
    """Self time of a V8 CPU profile, summed by script file (plotly.min.js, the app bundle, …)."""
    dt = {}
    stamps = profile.get("timeDeltas", [])
    for node_id, delta in zip(profile.get("samples", []), stamps):
        dt[node_id] = dt.get(node_id, 0) + delta
    out: dict = {}
    for node in profile["nodes"]:
        us = dt.get(node["id"], 0)
        if not us:
            continue
        url = node["callFrame"].get("url") or node["callFrame"].get("functionName") or "(anonymous)"
        name = url.rsplit("/", 1)[-1].split("?")[0] or url
        if name == "(idle)":
            continue
        out[name] = out.get(name, 0.0) + us / 1000
    return out


# --- the whole benchmark ---------------------------------------------------------------------------

async def run_all(args) -> dict:
    from playwright.async_api import async_playwright

    results: dict = {"config": {"students": args.students, "trainers": args.trainers, "seconds": args.seconds,
                                "pinned_students": args.pinned_students,
                                "pinned_pairs": args.pinned_pairs, "pinned_seconds": args.pinned_seconds,
                                "pinned_warm_up_s": args.pinned_warm_up,
                                "lab": {"n_train": args.lab_n, "epochs": args.lab_epochs},
                                "stroke_every_s": STROKE_EVERY_S, "server_core": SERVER_CORE,
                                "browser_core": BROWSER_CORE},
                     "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                     "quiet_machine": Path("/work/coord/QUIET").exists()}
    lab = (args.lab_n, args.lab_epochs)
    work = Path(tempfile.mkdtemp(prefix="mnistviz-class-"))
    errors = results["errors"] = []

    async def attempt(name: str, make):
        """One part; a part that breaks is reported and the others go on."""
        try:
            return await make()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:500]}")
            print(f"[class] {errors[-1]}", file=sys.stderr, flush=True)
            return None

    def run(label, servers, path, n, k, checks, seed, seconds=None):
        return class_run(browser, label, servers, path, n, k, seconds or args.seconds, checks, lab, seed)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            if "a" in args.setups or {"pinned", "first", "profile"} & set(args.parts):
                floor = one_process("floor", FLOOR_SCRIPT, work)
                ours = one_process("ours", "app.py", work, MNISTVIZ_TRAIN_SLOTS="1")
                try:
                    for s in (floor, ours):
                        s.wait_healthy([s.url + "/_stcore/health"])
                    if "first" in args.parts:
                        results["first_stroke"] = await attempt(
                            "first strokes", lambda: first_strokes(browser, floor, ours, args.first_rounds))
                    if "profile" in args.parts:
                        results["browser_cost"] = {
                            "floor": await attempt("browser cost, floor",
                                                   lambda: browser_cost(browser, floor.url, args.profile_strokes)),
                            "ours": await attempt("browser cost, ours",
                                                  lambda: browser_cost(browser, f"{ours.url}/draw", args.profile_strokes))}
                    if "pinned" in args.parts:
                        results["pinned"] = await pinned_pairs(functools.partial(run, seconds=args.pinned_seconds),
                                                               floor, ours, args.pinned_students, args.pinned_pairs,
                                                               args.pinned_warm_up)
                    if "setups" in args.parts and "a" in args.setups:
                        results["a"] = {"floor": await run("a floor", floor, "", args.students, 0, False, 2),
                                        "ours": await run("a ours", ours, "draw", args.students, args.trainers, True, 2)}
                finally:
                    ours.stop()
                    floor.stop()
            if "setups" in args.parts and "b" in args.setups:
                results["b"] = {}
                for page, start, path, k, checks in (
                        ("floor", lambda: haproxy_floor(work, 2), "", 0, False),
                        ("ours", lambda: served_class(work, 2, 1), "draw", args.trainers, True)):
                    try:
                        servers = start()
                    except Exception as exc:  # noqa: BLE001
                        results["b"][page] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}
                        continue
                    try:
                        results["b"][page] = await run(f"b {page}", servers, path, args.students, k, checks, 3)
                    finally:
                        servers.stop()
        finally:
            await browser.close()
    shutil.rmtree(work, ignore_errors=True)
    return results


# --- report ------------------------------------------------------------------------------------------

def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def page_done_text(r: dict) -> str:
    """The page-done column: p50 / p95 of mouse-up → the page's own run finished ("–" for older figures)."""
    if not r.get("page_done_s"):
        return "–"
    return f"{r['page_p50_s']:.2f} / {r['page_p95_s']:.2f} s"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


TRAIN_EVERY_S = 300  # on paper: each student starts one lab training every 5 minutes of a lab lesson
BUSY = 0.7  # plan cores to be at most 70 % busy


def sizing(results: dict) -> dict:
    """Students per core and machines for 300, from the measured CPU per stroke (one stroke every 5 s each)
    and per training (one every ``TRAIN_EVERY_S`` each)."""
    out: dict = {}
    pinned = run_of(results, "pinned", "ours")
    if not pinned or not pinned["strokes"]:
        return out
    stroke = pinned["cpu_s_per_stroke"]["server"]
    out["server_cpu_s_per_stroke"] = stroke
    out["browser_cpu_s_per_stroke"] = pinned["cpu_s_per_stroke"]["chromium"]
    out["drawing_students_per_core"] = BUSY * STROKE_EVERY_S / stroke if stroke else float("nan")
    b, a = run_of(results, "b", "ours"), run_of(results, "a", "ours")
    if b and b["trainings_finished"]:  # (b): the worker's own CPU time, per finished training
        worker = sum(v for n, v in b["cpu"].get("server_cpu_s_by_process", {}).items() if "worker" in n)
        out["server_cpu_s_per_training"] = worker / b["trainings_finished"]
        out["training_cpu_from"] = "setup (b): the RQ worker's CPU per finished training"
    elif a and a["trainings_finished"]:  # (a): the process's CPU minus the strokes' share
        out["server_cpu_s_per_training"] = max(0.0, a["cpu"]["cpu_s"]["server"] - stroke * a["strokes"]) / \
            a["trainings_finished"]
        out["training_cpu_from"] = "setup (a): server CPU minus the strokes' share, per finished training"
    drawing = 300 * stroke / STROKE_EVERY_S
    training = 300 * out.get("server_cpu_s_per_training", 0.0) / TRAIN_EVERY_S
    out["cores_for_300"] = {"drawing": drawing, "training": training, "total_at_70pct": (drawing + training) / BUSY}
    out["machines_for_300_2_cores"] = int(-(-out["cores_for_300"]["total_at_70pct"] // 2))
    return out


def split_by_server_load(r: dict, busy: float = 0.5) -> dict | None:
    """Answer times split by how busy the server core was in the second each answer came: whether a
    training on the server slowed the drawing down (``None`` for a run without a timeline)."""
    each, tl = r.get("core_busy_each_second"), r.get("timeline")
    if not each or not tl:
        return None
    core = SERVER_CORE
    out = {}
    for name, keep in (("server busy", lambda b: b >= busy), ("server idle", lambda b: b < busy)):
        v = [x[3] for x in tl if x[1] == "answer" and int(x[0]) < len(each) and keep(each[int(x[0])][core])]
        out[name] = {"n": len(v), "p50_s": pct(v, 50), "p95_s": pct(v, 95)}
    out["seconds_busy"] = sum(1 for b in each if b[core] >= busy)
    return out


def speed_text(probe: dict | None) -> str:
    """A run's speed probe for the table: its median CPU ms (and its range), or a dash for runs without one."""
    if not probe or not probe.get("samples"):
        return "–"
    return f"{probe['median_ms']:.0f} ms ({probe['min_ms']:.0f}-{probe['max_ms']:.0f})"


def render(results: dict) -> str:
    cfg = results["config"]
    lines = [SECTION_START, "## Class benchmark", "",
             f"Measured with `python -m mnistviz bench --class` ({results['started']}; "
             + ("machine quiet: no other work running" if results.get("quiet_machine") else
                "**the machine was shared with other work while this ran**")
             + "). Each simulated student is a Playwright context in headless Debian Chromium that draws one of five "
             f"digits about every {cfg['stroke_every_s']:.0f} s (its path moved and scaled a little each time, so "
             "every stroke is a new picture), waits for the answer and clears the canvas "
             "with its reset button. Trainers also keep the Lab open (in a window of its own: a second tab would be a "
             "background tab, which Chromium renices) and train one new small CNN after another "
             f"({cfg['lab']['n_train']:,} images, {cfg['lab']['epochs']} epoch(s), random filters and units, so each run "
             f"trains). Servers are pinned to core {cfg['server_core']} (`taskset`), this harness, Playwright and every "
             f"Chromium process to core {cfg['browser_core']}: *server CPU* is core {cfg['server_core']}'s work, *browser "
             f"CPU* core {cfg['browser_core']}'s. CPU seconds are utime + stime from `/proc/<pid>/stat` summed over all "
             "processes of a side (server: streamlit, haproxy, redis-server, RQ workers, `serve`), divided by the strokes "
             "made. Times are in-page: *p50/p95/max* from mouse-up to the answer on screen (on our Draw page the canvas "
             "shows it from the server's answer route; the floor shows a metric from its page run), *page done* from "
             "mouse-up to everything the stroke changes on screen (the floor: the end of its page's run; ours: the "
             "canvas has put the route's bars, notes and on-screen pictures in place, with no page run). Every student makes one first stroke before the "
             "measured window (first strokes are measured on their own below), and the window opens once the browser "
             "core has gone quiet after the pages loaded. *Speed probe*: the CPU time of one "
             "fixed piece of Python work, run every 3 s on the server core while the run lasts (median, and range): "
             "a higher figure is a slower machine. This host's speed drifts (the same page has cost up to half again "
             "as much CPU per stroke in one run as in the next), so compare a floor and our page only at similar "
             "speeds.",
             ""]
    runs = [("pinned", f"pinned, {cfg['pinned_students']} students, no training"
                       + (f", {cfg['pinned_pairs']} windows of {cfg['pinned_seconds']:.0f} s" if cfg.get("pinned_pairs") else "")),
            ("a", f"(a) one process, embedded queue, {cfg['students']} students, {cfg['trainers']} training"),
            ("b", f"(b) HAProxy + 2 web + 1 RQ worker, {cfg['students']} students, {cfg['trainers']} training")]
    lines += ["| run | page | strokes | p50 | p95 | max | page done p50 / p95 | no answer | wrong | exception boxes | trainings finished "
              "(started) | training wait p50 / max | server CPU-s / stroke | Chromium CPU-s / stroke | core 0 / core 1 busy | "
              "speed probe |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, label in runs:
        for page in ("floor", "ours"):
            r = run_of(results, key, page)
            if not r:
                err = results.get(key, {}).get(page, {}).get("error")
                if err:
                    lines.append(f"| {label} | {page} | run broke: {err[:150]} |" + " |" * 13)
                continue
            tr = f"{r['trainings_finished']} ({r['trainings_started']})" if r["trainers"] else "–"
            wait = (f"{r['training_wait_s']['p50']:.1f} s / {r['training_wait_s']['max']:.1f} s"
                    if r["trainings_finished"] else "–")
            busy = r["cpu"]["core_busy"]
            lines.append(
                f"| {label} | {page} | {r['strokes']} | {r['p50_s']:.2f} s | {r['p95_s']:.2f} s | {r['max_s']:.2f} s | "
                f"{page_done_text(r)} | "
                f"{r['no_answer']} | {'–' if r['wrong'] is None else r['wrong']} | {r['exception_boxes']} | {tr} | {wait} | "
                f"{r['cpu_s_per_stroke']['server']:.3f} | {r['cpu_s_per_stroke']['chromium']:.3f} | "
                f"{busy.get('0', 0):.0%} / {busy.get('1', 0):.0%} | {speed_text(r.get('speed_probe'))} |")
    pairs = results.get("pinned", {}).get("pairs")
    if pairs:
        def probe(ms: float | None) -> str:
            return "–" if ms is None else f"{ms:.0f} ms"

        each = "; ".join(f"{p['ours_p50_s']:.2f} / {p['floor_p50_s']:.2f} s = {p['ratio']:.2f}× ({p['first']} first; probe "
                         f"ours {probe(p['ours_probe_ms'])}, floor {probe(p['floor_probe_ms'])})" for p in pairs)
        lines += ["", f"The pinned run is {len(pairs)} pairs of back-to-back windows, floor and ours, the order swapped "
                  "each pair (the rows above pool each page's windows). Each pair's p50, ours / floor: " + each + "."]
    lines += ["", "Server memory at the end of each run (RSS now / peak):", ""]
    for key, label in runs:
        r = run_of(results, key, "ours")
        if r:
            mem = ", ".join(f"{m.get('name', '?')} {m.get('vmrss_mb', 0):.0f} / {m.get('vmhwm_mb', 0):.0f} MB"
                            for m in r["server_memory"])
            lines.append(f"- {label}: {mem}")
    lines.append("")
    split = [(label, split_by_server_load(r)) for key, label in runs[1:] if (r := run_of(results, key, "ours"))]
    split = [(label, sp) for label, sp in split if sp and sp["server busy"]["n"]]
    if split:
        lines += ["Our page's answers split by the second they came in: the server core at least half busy (the trainings "
                  "running on it, and the Lab's page runs) or not:", ""]
        for label, sp in split:
            b, i = sp["server busy"], sp["server idle"]
            lines.append(f"- {label}: {sp['seconds_busy']} s busy; answers then p50 {b['p50_s']:.2f} s, p95 "
                         f"{b['p95_s']:.2f} s ({b['n']}); otherwise p50 {i['p50_s']:.2f} s, p95 {i['p95_s']:.2f} s ({i['n']})")
        lines.append("")
    if results.get("first_stroke"):
        f = results["first_stroke"]
        lines += ["**First stroke of a fresh session** (page reloaded before each stroke, one session alone, floor and "
                  f"ours interleaved, {f['ours']['n']} each): ours p50 {f['ours']['p50_s']:.3f} s, floor "
                  f"{f['floor']['p50_s']:.3f} s, **{f['ours_vs_floor_p50']:.2f}×**.", ""]
    if results.get("browser_cost") and all(results["browser_cost"].values()):
        b = results["browser_cost"]
        lines += ["**Where a stroke goes in the browser** (one session alone, DevTools `Performance.getMetrics` from "
                  "mouse-down until the rerun is drawn, mean per stroke):", "",
                  "| page | task | script | layout | style | layouts | DOM nodes added |", "|---|---|---|---|---|---|---|"]
        for page in ("floor", "ours"):
            p = b[page]["per_stroke"]
            lines.append(f"| {page} | {p['task_ms']:.0f} ms | {p['script_ms']:.0f} ms | {p['layout_ms']:.0f} ms | "
                         f"{p['style_ms']:.0f} ms | {p['layouts']:.0f} | {p['dom_nodes_added']:.0f} |")
        ours_js = ", ".join(f"{k} {v:.0f} ms" for k, v in list(b["ours"]["js_self_ms_per_stroke_by_script"].items())[:6])
        ours_dom = ", ".join(f"{k} {v:.0f}" for k, v in list(b["ours"]["dom_changes_per_stroke_by_element"].items())[:8])
        on_page = ", ".join(f"{v} {k}" for k, v in b["ours"].get("elements_on_page_after_a_stroke", {}).items())
        lines += ["", f"On our page after a stroke: {on_page}.",
                  f"JavaScript self time per stroke on our page, by script: {ours_js}.",
                  f"DOM changes per stroke on our page, by Streamlit element: {ours_dom}.", ""]
    for err in results.get("errors", []):
        lines.append(f"- A part broke: {err[:300]}")
    lines += targets(results)
    lines += sizing_lines(results)
    lines += ["Raw figures: `benchmarks/classroom.json`.", SECTION_END, ""]
    return "\n".join(lines)


def targets(results: dict) -> list[str]:
    out = ["**Targets (issue 13 §5):**", ""]
    for key, name in (("a", "(a)"), ("b", "(b)")):
        o, f = run_of(results, key, "ours"), run_of(results, key, "floor")
        if not o or not f:
            continue
        ok = (o["wrong"] == 0 and o["exception_boxes"] == 0 and o["no_answer"] == 0 and o["p95_s"] <= 2 * f["p95_s"])
        out.append(f"- {name} {o['students']} students, {o['trainers']} training: {o['wrong']} wrong, "
                   f"{o['exception_boxes']} exception boxes, {o['no_answer']} unanswered; drawing p95 {o['p95_s']:.2f} s "
                   f"= {ratio(o['p95_s'], f['p95_s']):.2f}× the floor's {f['p95_s']:.2f} s (target ≤ 2×): {verdict(ok)}.")
    p = {page: run_of(results, "pinned", page) for page in ("ours", "floor")}
    if all(p.values()):
        rr = ratio(p["ours"]["p50_s"], p["floor"]["p50_s"])
        pr = results["pinned"].get("median_pair_ratio")
        if pr is None:  # a run from before the pairs
            out.append(f"- Pinned {p['ours']['students']}-session run, p50 ours / floor: {rr:.2f}× (target ≤ 2×): "
                       f"{verdict(rr <= 2)}.")
        else:
            out.append(f"- Pinned {p['ours']['students']}-session run, p50 ours / floor: median of the pairs' ratios "
                       f"{pr:.2f}×, pooled {rr:.2f}× (target ≤ 2×): {verdict(pr <= 2)}.")
        cr = ratio(p["ours"]["cpu_s_per_stroke"]["server"], p["floor"]["cpu_s_per_stroke"]["server"])
        out.append(f"- Server CPU per stroke, ours / floor (pinned run, no training): {cr:.2f}× (target ≤ 1.5×): "
                   f"{verdict(cr <= 1.5)}.")
    if results.get("first_stroke"):
        fr = results["first_stroke"]["ours_vs_floor_p50"]
        out.append(f"- First stroke, ours / floor: {fr:.2f}× (target ≤ 1.25×): {verdict(fr <= 1.25)}.")
    out.append("- Cross-session leaks: not measured here; the isolation tests (two AppTest sessions, two browser "
               "contexts) cover them.")
    return out + [""]


def sizing_lines(results: dict) -> list[str]:
    s = results.get("sizing", {})
    if "server_cpu_s_per_stroke" not in s:
        return []
    c = s["cores_for_300"]
    t = s.get("server_cpu_s_per_training")
    lines = ["**On paper: students per core, machines for a class of 300.** From the pinned run (server CPU per "
             f"stroke of our page, no training) and {s.get('training_cpu_from', 'no finished training')}; each "
             f"student draws once every {STROKE_EVERY_S:.0f} s and starts one lab training every "
             f"{TRAIN_EVERY_S // 60} minutes (an assumption about a lab lesson, not a measurement); cores planned "
             f"{BUSY:.0%} busy.", "",
             "| | per student | class of 300 |", "|---|---|---|",
             f"| drawing, server | {s['server_cpu_s_per_stroke']:.3f} CPU-s per stroke = "
             f"{s['server_cpu_s_per_stroke'] / STROKE_EVERY_S:.1%} of a core | {c['drawing']:.1f} cores |",
             f"| lab trainings, server (workers) | {t:.1f} CPU-s per training | {c['training']:.1f} cores |"
             if t is not None else "| lab trainings | not measured | |",
             f"| total at {BUSY:.0%} busy | | **{c['total_at_70pct']:.1f} cores = {s['machines_for_300_2_cores']} "
             "machine(s) of 2 cores like this one** |",
             f"| drawing, the student's own browser | {s['browser_cpu_s_per_stroke']:.2f} CPU-s per stroke = "
             f"{s['browser_cpu_s_per_stroke'] / STROKE_EVERY_S:.0%} of a laptop core | on the students' machines |",
             "",
             f"One core at {BUSY:.0%} holds about **{s['drawing_students_per_core']:.0f} drawing students** on the "
             "server side. A Streamlit web process runs its scripts under one Python interpreter lock, so plan one "
             "web process per core (HAProxy in front) and the training workers on their own cores. These are CPU "
             "figures: how long a student waits is set mostly by the browser column (their own machine).", ""]
    return lines


def write_markdown(section: str, path: Path) -> None:
    text = path.read_text() if path.exists() else ""
    if SECTION_START in text and SECTION_END in text:
        head, rest = text.split(SECTION_START, 1)
        text = head + section.rstrip("\n") + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mnistviz bench --class")
    ap.add_argument("--students", type=int, default=20)
    ap.add_argument("--trainers", type=int, default=4)
    ap.add_argument("--setups", default="a,b", help="a (one process, embedded queue), b (serve: HAProxy, 2 web, 1 worker)")
    ap.add_argument("--seconds", type=float, default=90, help="measured window of each run")
    ap.add_argument("--parts", default="first,profile,pinned,setups")
    ap.add_argument("--pinned-students", type=int, default=10)
    ap.add_argument("--pinned-pairs", type=int, default=3, help="floor/ours windows of the pinned run, back to back")
    ap.add_argument("--pinned-seconds", type=float, default=45, help="measured window of each pinned run")
    ap.add_argument("--pinned-warm-up", type=float, default=5,
                    help="seconds of one unmeasured session on our server before the pinned run (0: none)")
    ap.add_argument("--first-rounds", type=int, default=8)
    ap.add_argument("--profile-strokes", type=int, default=5)
    ap.add_argument("--lab-n", type=int, default=2000, help="training images of each lab run")
    ap.add_argument("--lab-epochs", type=int, default=1)
    ap.add_argument("--json", default=str(JSON_OUT))
    ap.add_argument("--merge", action="store_true", help="keep the figures of parts not run now from --json")
    ap.add_argument("--markdown", default=str(MD_OUT), help="file whose class section is (re)written; '' for none")
    args = ap.parse_args(argv)
    args.setups = [s for s in args.setups.split(",") if s]
    args.parts = [p for p in args.parts.split(",") if p]
    if os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {BROWSER_CORE})  # inherited by Playwright's driver and Chromium
    results = asyncio.run(run_all(args))
    if args.merge and Path(args.json).exists():  # keep the parts not re-measured this time
        earlier = json.loads(Path(args.json).read_text())
        results = {**earlier, **results, "config": {**earlier.get("config", {}), **results["config"]},
                   "started": f"{earlier.get('started', '?')} and {results['started']}",
                   "quiet_machine": earlier.get("quiet_machine", False) and results["quiet_machine"]}
    results["sizing"] = sizing(results)
    Path(args.json).write_text(json.dumps(results, indent=1, default=list))
    if args.markdown:
        write_markdown(render(results), Path(args.markdown))
    print(f"wrote {args.json}" + (f" and {args.markdown}" if args.markdown else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
