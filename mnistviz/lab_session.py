"""One browser session's lab: its settings, the training job it follows, its runs and the notes to show.

The page keeps one ``LabSession`` (under the session-state key ``"lab"``) and calls it; the session
talks to a ``jobs.TrainingQueue`` (the training runs elsewhere and reports progress), to the model
store (a finished run is loaded from there: the optimizer-free model, exactly what was stored) and to
the session's ``ModelShelf`` (the models kept in memory, and the one used everywhere). There is one
cancel path, ``cancel``; a training that fails is shown as an error with its reason, and can be retried.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from .evaluation import evaluate
from .experiments import RunRecord, describe_stop, options_summary, architecture_summary
from .jobs import JobError, JobStatus, TrainRequest, TrainingQueue
from .lab_settings import LabSettings
from .models import count_params
from .shelf import ModelShelf, ShelfModel
from .store import ModelStore, StoreError


@dataclass(frozen=True)
class Note:
    """A message for the page, shown once: ``kind`` is "info", "success", "warning" or "error"."""

    kind: str
    text: str


@dataclass(frozen=True)
class TestSplit:
    """The labelled digits a finished run is scored on: images ``(N, 28, 28)``, labels ``(N,)``."""

    x: np.ndarray
    y: np.ndarray
    label: str  # e.g. "MNIST test split (10,000)"


class LabSession:
    """A session's lab. ``owner`` identifies it to the queue (one live job per owner)."""

    def __init__(self, settings: LabSettings = LabSettings(), preset: str = "custom", owner: str | None = None):
        self.owner = owner or uuid.uuid4().hex
        self.settings = settings
        self.preset = preset
        self.runs: list[RunRecord] = []
        self.latest: str | None = None  # id of the run whose results the page shows
        self.request: TrainRequest | None = None  # what the followed (or failed) job trains
        self.job_id: str | None = None
        self.status: JobStatus | None = None  # the latest status seen of the followed job
        self.failed: TrainRequest | None = None  # a failed request, for the Retry button
        self.unreachable: str | None = None  # why the latest poll got no answer from the queue (None: it answered)
        self.link_note = ""  # what a shared link held that the lab does not offer (shown once)
        self._notes: list[Note] = []

    # --- the job ------------------------------------------------------------------------------

    @property
    def following(self) -> bool:
        return self.job_id is not None

    def train(self, queue: TrainingQueue, request: TrainRequest) -> bool:
        """Submit ``request`` and follow its job; a refusal (limit, cost, no queue) becomes an error note."""
        try:
            self.job_id = queue.submit(request, self.owner)
        except JobError as exc:
            self.note("error", str(exc))
            return False
        self.request, self.failed, self.status = request, None, None
        return True

    def retry(self, queue: TrainingQueue) -> bool:
        return self.failed is not None and self.train(queue, self.failed)

    def poll(self, queue: TrainingQueue, test: TestSplit, shelf: ModelShelf, store: ModelStore | None = None
             ) -> JobStatus | None:
        """The followed job's status; when it has ended, record the run (or the failure) and stop following.
        A queue that does not answer (Redis down) leaves the last status seen, with the reason in
        ``unreachable`` until an answer comes: a state, not a note, so asking every few seconds while it
        is down piles nothing up."""
        if self.job_id is None:
            return None
        try:
            status = queue.status(self.job_id)
        except JobError as exc:
            self.unreachable = str(exc)
            return self.status
        self.status, self.unreachable = status, None
        if not status.live:
            self._end(status, test, shelf, store)
        return status

    def cancel(self, queue: TrainingQueue, test: TestSplit, shelf: ModelShelf, store: ModelStore | None = None) -> None:
        """Stop following the job. If it had already finished, its run is kept like any other."""
        if self.job_id is None:
            return
        try:
            queue.cancel(self.job_id, self.owner)
            status = queue.status(self.job_id)
        except JobError as exc:
            self.note("error", str(exc))
            return
        if status.state == "finished":
            self._end(status, test, shelf, store, after_cancel=True)
            return
        where = describe_stop(self.status if status.state == "queued" else status)
        self.note("warning", "Training cancelled while it waited for a free slot." if status.state == "queued"
                  else f"Training cancelled at {where}.")
        self._stop_following()

    def _stop_following(self) -> None:
        self.job_id, self.request, self.unreachable = None, None, None

    def _end(self, status: JobStatus, test: TestSplit, shelf: ModelShelf, store: ModelStore | None,
             after_cancel: bool = False) -> None:
        request = self.request
        self._stop_following()
        if status.state == "failed":
            self.failed = request
            self.note("error", status.error or "The training failed.")
            return
        if status.state == "cancelled":
            self.note("warning", f"Training cancelled at {describe_stop(status)}.")
            return
        try:
            rec = self.record(request, status, test, shelf, store or ModelStore())
        except StoreError as exc:
            self.failed = request
            self.note("error", f"The finished model could not be loaded from the model store ({exc}).")
            return
        if status.error:  # a warning of a finished run, e.g. a corrupt copy that was retrained
            self.note("warning", status.error)
        if after_cancel:
            self.note("info", f"The run had already finished when Cancel arrived, so it is kept as {rec.id}.")
        if rec.loaded:
            self.note("info", f"{rec.id}: an identical run was already in the model store, so it was loaded "
                              f"instead of retrained (it took {rec.seconds:.1f} s to train originally).")

    # --- runs ---------------------------------------------------------------------------------

    def record(self, request: TrainRequest, status: JobStatus, test: TestSplit, shelf: ModelShelf,
               store: ModelStore) -> RunRecord:
        """Load the finished model from the store, score it on ``test``, and keep it as the next run."""
        stored = store.load(status.key)
        if stored is None:
            raise StoreError("it is not there any more")
        ev = evaluate(stored.model, test.x, test.y)
        run_id = f"run {len(self.runs) + 1}"
        summary = f"{architecture_summary(request.config)} · {options_summary(request.options)}"
        if request.options.continue_from:
            parent = next((r.id for r in self.runs if r.key == request.options.continue_from), "an earlier run")
            summary += f" · continues {parent}"
        rec = RunRecord(run_id, status.key, summary, request.config, request.options, count_params(request.config),
                        status.seconds, status.history, ev.accuracy, test.label, status.loaded, {"evaluation": ev})
        self.runs.append(rec)
        self.latest = run_id
        shelf.add(ShelfModel(key=status.key, name=run_id, label=f"Lab {run_id}: {summary}", model=stored.model,
                             config=request.config, meta={"accuracy": ev.accuracy}))
        return rec

    def run(self, run_id: str | None) -> RunRecord | None:
        return next((r for r in self.runs if r.id == run_id), None)

    def use_everywhere(self, run_id: str, shelf: ModelShelf, store: ModelStore | None = None) -> None:
        """Make a run's model the active one on every page (for this session only)."""
        rec = self.run(run_id)
        if rec is None:
            return
        if shelf.get(rec.key) is None:  # pruned from memory: load it again from the store
            stored = (store or ModelStore()).load(rec.key)
            if stored is None:
                self.note("error", f"{run_id}'s model is no longer in the model store; train it again to use it.")
                return
            shelf.add(ShelfModel(key=rec.key, name=run_id, label=f"Lab {run_id}: {rec.summary}", model=stored.model,
                                 config=rec.config, meta={"accuracy": rec.accuracy}))
        shelf.use(rec.key)

    # --- notes --------------------------------------------------------------------------------

    def note(self, kind: str, text: str) -> None:
        self._notes.append(Note(kind, text))

    def take_notes(self) -> list[Note]:
        """The notes not shown yet (each is shown once)."""
        notes, self._notes = self._notes, []
        return notes
