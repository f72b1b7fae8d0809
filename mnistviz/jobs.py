"""Training jobs: one interface for lab trainings that run off the page, with two back ends.

- ``EmbeddedQueue`` (default, no settings): trainings run in this server process, at most
  ``MNISTVIZ_TRAIN_SLOTS`` at once (default: one per two cores); the rest wait first in, first out.
- ``RQQueue`` (``mnistviz.jobs_rq``, when ``MNISTVIZ_REDIS_URL`` is set): jobs go on a Redis + RQ
  queue and ``python -m mnistviz worker`` processes train them.

Both use the model-store key of a request as its job id, so identical requests (30 students
training the same preset) train once and everybody following that id loads the result from the
store. A session (an ``owner``) follows at most one live job. ``cancel`` detaches one owner; the
training itself stops only when nobody follows it any more, so no session changes what another sees.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Protocol

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
