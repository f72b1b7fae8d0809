"""The class benchmark still runs: 1 student (also training) on setup (a) for a short window, through
the documented command. It must produce its figures for both pages and see no exception box; no timing is
asserted (figures belong in BENCHMARKS.md). The pinned run's pairs of windows are the same runs in another
order: their orchestration and report are checked below on made-up windows."""

import asyncio
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]


def test_two_students_one_training_on_one_process_give_the_class_figures(tmp_path):
    out = tmp_path / "classroom.json"
    md = tmp_path / "BENCH.md"
    md.write_text("# Benchmarks\n\nearlier sections stay as they are\n")
    p = subprocess.run([sys.executable, "-m", "mnistviz", "bench", "--class", "--students", "1", "--trainers", "1",
                        "--setups", "a", "--seconds", "6", "--parts", "setups", "--lab-n", "300",
                        "--json", str(out), "--markdown", str(md)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    a = json.loads(out.read_text())["a"]
    for page in ("floor", "ours"):
        r = a[page]
        assert r["strokes"] >= 1 and r["answered"] >= 1, r
        assert r["exception_boxes"] == 0, r["pages_with_exception"]
        assert r["cpu"]["cpu_s"]["server"] > 0 and r["cpu"]["cpu_s"]["chromium"] > 0, r["cpu"]
        assert r["server_memory"] and all(m.get("vmrss_mb", 0) > 0 for m in r["server_memory"]), r["server_memory"]
        assert r["speed_probe"]["samples"] >= 1 and r["speed_probe"]["median_ms"] > 0, r["speed_probe"]
    assert a["ours"]["wrong"] == 0, a["ours"]["wrong_examples"]
    assert a["ours"]["trainings_started"] >= 1 and not a["ours"]["training_errors"], a["ours"]
    for page in ("floor", "ours"):  # the timeline holds every answer, and each core's load per second
        r = a[page]
        assert sum(1 for t in r["timeline"] if t[1] == "answer") == r["answered"], r["timeline"]
        assert r["core_busy_each_second"] and all(len(c) >= 2 and all(0 <= b <= 1 for b in c)
                                                  for c in r["core_busy_each_second"]), r["core_busy_each_second"]
    assert any(t[1] == "train pressed" for t in a["ours"]["timeline"]), a["ours"]["timeline"]
    text = md.read_text()
    assert text.startswith("# Benchmarks\n\nearlier sections stay as they are\n")
    assert "## Class benchmark" in text and "(a) one process, embedded queue" in text


def test_answers_are_split_by_how_busy_the_server_core_was_that_second():
    from benchmarks.classroom import split_by_server_load

    run = {"core_busy_each_second": [[0.9, 1.0], [0.1, 1.0], [0.2, 1.0]],
           "timeline": [(0.5, "answer", 0, 4.0), (0.9, "train pressed", 1, None), (1.2, "answer", 1, 1.0),
                        (2.7, "answer", 2, 2.0), (3.5, "answer", 0, 9.0)]}  # the last one came after the meter stopped
    split = split_by_server_load(run)
    assert split["seconds_busy"] == 1
    assert split["server busy"]["n"] == 1 and split["server busy"]["p50_s"] == 4.0
    assert split["server idle"]["n"] == 2 and split["server idle"]["p50_s"] == 1.5
    assert split_by_server_load({"timeline": []}) is None


def test_pairs_swap_which_page_goes_first():
    from benchmarks.classroom import pair_order

    assert [pair_order(k) for k in range(3)] == [("floor", "ours"), ("ours", "floor"), ("floor", "ours")]


def run_in_own_loop(coro):
    """Await ``coro`` in a thread of its own: the suite's Playwright (sync API) keeps an event loop running in
    this one, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def window(answers, strokes, chromium, wall, busy, probe, server=1.0):
    """One made-up window of a run, as ``_class_run`` reports it."""
    return {"students": 10, "students_started": 10, "trainers": 0, "trainings_started": 0, "trainings_finished": 0,
            "training_wait_s": {}, "training_total_s": {}, "training_errors": [], "server_memory": [],
            "seconds": 30, "strokes": strokes, "answers_s": answers, "p50_s": statistics.median(answers),
            "no_answer": 0, "wrong": 0, "wrong_examples": [], "exception_boxes": 0, "pages_with_exception": [],
            "harness_errors": [],
            "cpu": {"wall_s": wall, "cpu_s": {"server": server, "chromium": chromium}, "core_busy": {"0": 0.1, "1": busy}},
            "speed_probe": {"median_ms": probe, "min_ms": probe - 10, "max_ms": probe + 10, "samples": 10}}


def test_the_pinned_run_warms_up_then_swaps_the_order_each_pair_and_reports_the_median_ratio(monkeypatch):
    from benchmarks import classroom

    monkeypatch.setattr(classroom, "settle", lambda servers: None)
    calls = []
    ours_p50 = iter([0.3, 0.6, 0.9])  # ratios 0.6, 1.2, 1.8 against the floor's 0.5

    async def run(label, servers, path, students, trainers, checks, seed, seconds=45):
        calls.append((label, servers, path, students, seconds))
        p50 = 0.5 if servers == "floor" or label == "pinned warm-up" else next(ours_p50)
        return window([p50], 10, 5.0, 45.0, 0.5, 40.0, server=0.2 if servers == "floor" else 0.4)

    pinned = run_in_own_loop(classroom.pinned_pairs(run, "floor", "ours", 10, 3, warm_up_s=5))
    # an unmeasured session on our server first, then floor/ours, ours/floor, floor/ours
    assert calls[0] == ("pinned warm-up", "ours", "draw", 1, 5)
    floor, ours = ("floor", "", 10), ("ours", "draw", 10)
    assert [c[1:4] for c in calls[1:]] == [floor, ours, ours, floor, floor, ours]
    assert [p["first"] for p in pinned["pairs"]] == ["floor", "ours", "floor"]
    assert [round(p["ratio"], 2) for p in pinned["pairs"]] == [0.6, 1.2, 1.8]
    assert round(pinned["median_pair_ratio"], 2) == 1.2
    assert pinned["ours"]["windows"] == pinned["floor"]["windows"] == 3 and pinned["ours"]["strokes"] == 30
    calls.clear()
    ours_p50 = iter([0.3])
    run_in_own_loop(classroom.pinned_pairs(run, "floor", "ours", 10, 1, warm_up_s=0))
    assert [c[0] for c in calls] == ["pinned floor (1/1)", "pinned ours (1/1)"]  # no warm-up asked for

    results = {"config": {"students": 20, "trainers": 4, "seconds": 90, "pinned_students": 10, "pinned_pairs": 3,
                          "pinned_seconds": 45, "lab": {"n_train": 2000, "epochs": 1}, "stroke_every_s": 5.0,
                          "server_core": 0, "browser_core": 1},
               "started": "2026-12-07 12:00:00 UTC", "quiet_machine": True, "pinned": pinned}
    text = classroom.render(results)
    assert "Each pair's p50, ours / floor: 0.30 / 0.50 s = 0.60× (floor first" in text
    assert "median of the pairs' ratios 1.20×" in text
    assert "Server CPU per stroke, ours / floor (pinned run, no training): 2.00× (target ≤ 1.5×)" in text


def test_pinned_windows_pool_into_one_run_per_page():
    from benchmarks.classroom import pooled

    r = pooled([window([1.0, 2.0, 3.0], 3, 3.0, 30.0, 1.0, 40.0), window([5.0], 1, 1.0, 10.0, 0.6, 50.0)])
    assert r["answers_s"] == [1.0, 2.0, 3.0, 5.0] and r["strokes"] == 4 and r["windows"] == 2 and r["seconds"] == 60
    assert r["p50_s"] == 2.5 and r["max_s"] == 5.0
    assert r["cpu_s_per_stroke"] == {"server": 0.5, "chromium": 1.0}
    assert r["cpu"]["core_busy"]["1"] == 0.9  # weighted by each window's length: (30 × 1.0 + 10 × 0.6) / 40
    assert r["speed_probe"]["median_ms"] == 45.0 and r["speed_probe"]["samples"] == 20
