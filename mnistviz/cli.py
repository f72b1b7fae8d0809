"""Command line: ``python -m mnistviz train | evaluate | predict | bench | worker | prefetch | serve``.

``evaluate`` prints one JSON object on stdout (at least ``accuracy`` and ``n``); a bad input
file gives one line on stderr and exit status 2. ``worker`` trains the lab's queued jobs (Redis + RQ),
``prefetch`` trains the lab's presets into the model store before class, ``serve`` runs a whole class
setup on one machine (``mnistviz.serve``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A problem with the user's input: one line on stderr, exit 2."""


def _load_model(path: str | None):
    from .pretrained import load_default_model
    from .store import StoreError, load_model_checked

    try:
        return load_default_model() if path is None else load_model_checked(Path(path))
    except StoreError as exc:
        raise CliError(str(exc)) from exc


def _read_xy(path: str, preprocess: bool) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f.files or "y" not in f.files:
                raise CliError(f"{path}: expected arrays 'x' and 'y', found {', '.join(f.files) or 'none'}")
            x, y = f["x"], f["y"]
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - unreadable file of any kind
        raise CliError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from exc
    y = np.asarray(y).reshape(-1)
    if len(x) != len(y):
        raise CliError(f"{path}: {len(x)} images but {len(y)} labels")
    if len(y) == 0:
        raise CliError(f"{path}: no images")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
        raise CliError(f"{path}: labels must be integers 0-9")
    if preprocess:
        from .preprocess import PreprocessError, prepare_batch

        try:
            x = prepare_batch(x)
        except PreprocessError as exc:
            raise CliError(f"{path}: {exc}") from exc
    elif x.ndim != 3 or x.shape[1:] != (28, 28):
        raise CliError(f"{path}: x must have shape (N, 28, 28) (got {x.shape}); use --preprocess for other sizes")
    return x, y


def cmd_evaluate(args) -> dict:
    from .evaluation import evaluate

    x, y = _read_xy(args.data, args.preprocess)
    model = _load_model(args.model)
    t0 = time.perf_counter()
    ev = evaluate(model, x, y)
    out = {"accuracy": ev.accuracy, "n": ev.n, "correct": int(round(ev.accuracy * ev.n)), "loss": ev.loss,
           "per_class": ev.to_json()["per_class"], "model": args.model or "default",
           "preprocess": bool(args.preprocess), "seconds": round(time.perf_counter() - t0, 3)}
    if args.confusion:
        out["confusion"] = ev.confusion.tolist()
    return out


def cmd_predict(args) -> dict:
    from .activations import probabilities

    if args.image:
        from .preprocess import PreprocessError, preprocess_file

        try:
            x = preprocess_file(args.image).image
        except PreprocessError as exc:
            raise CliError(f"{args.image}: {exc}") from exc
    else:
        x, _ = _read_xy(args.npz, preprocess=False)
        if not 0 <= args.index < len(x):
            raise CliError(f"--index must be in 0..{len(x) - 1}")
        x = x[args.index]
    p = probabilities(_load_model(args.model), x)[0]
    return {"digit": int(p.argmax()), "probability": float(p.max()), "probabilities": [round(float(v), 6) for v in p]}


def cmd_train(args) -> dict:
    from . import data, models, training
    from .evaluation import evaluate
    from .store import save_model_atomic

    if args.config:
        try:
            config = models.ModelConfig.from_dict(json.loads(Path(args.config).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise CliError(f"{args.config}: not a model config ({exc})") from exc
        options = models.TrainOptions()
    else:
        if args.preset not in models.PRESETS:
            raise CliError(f"unknown preset {args.preset!r}; choose from {', '.join(models.PRESETS)}")
        config, options = models.PRESETS[args.preset].config, models.PRESETS[args.preset].train
    changes = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
                                 "n_train": args.n_train}.items() if v is not None}
    options = replace(options, **changes)
    try:
        models.validate(config)
        ds = data.load_data(args.data)
    except (models.ConfigError, data.DataError) as exc:
        raise CliError(str(exc)) from exc
    x_train, y_train = ds.x_train, ds.y_train
    if args.all_data:
        x_train, y_train = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])

    def report(p):
        if p.kind == "epoch" and not args.quiet:
            logs = ", ".join(f"{k} {v:.4f}" for k, v in p.logs.items())
            print(f"epoch {p.epoch + 1}/{p.epochs}: {logs} ({p.elapsed:.0f} s)", file=sys.stderr, flush=True)

    result = training.train(config, x_train, y_train, options, progress=report)
    import keras
    import tensorflow as tf

    meta = {
        "preset": None if args.config else args.preset,
        "config": config.to_dict(), "options": options.to_dict(),
        "data": ds.description, "trained_on": "train + test splits" if args.all_data else "train split",
        "n_train_images": int(len(x_train) if options.n_train is None else min(options.n_train, len(x_train))),
        "seconds": round(result.seconds, 1), "epochs_done": result.epochs_done, "history": result.history,
        "command": "python -m mnistviz " + " ".join(sys.argv[1:]) if sys.argv else "",
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__, "python": platform.python_version()},
        "params": int(result.model.count_params()),
        "arithmetic": training.compute_dtype(options) or "float32",
    }
    if not args.all_data:
        ev = evaluate(result.model, ds.x_test, ds.y_test)
        meta["test_accuracy"] = ev.accuracy
        meta["test_label"] = ds.test_label
    if args.out:
        out = Path(args.out)
        meta["sha256"] = save_model_atomic(result.model, out)
        meta_path = out.with_suffix(".json")
        tmp = meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(meta_path)
    return {k: meta[k] for k in ("preset", "data", "trained_on", "seconds", "params") if k in meta} | (
        {"test_accuracy": meta["test_accuracy"], "test_label": meta["test_label"]} if "test_accuracy" in meta else {})


def run_bench(argv: list[str]) -> int:
    """The benchmark lives beside the package, in the repository (not in the library): run it there."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "run.py").exists():
        print("error: the benchmark needs a checkout of the repository (benchmarks/run.py)", file=sys.stderr)
        return EXIT_BAD_INPUT
    module = "benchmarks.classroom" if "--class" in argv else "benchmarks.run"  # bench --class: the class benchmark
    return subprocess.call([sys.executable, "-m", module, *[a for a in argv if a != "--class"]], cwd=root)


def _lower_priority(steps: int) -> None:
    """This process, every thread it already has (NumPy's BLAS pool) and every thread it starts later
    (TensorFlow's pools inherit it) ``steps`` nicer."""
    target = os.nice(0) + steps
    tasks = Path("/proc/self/task")
    for tid in (os.listdir(tasks) if tasks.is_dir() else []):
        try:
            os.setpriority(os.PRIO_PROCESS, int(tid), target)
        except OSError:  # a thread that ended meanwhile
            pass
    if os.nice(0) < target:  # no /proc: at least this thread and those it starts
        os.nice(target - os.nice(0))


def cmd_worker(args) -> int:
    """Work the training queue until stopped (or, with ``--burst``, until it is empty)."""
    import redis
    from rq import Queue, SimpleWorker

    from .jobs_rq import QUEUE_NAME

    if not args.redis_url:
        raise CliError("no Redis to work for: pass --redis-url or set MNISTVIZ_REDIS_URL")
    # no socket timeout: the worker blocks on Redis for minutes waiting for the next job
    conn = redis.Redis.from_url(args.redis_url, socket_connect_timeout=5)
    try:
        conn.ping()
    except (redis.RedisError, OSError) as exc:
        raise CliError(f"Redis at {args.redis_url} does not answer ({exc})") from exc
    if args.nice > 0:
        _lower_priority(args.nice)
    import keras  # noqa: F401 - imported once here, so a job does not pay TensorFlow's import

    from . import training  # noqa: F401

    # SimpleWorker runs each job in this process. RQ's default Worker forks a child per job, and a fork
    # of a process that has imported TensorFlow (its thread pools, locks held by other threads) can hang
    # or crash; a job stays in this process, with TensorFlow imported once.
    worker = SimpleWorker([Queue(QUEUE_NAME, connection=conn)], connection=conn)
    print(f"mnistviz worker {worker.name}: waiting for trainings on {QUEUE_NAME}", file=sys.stderr, flush=True)
    worker.work(burst=args.burst, logging_level="WARNING")
    return 0


def prefetch_settings(args) -> list[tuple[str, object]]:
    """``(label, LabSettings)`` for every preset (unless ``--no-presets``) and every listed lab URL or query."""
    from urllib.parse import parse_qsl, urlsplit

    from .experiments import check, from_preset, from_query
    from .models import PRESETS

    lines = list(args.settings)
    if args.file:
        try:
            lines += [ln.split("#", 1)[0].strip() for ln in Path(args.file).read_text().splitlines()]
        except OSError as exc:
            raise CliError(f"{args.file}: cannot read it ({exc.strerror})") from exc
    out = [] if args.no_presets else [(f"preset {key}", from_preset(key)) for key in PRESETS]
    for line in filter(None, lines):
        query = urlsplit(line).query if "?" in line else line
        settings, notes = from_query(dict(parse_qsl(query)))
        problem = check(settings)
        if problem:
            raise CliError(f"{line}: {problem}")
        for note in notes:
            print(f"note: {line}: {note}", file=sys.stderr)
        out.append((line, settings))
    return out


def cmd_prefetch(args) -> int:
    """Train (or find) every run in the store, one line each: trained/loaded, seconds, store key."""
    from .jobs import TrainRequest, execute, training_data
    from .models import ConfigError, validate

    runs = prefetch_settings(args)
    if not runs:
        raise CliError("nothing to prefetch: list lab settings or drop --no-presets")
    ds, data_id = training_data(args.data)
    failed = 0
    for label, settings in runs:
        config = settings.to_config()
        try:
            validate(config)
        except ConfigError as exc:
            print(f"skipped  {label}: {exc}", flush=True)
            failed += 1
            continue
        t0 = time.perf_counter()
        status = execute(TrainRequest(config, settings.to_options(), args.data, data_id), lambda s: True)
        seconds = time.perf_counter() - t0
        if status.state != "finished":
            print(f"failed   {label}: {status.error}", flush=True)
            failed += 1
            continue
        word = "loaded " if status.loaded else "trained"
        print(f"{word}  {label}  {seconds:.1f} s  {status.key}", flush=True)
    return 1 if failed else 0


def cmd_board(args) -> dict:
    """The class board's runs as JSON, or clear it (``--clear``)."""
    from . import board
    from .jobs import QueueUnavailable

    if not board.available():
        raise CliError("the class board needs Redis: set MNISTVIZ_REDIS_URL")
    try:
        if args.clear:
            return {"cleared": board.clear(None)}
        return {"runs": [{"nickname": e.nickname, "accuracy": round(e.accuracy, 6), "seconds": round(e.seconds, 1),
                          "settings": e.summary, "query": e.query} for e in board.entries()]}
    except QueueUnavailable as exc:
        raise CliError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mnistviz", description="mnistviz: train, evaluate and run MNIST CNNs.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a preset (or a JSON config) and save it as .keras")
    t.add_argument("--preset", default="default", help="one of the course presets (default: %(default)s)")
    t.add_argument("--config", help="a JSON file with a ModelConfig instead of a preset")
    t.add_argument("--data", default="sample", help="auto, keras, sample, an .npz or an IDX folder (default: sample)")
    t.add_argument("--all-data", action="store_true", help="train on the train and test splits together")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--n-train", type=int, help="use only the first N training images")
    t.add_argument("--seed", type=int)
    t.add_argument("--out", help="where to write the .keras file (metadata goes beside it as .json)")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("evaluate", help="score a model on an .npz with x (N,28,28) uint8 and y (N,)")
    e.add_argument("--data", required=True, help="an .npz with arrays x and y")
    e.add_argument("--model", help="a .keras file (default: the shipped default model)")
    e.add_argument("--preprocess", action="store_true",
                   help="run every image (any size, grayscale or RGBA, either polarity) through the app's preprocessing")
    e.add_argument("--confusion", action="store_true", help="include the confusion matrix")
    e.set_defaults(fn=cmd_evaluate)

    r = sub.add_parser("predict", help="predict one image file, or one digit of an .npz")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="a PNG/JPEG (preprocessed as on the Draw page)")
    src.add_argument("--npz", help="an .npz with x (N,28,28)")
    r.add_argument("--index", type=int, default=0)
    r.add_argument("--model")
    r.set_defaults(fn=cmd_predict)

    sub.add_parser("bench", help="run the benchmark and write BENCHMARKS.md (see bench --help)")

    w = sub.add_parser("worker", help="train the lab's queued jobs from Redis (RQ), until stopped")
    w.add_argument("--redis-url", default=os.environ.get("MNISTVIZ_REDIS_URL", ""),
                   help="default: $MNISTVIZ_REDIS_URL")
    w.add_argument("--burst", action="store_true", help="stop once the queue is empty (for tests and scripts)")
    w.add_argument("--nice", type=int, default=int(os.environ.get("MNISTVIZ_WORKER_NICE", "10")),
                   help="lower this worker's CPU priority by this much (default: $MNISTVIZ_WORKER_NICE or 10), so "
                        "on a machine shared with web processes a training never starves drawing; 0 keeps it")
    w.set_defaults(fn=cmd_worker)

    f = sub.add_parser("prefetch", help="before class: train the lab's presets (and listed settings) into the store")
    f.add_argument("settings", nargs="*", help="lab URLs or their query strings, e.g. 'ep=3&f1=16'")
    f.add_argument("--file", help="a file with one lab URL or query string per line (# starts a comment)")
    f.add_argument("--no-presets", action="store_true", help="only the listed settings, not every preset")
    f.add_argument("--data", default=os.environ.get("MNISTVIZ_DATA", "auto"),
                   help="the data the app uses (default: $MNISTVIZ_DATA or auto)")
    f.set_defaults(fn=cmd_prefetch)

    b = sub.add_parser("board", help="the class board (with Redis): list its runs, or --clear it")
    b.add_argument("--clear", action="store_true", help="remove every posted run (needs no teacher key here)")
    b.set_defaults(fn=cmd_board)

    from .serve import add_arguments

    add_arguments(sub.add_parser("serve", help="a class on one machine: redis-server, HAProxy, web processes, workers"))
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return run_bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        result = args.fn(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(result, int):  # long-running commands print their own lines and return an exit status
        return result
    print(json.dumps(result))
    return 0
