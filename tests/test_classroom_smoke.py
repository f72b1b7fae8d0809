"""The class benchmark still runs: 1 student (also training) on setup (a) for a short window, through
the documented command. It must produce its figures for both pages and see no exception box; no timing is
asserted (figures belong in BENCHMARKS.md)."""

import json
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
                        "--setups", "a", "--seconds", "6", "--parts", "pinned,setups", "--lab-n", "300",
                        "--pinned-students", "1", "--pinned-pairs", "1", "--pinned-seconds", "6",
                        "--pinned-warm-up", "0",
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
    pinned = json.loads(out.read_text())["pinned"]  # one pair of windows (the pooling and the order: unit tests below)
    assert [p["first"] for p in pinned["pairs"]] == ["floor"] and pinned["median_pair_ratio"] > 0, pinned["pairs"]
    for page in ("floor", "ours"):
        assert pinned[page]["windows"] == 1 and pinned[page]["answered"] == len(pinned[page]["answers_s"]) >= 1, pinned[page]
    text = md.read_text()
    assert "Each pair's p50, ours / floor" in text and "median of the pairs' ratios" in text
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


def test_pinned_windows_pool_into_one_run_per_page():
    from benchmarks.classroom import pooled

    def window(answers, strokes, chromium, wall, busy, probe):
        return {"students": 10, "students_started": 10, "trainers": 0, "trainings_started": 0, "trainings_finished": 0,
                "training_wait_s": {}, "training_total_s": {}, "training_errors": [], "server_memory": [],
                "seconds": 30, "strokes": strokes, "answers_s": answers, "no_answer": 0, "wrong": 0,
                "wrong_examples": [], "exception_boxes": 0, "pages_with_exception": [], "harness_errors": [],
                "cpu": {"wall_s": wall, "cpu_s": {"server": 1.0, "chromium": chromium}, "core_busy": {"0": 0.1, "1": busy}},
                "speed_probe": {"median_ms": probe, "min_ms": probe - 10, "max_ms": probe + 10, "samples": 10}}

    r = pooled([window([1.0, 2.0, 3.0], 3, 3.0, 30.0, 1.0, 40.0), window([5.0], 1, 1.0, 10.0, 0.6, 50.0)])
    assert r["answers_s"] == [1.0, 2.0, 3.0, 5.0] and r["strokes"] == 4 and r["windows"] == 2 and r["seconds"] == 60
    assert r["p50_s"] == 2.5 and r["max_s"] == 5.0
    assert r["cpu_s_per_stroke"] == {"server": 0.5, "chromium": 1.0}
    assert r["cpu"]["core_busy"]["1"] == 0.9  # weighted by each window's length: (30 × 1.0 + 10 × 0.6) / 40
    assert r["speed_probe"]["median_ms"] == 45.0 and r["speed_probe"]["samples"] == 20
