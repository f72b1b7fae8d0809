"""The command line: `python -m mnistviz …` as a person runs it (a process: exit status, stdout, stderr)
for bad input, and ``cli.main`` in this process for the rest (the same code, without paying for a
TensorFlow import per call)."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from mnistviz import cli, data

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    """``python -m mnistviz *args`` in a new process."""
    return subprocess.run([sys.executable, "-m", "mnistviz", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def run_here(*args, env: dict | None = None):
    """``cli.main(args)`` in this process, with ``env`` set for the call; returns what ``run`` returns."""
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_evaluate_prints_json_with_accuracy(tmp_path):
    s = data.load_sample()
    f = tmp_path / "digits.npz"
    np.savez(f, x=s.x_test[:200], y=s.y_test[:200])
    p = run_here("evaluate", "--data", str(f))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["n"] == 200 and 0.0 <= out["accuracy"] <= 1.0
    assert out["accuracy"] > 0.5


def test_evaluate_bad_file_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("hello")
    p = run("evaluate", "--data", str(bad))
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "not a readable .npz" in p.stderr
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((3, 10, 10), np.uint8), y=np.zeros(3, np.uint8))
    p = run_here("evaluate", "--data", str(wrong))
    assert p.returncode == 2 and "(N, 28, 28)" in p.stderr
    p = run_here("evaluate", "--data", str(tmp_path / "missing.npz"))
    assert p.returncode == 2


def test_train_writes_a_model_that_evaluate_and_predict_use(tmp_path):
    out = tmp_path / "m.keras"
    p = run_here("train", "--preset", "mlp30", "--epochs", "1", "--n-train", "500", "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["params"] == 23_860 and "sample validation" in summary["test_label"]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["n_train_images"] == 500 and meta["sha256"]
    s = data.load_sample()
    f = tmp_path / "d.npz"
    np.savez(f, x=s.x_test[:50], y=s.y_test[:50])
    p = run_here("evaluate", "--data", str(f), "--model", str(out))
    assert p.returncode == 0 and json.loads(p.stdout)["n"] == 50
    p = run_here("predict", "--npz", str(f), "--index", "3", "--model", str(out))
    assert p.returncode == 0
    pred = json.loads(p.stdout)
    assert 0 <= pred["digit"] <= 9 and abs(sum(pred["probabilities"]) - 1) < 1e-3


def test_library_never_imports_the_benchmark():
    """``python -m mnistviz bench`` runs ``benchmarks.run`` as a process in the checkout (the smoke test runs it)."""
    for path in (ROOT / "mnistviz").rglob("*.py"):
        text = path.read_text()
        assert "from benchmarks" not in text and "import benchmarks" not in text, path


def test_worker_without_redis_is_one_line_and_exit_2():
    env = {k: v for k, v in os.environ.items() if k != "MNISTVIZ_REDIS_URL"}
    p = subprocess.run([sys.executable, "-m", "mnistviz", "worker"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        "error: no Redis to work for: pass --redis-url or set MNISTVIZ_REDIS_URL"]


def test_prefetch_trains_once_then_loads(tmp_path):
    """Before class: listed lab settings (a URL or its query) go into the store; a second prefetch loads them."""
    listed = tmp_path / "class.txt"
    listed.write_text("# week 3\nhttp://localhost:8501/lab?b=0&dl=1&u=16&ep=1&n=500\n\n")

    def prefetch():
        return run_here("prefetch", "--no-presets", "--data", "sample", "--file", str(listed), "b=0&dl=1&u=8&ep=1&n=500",
                        env={"MNISTVIZ_CACHE": str(tmp_path / "store")})

    first = prefetch()
    assert first.returncode == 0, first.stderr[-2000:]
    lines = first.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["trained", "trained"]
    keys = [ln.split()[-1] for ln in lines]
    assert sorted(p.name for p in (tmp_path / "store").glob("*.keras")) == sorted(f"{k}.keras" for k in keys)
    second = prefetch()
    assert [ln.split()[0] for ln in second.stdout.splitlines()] == ["loaded", "loaded"]
    assert [ln.split()[-1] for ln in second.stdout.splitlines()] == keys


def test_prefetch_names_a_bad_setting(tmp_path):
    p = run_here("prefetch", "--no-presets", "--file", str(tmp_path / "missing.txt"),
                 env={"MNISTVIZ_CACHE": str(tmp_path / "store")})
    assert p.returncode == 2 and "missing.txt: cannot read it" in p.stderr
