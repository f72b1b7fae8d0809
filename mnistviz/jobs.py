"""Training jobs: one interface for lab trainings that run off the page, with two back ends.

- ``EmbeddedQueue`` (default, no settings): trainings run in this server process, at most
  ``MNISTVIZ_TRAIN_SLOTS`` at once (default: one per two cores); the rest wait first in, first out.
- ``RQQueue`` (``mnistviz.jobs_rq``, when ``MNISTVIZ_REDIS_URL`` is set): jobs go on a Redis + RQ
  queue and ``python -m mnistviz worker`` processes train them.

Both use the model-store key of a request as its job id, so identical requests (30 students
training the same preset) train once and everybody following that id loads the result from the
store. A session (an ``owner``) follows at most one live job. ``cancel`` detaches one owner; the
training itself stops only when nobody follows it any more, so no session changes what another sees.

- ``execute(request, report, store)`` does one job (both back ends call it): data, store lookup,
  training, saving; it returns the final ``JobStatus`` and never raises for a training gone wrong.
- ``training_queue()`` is the queue this process uses (RQ if ``MNISTVIZ_REDIS_URL`` is set).
- ``check_cost`` applies the ceiling ``MNISTVIZ_TRAIN_MAX_COST`` on parameters × images × epochs.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

import numpy as np

from .models import ModelConfig, TrainOptions

STATES = ("queued", "running", "finished", "failed", "cancelled")
LIVE_STATES = ("queued", "running")


class JobError(RuntimeError):
    """A training request that cannot be taken; the message is one sentence for the page."""


class QueueUnavailable(JobError):
    """The queue's back end (Redis) cannot be reached."""


class JobLimit(JobError):
    """This session already has a queued or running job."""


class TooCostly(JobError):
    """Parameters × images × epochs is above the server's ceiling; the message says which slider to move."""


@dataclass(frozen=True)
class TrainRequest:
    """Everything a trainer anywhere needs: the architecture, the options and which data to load.

    ``data_source`` is what ``mnistviz.data.load_data`` takes to get the same data set in another
    process (e.g. ``"sample"``); ``data_id`` is ``store.data_fingerprint`` of its training split,
    which the trainer checks before training.
    """

    config: ModelConfig
    options: TrainOptions
    data_source: str
    data_id: str
    # The digit (28, 28) whose maps and probabilities the training's replay follows; not part of the key
    # (30 students training the same preset still share one run, and its replay follows the first one's digit).
    digit: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """The model-store key, which is also the job id."""
        from .store import model_key

        return model_key(self.config, self.options, self.data_id)


@dataclass
class JobStatus:
    """Where a job is, as the page draws it. ``history`` holds per-epoch logs so far, ``partial`` the latest
    in-epoch logs (loss, accuracy) with a fractional ``epoch``. ``key`` is the store key of the result."""

    job_id: str
    state: str  # one of STATES
    ahead: int | None = None  # runs ahead of this one in the queue (queued jobs only)
    epoch: int = 0  # 0-based
    epochs: int = 0
    batch: int = 0  # 0-based within the epoch
    steps: int = 0
    elapsed: float = 0.0
    eta: float = math.nan
    history: dict = field(default_factory=dict)
    partial: dict | None = None
    loaded: bool = False  # the result came from the store without training
    seconds: float = 0.0  # training time of the finished run
    error: str = ""  # one sentence when failed (e.g. "the worker stopped mid-run")

    @property
    def key(self) -> str:
        return self.job_id

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


class TrainingQueue(Protocol):
    """What the lab talks to; ``owner`` is an id unique to one browser session."""

    def submit(self, request: TrainRequest, owner: str) -> str:
        """Queue (or join, or load from the store) the training; returns the job id (the store key).

        Raises ``JobLimit``, ``TooCostly`` or ``QueueUnavailable``."""

    def status(self, job_id: str) -> JobStatus:
        """The job's state and progress; an unknown id reads as ``failed`` with a sentence saying so."""

    def cancel(self, job_id: str, owner: str) -> None:
        """Stop following the job; the training stops once no owner follows it."""


def train_slots() -> int:
    """``MNISTVIZ_TRAIN_SLOTS``, else one training at a time per two cores (at least one)."""
    raw = os.environ.get("MNISTVIZ_TRAIN_SLOTS", "")
    if raw.strip().isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, (os.cpu_count() or 2) // 2)


# --- one job, run by either back end -----------------------------------------------------------

REPORT_EVERY_S = 0.3  # at most about three progress reports a second (every epoch end is reported too)
ESTIMATE_AFTER_BATCHES = 3  # the first batch compiles the model: estimate from the rate after it, once
ESTIMATE_AFTER_S = 2.0  # a few batches and about two seconds have passed

_DATA: dict[str, tuple[object, str]] = {}
_DATA_LOCK = threading.Lock()
BUILT_IN_SOURCES = ("auto", "keras", "sample")
KEEP_OTHER_SOURCES = 4  # people's own uploaded sets (``userdata.saved_for_training`` files) kept loaded


def training_data(source: str):
    """``(Dataset, data_id)`` for ``source`` (what ``data.load_data`` takes), loaded once per process.

    The arrays are read-only: every job in this process shares the one copy. Of the other sources (a
    person's own ``.npz``) only the ``KEEP_OTHER_SOURCES`` used last stay loaded."""
    if source not in BUILT_IN_SOURCES:
        from .store import mark_used

        mark_used(source)  # a person's own set in the store: a use
    with _DATA_LOCK:
        if source in _DATA and source not in BUILT_IN_SOURCES:
            _DATA[source] = _DATA.pop(source)  # most recently used last
        if source not in _DATA:
            if source not in BUILT_IN_SOURCES:  # make room: drop the least recently used uploaded sets
                others = [s for s in _DATA if s not in BUILT_IN_SOURCES]
                for old in others[:max(0, len(others) - (KEEP_OTHER_SOURCES - 1))]:
                    del _DATA[old]
            from .data import load_data
            from .store import data_fingerprint

            ds = load_data(source)
            for arr in (ds.x_train, ds.y_train, ds.x_test, ds.y_test):
                arr.setflags(write=False)
            _DATA[source] = (ds, data_fingerprint(ds.x_train, ds.y_train))
        return _DATA[source]


class _Tracker:
    """Turns ``training.Progress`` reports into ``JobStatus`` updates, with an honest time estimate."""

    def __init__(self, status: JobStatus, report: Callable[[JobStatus], bool], clock=time.perf_counter):
        self.status = status
        self.report = report
        self.clock = clock
        self._last = -math.inf
        self._first: tuple[int, float] | None = None  # (batches done, elapsed) at the end of the first batch
        self.cancelled = False

    def __call__(self, p) -> bool:
        s = self.status
        done = p.epoch * p.steps + p.batch + 1
        if p.kind == "batch":
            s.epoch, s.batch = p.epoch, p.batch  # where it really is (an epoch end after a cancel is not)
            s.partial = {"epoch": p.epoch + (p.batch + 1) / p.steps, **p.logs}
            if self._first is None:
                self._first = (done, p.elapsed)
        else:
            s.epoch, s.batch = p.epoch, p.steps - 1
            for k, v in p.logs.items():
                s.history.setdefault(k, []).append(v)
            s.partial = None
        s.epochs, s.steps, s.elapsed = p.epochs, p.steps, p.elapsed
        s.eta = self._estimate(done, p.epochs * p.steps, p.elapsed)
        now = self.clock()
        if p.kind == "epoch" or now - self._last >= REPORT_EVERY_S:
            self._last = now
            if self.report(replace(s, history={k: list(v) for k, v in s.history.items()})) is False:
                self.cancelled = True
        return not self.cancelled

    def _estimate(self, done: int, total: int, elapsed: float) -> float:
        """Seconds left from the rate since the first batch (which also compiled), or nan while too early."""
        if self._first is None:
            return math.nan
        n0, t0 = self._first
        if done - n0 < ESTIMATE_AFTER_BATCHES or elapsed - t0 < ESTIMATE_AFTER_S and done < total:
            return math.nan
        return (elapsed - t0) / (done - n0) * (total - done)


def one_sentence(exc: BaseException) -> str:
    """An exception as one sentence for the page."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"The training stopped with an error ({type(exc).__name__}: {text.rstrip('.')})."


def execute(request: TrainRequest, report: Callable[[JobStatus], bool], store=None) -> JobStatus:
    """Do one job: load the data, check ``data_id``, load the identical finished run from the store or
    train and store it. ``report`` gets the running status at most a few times a second and at every
    epoch end; it returns ``False`` to cancel. Returns the final status: ``finished`` (``loaded`` when
    it came from the store), ``cancelled`` (where it stopped is in ``epoch``/``batch``) or ``failed``
    with one sentence in ``error``. Never raises for a training that goes wrong."""
    from . import replay
    from .experiments import run_or_load
    from .store import ModelStore

    store = store if store is not None else ModelStore()
    status = JobStatus(request.key, "running", epochs=request.options.epochs)
    watch = None
    if request.digit is not None:  # keep snapshots of the training for the lab's replay
        def watch(x_val, y_val):
            return replay.make_recorder(store.root, request.key, request.digit, x_val, y_val)
    outcome = None
    try:
        ds, data_id = training_data(request.data_source)
        if data_id != request.data_id:
            return replace(status, state="failed", error=(
                f"The trainer's data set ({request.data_source}) is not the one the page shows; "
                "the server and the workers must use the same MNISTVIZ_DATA."))
        tracker = _Tracker(status, report)
        outcome = run_or_load(request.config, request.options, ds.x_train, ds.y_train, store, data_id,
                              progress=tracker, watch=watch)
    except Exception as exc:  # noqa: BLE001 - any failure of a training becomes a failed job with its reason
        return replace(status, state="failed", error=one_sentence(exc), partial=None)
    finally:  # the snapshots stay with a stored model only
        replay.finish(store.root, request.key, kept=outcome is not None and not outcome.cancelled)
    status = tracker.status
    if outcome.cancelled:
        return replace(status, state="cancelled", eta=math.nan)
    return replace(status, state="finished", history=outcome.history, partial=None, loaded=outcome.loaded,
                   seconds=outcome.seconds, eta=0.0, error=outcome.warning,
                   epoch=max(0, outcome.epochs_done - 1), epochs=request.options.epochs)


# --- the cost ceiling ---------------------------------------------------------------------------

DEFAULT_MAX_COST = 4e12  # parameters × images × epochs: the default preset on all 60,000 digits fits
FULL_TRAIN_IMAGES = 60_000  # "all images" is priced as full MNIST


def max_cost() -> float:
    """``MNISTVIZ_TRAIN_MAX_COST`` (parameters × images × epochs), else ``DEFAULT_MAX_COST``; 0 = no ceiling."""
    try:
        value = float(os.environ.get("MNISTVIZ_TRAIN_MAX_COST", "") or DEFAULT_MAX_COST)
    except ValueError:
        return DEFAULT_MAX_COST
    return value if value >= 0 else DEFAULT_MAX_COST


def training_cost(request: TrainRequest) -> tuple[int, int, int]:
    """``(parameters, images, epochs)`` of a request."""
    from .models import count_params

    return count_params(request.config), request.options.n_train or FULL_TRAIN_IMAGES, request.options.epochs


def check_cost(request: TrainRequest, ceiling: float | None = None) -> None:
    """Raise ``TooCostly`` with a sentence naming the slider to move when the run is above the ceiling."""
    ceiling = max_cost() if ceiling is None else ceiling
    params, images, epochs = training_cost(request)
    if not ceiling or params * images * epochs <= ceiling:
        return
    lead = (f"This run is too big for this server ({params:,} parameters × {images:,} images × {epochs} epochs "
            f"is above its ceiling of {ceiling:.3g}): ")
    if params * images <= ceiling:
        raise TooCostly(lead + f"move the Epochs slider to {int(ceiling // (params * images))} or fewer.")
    if params * 500 <= ceiling / epochs:
        raise TooCostly(lead + f"move the Training images slider to {int(ceiling // (params * epochs)):,} or fewer.")
    raise TooCostly(lead + "make the network smaller (fewer Filters or Units per dense layer).")


# --- the embedded back end ----------------------------------------------------------------------

KEEP_FINISHED = 256  # ended jobs remembered for late followers


@dataclass
class _Job:
    request: TrainRequest
    status: JobStatus
    owners: set = field(default_factory=set)
    thread: threading.Thread | None = None


class EmbeddedQueue:
    """Trainings in this server process: at most ``slots`` at once, the rest wait first in, first out.

    ``runner`` does one job (``execute`` by default; tests pass a stand-in that fails on purpose)."""

    def __init__(self, slots: int | None = None, store=None, ceiling: float | None = None,
                 runner: Callable[..., JobStatus] = execute):
        self.slots = slots or train_slots()
        self.store = store
        self.ceiling = ceiling
        self.runner = runner
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._waiting: deque[str] = deque()
        self._running: set[str] = set()
        self._owned: dict[str, str] = {}  # owner → job id

    def submit(self, request: TrainRequest, owner: str) -> str:
        check_cost(request, self.ceiling)
        job_id = request.key
        with self._lock:
            mine = self._jobs.get(self._owned.get(owner, ""))
            if mine is not None and mine.status.live and mine.status.job_id != job_id:
                raise JobLimit("You already have a training queued or running; cancel it or wait for it to end.")
            job = self._jobs.get(job_id)
            if job is None or not job.status.live:
                job = _Job(request, JobStatus(job_id, "queued", epochs=request.options.epochs))
                self._jobs[job_id] = job
                self._waiting.append(job_id)
                self._forget_old()
            job.owners.add(owner)
            self._owned[owner] = job_id
            self._dispatch()
        return job_id

    def status(self, job_id: str) -> JobStatus:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return JobStatus(job_id, "failed", error="This training is not known to the server (it may have restarted).")
            s = replace(job.status, history={k: list(v) for k, v in job.status.history.items()})
            if s.state == "queued":
                s.ahead = self._waiting.index(job_id) if job_id in self._waiting else 0
            return s

    def cancel(self, job_id: str, owner: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if self._owned.get(owner) == job_id:
                del self._owned[owner]
            if job is None:
                return
            job.owners.discard(owner)
            if not job.owners and job.status.state == "queued":
                self._waiting.remove(job_id)
                job.status = replace(job.status, state="cancelled")
            # a running job sees that nobody follows it at its next progress report, and stops

    def _dispatch(self) -> None:
        while self._waiting and len(self._running) < self.slots:
            job_id = self._waiting.popleft()
            job = self._jobs[job_id]
            job.status = replace(job.status, state="running")
            self._running.add(job_id)
            job.thread = threading.Thread(target=self._run, args=(job,), name=f"mnistviz-train-{job_id[:8]}",
                                          daemon=True)
            job.thread.start()

    def _run(self, job: _Job) -> None:
        def report(status: JobStatus) -> bool:
            with self._lock:
                job.status = status
                return bool(job.owners)

        try:
            final = self.runner(job.request, report, self.store)
        except Exception as exc:  # noqa: BLE001 - a runner that raises still ends its job
            final = replace(job.status, state="failed", error=one_sentence(exc))
        with self._lock:
            job.status = final
            self._running.discard(job.status.job_id)
            self._dispatch()

    def _forget_old(self) -> None:
        ended = [k for k, j in self._jobs.items() if not j.status.live]
        for k in ended[:-KEEP_FINISHED] if len(ended) > KEEP_FINISHED else []:
            del self._jobs[k]

    def wait(self, job_id: str, timeout: float = 300.0) -> JobStatus:
        """Block until the job ends (for scripts and tests; the page polls ``status`` instead)."""
        deadline = time.monotonic() + timeout
        while (s := self.status(job_id)).live and time.monotonic() < deadline:
            time.sleep(0.05)
        return s


_EMBEDDED: EmbeddedQueue | None = None
_EMBEDDED_LOCK = threading.Lock()


def training_queue() -> TrainingQueue:
    """The queue this process uses: Redis + RQ when ``MNISTVIZ_REDIS_URL`` is set, else the process-wide
    ``EmbeddedQueue``. Raises ``QueueUnavailable`` when Redis is configured but cannot be reached."""
    global _EMBEDDED
    if os.environ.get("MNISTVIZ_REDIS_URL"):
        from .jobs_rq import RQQueue

        return RQQueue.from_env()
    with _EMBEDDED_LOCK:
        if _EMBEDDED is None:
            _EMBEDDED = EmbeddedQueue()
        return _EMBEDDED
