"""The Redis + RQ back end of the training queue (used when ``MNISTVIZ_REDIS_URL`` is set).

Jobs go on the RQ queue ``mnistviz-train``; ``python -m mnistviz worker`` processes (any number, on any
machine that shares the model store) run ``run_job``, which calls ``jobs.execute``.

What lives in Redis besides RQ's own job hash (all under ``mnistviz:``):

- ``owners:<job id>``: the set of sessions following the job (the job id is the model-store key, so
  identical requests share one job);
- ``owner:<owner>``: the session's current job (at most one live job per session);
- ``cancel:<job id>``: set when the last follower leaves; the worker's progress callback reads it and
  stops the training;
- ``alive:<job id>``: a short-lived key the worker renews every second while it runs the job. A
  started job without it was left behind by a worker that died: it reads as ``failed``.

Progress travels in ``job.meta["status"]`` (a ``JobStatus`` as a dict), written at most about three
times a second (``jobs.REPORT_EVERY_S``) and at every epoch end.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, replace

from .jobs import JobLimit, JobStatus, QueueUnavailable, TrainRequest, check_cost, execute

QUEUE_NAME = "mnistviz-train"
PREFIX = "mnistviz:"
ALIVE_TTL_S = 5  # a worker silent this long is dead (it renews every ALIVE_EVERY_S)
ALIVE_EVERY_S = 1.0
START_GRACE_S = 15.0  # a job RQ marked started but whose worker never said it was alive
JOB_TIMEOUT_S = 4 * 3600  # RQ's default (180 s) would kill long trainings
KEEP_S = 24 * 3600  # finished and failed jobs (and the follower sets) stay readable this long
CONNECT_TIMEOUT_S = 1.0
SOCKET_TIMEOUT_S = 3.0

UNREACHABLE = ("The training queue (Redis at {where}) cannot be reached, so training is unavailable "
               "for now; drawing and the walkthrough keep working.")
DIED = "The worker training this run stopped mid-run (it was killed or its machine went away); press Retry."

# Join a job: add the follower, clear any cancel flag, remember it as the owner's job (one atomic step).
_JOIN = """
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
return 1
"""
# Leave a job: drop the follower (and the owner's pointer to it); raise the cancel flag if nobody is left.
_LEAVE = """
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  return 0
end
return 1
"""


def _owners_key(job_id: str) -> str:
    return f"{PREFIX}owners:{job_id}"


def _owner_key(owner: str) -> str:
    return f"{PREFIX}owner:{owner}"


def _cancel_key(job_id: str) -> str:
    return f"{PREFIX}cancel:{job_id}"


def _alive_key(job_id: str) -> str:
    return f"{PREFIX}alive:{job_id}"


def redis_url() -> str:
    return os.environ.get("MNISTVIZ_REDIS_URL", "")


def connect(url: str):
    """A Redis client that fails fast (short timeouts, no retries), so a page never waits on a dead Redis."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=SOCKET_TIMEOUT_S,
                                retry=Retry(NoBackoff(), 0), health_check_interval=30)


def _where(url: str) -> str:
    """The URL without a password, for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 6379}"


_CLIENTS: dict[str, object] = {}  # keyed by URL: one connection pool per Redis per process
_CLIENTS_LOCK = threading.Lock()


def shared_client(url: str):
    """This process's one ``connect(url)`` client (and so one connection pool) per Redis URL."""
    with _CLIENTS_LOCK:
        if url not in _CLIENTS:
            _CLIENTS[url] = connect(url)
        return _CLIENTS[url]


class RQQueue:
    """The ``TrainingQueue`` protocol on Redis + RQ. Every method raises ``QueueUnavailable`` (one
    sentence) when Redis does not answer within a second or so."""

    def __init__(self, connection, ceiling: float | None = None, where: str = "?", store=None):
        from rq import Queue

        from .store import ModelStore

        self.redis = connection
        self.ceiling = ceiling
        self.store = store if store is not None else ModelStore()  # the one the workers share
        self.where = where
        self.queue = Queue(QUEUE_NAME, connection=connection)
        self._join = connection.register_script(_JOIN)
        self._leave = connection.register_script(_LEAVE)

    @classmethod
    def from_env(cls, url: str | None = None, ceiling: float | None = None, store=None) -> "RQQueue":
        """The queue at ``url`` (default ``MNISTVIZ_REDIS_URL``); ``QueueUnavailable`` if Redis does not answer."""
        url = url or redis_url()
        if not url:
            raise QueueUnavailable("No training queue is configured (MNISTVIZ_REDIS_URL is not set).")
        client = shared_client(url)
        q = cls(client, ceiling, _where(url), store)
        q._call(client.ping)
        return q

    def _call(self, fn, *args, **kwargs):
        import redis

        try:
            return fn(*args, **kwargs)
        except (redis.RedisError, OSError) as exc:
            raise QueueUnavailable(UNREACHABLE.format(where=self.where)) from exc

    # --- the protocol ---------------------------------------------------------------------------

    def submit(self, request: TrainRequest, owner: str) -> str:
        check_cost(request, self.ceiling)
        job_id = request.key
        return self._call(self._submit, request, job_id, owner)

    def status(self, job_id: str) -> JobStatus:
        return self._call(self._status, job_id)

    def cancel(self, job_id: str, owner: str) -> None:
        self._call(self._cancel, job_id, owner)

    def wait(self, job_id: str, timeout: float = 300.0) -> JobStatus:
        """Block until the job ends (for scripts and tests; the page polls ``status`` instead)."""
        deadline = time.monotonic() + timeout
        while (s := self.status(job_id)).live and time.monotonic() < deadline:
            time.sleep(0.1)
        return s

    # --- inside ---------------------------------------------------------------------------------

    def _submit(self, request: TrainRequest, job_id: str, owner: str) -> str:
        current = self.redis.get(_owner_key(owner))
        current = current.decode() if current else ""
        if current and current != job_id and self._status(current).live:
            raise JobLimit("You already have a training queued or running; cancel it or wait for it to end.")
        # one submitter at a time decides whether to join the live job or to start a new one
        with self.redis.lock(f"{PREFIX}submit:{job_id}", timeout=10, blocking_timeout=5):
            if not self._status(job_id).live:
                self._clear(job_id)
                if not self._finished_from_store(request, job_id):
                    self._enqueue(request, job_id)
            self._join(keys=[_owners_key(job_id), _cancel_key(job_id), _owner_key(owner)],
                       args=[owner, job_id, KEEP_S])
        return job_id

    def _clear(self, job_id: str) -> None:
        """An ended (or abandoned) job with this id: its RQ records go, so the new one starts clean."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            Job.fetch(job_id, connection=self.redis).delete()
        except NoSuchJobError:
            pass
        self.redis.delete(_owners_key(job_id), _cancel_key(job_id), _alive_key(job_id))

    def _enqueue(self, request: TrainRequest, job_id: str) -> None:
        self.queue.enqueue(run_job, request, job_id=job_id, job_timeout=JOB_TIMEOUT_S, result_ttl=KEEP_S,
                           failure_ttl=KEEP_S, ttl=KEEP_S,
                           meta={"status": asdict(JobStatus(job_id, "queued", epochs=request.options.epochs))},
                           description=f"mnistviz training {job_id[:12]}")

    def _finished_from_store(self, request: TrainRequest, job_id: str) -> bool:
        """A run already in the shared store (trained earlier, or by ``prefetch`` before class) is a finished
        job at once: it does not wait in the queue behind other trainings just to be loaded."""
        import json

        from rq.job import JobStatus as RQState

        try:
            meta = json.loads(self.store.paths(job_id)[1].read_text())
        except (OSError, ValueError):
            return False
        history = meta.get("history") or {}
        done = int(meta.get("epochs_done", len(history.get("loss", []))))
        status = JobStatus(job_id, "finished", epoch=max(0, done - 1), epochs=request.options.epochs,
                           history=history, loaded=True, seconds=float(meta.get("seconds", 0.0)), eta=0.0)
        job = self.queue.create_job(run_job, args=(request,), job_id=job_id, result_ttl=KEEP_S, ttl=KEEP_S,
                                    meta={"status": asdict(status)}, description=f"mnistviz stored run {job_id[:12]}")
        job.save()
        job.set_status(RQState.FINISHED)
        return True

    def _status(self, job_id: str) -> JobStatus:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError:
            return JobStatus(job_id, "failed", error="This training is not known to the queue (it may have expired).")
        rq_state = job.get_status(refresh=False)
        rq_state = getattr(rq_state, "value", rq_state)
        s = JobStatus(**(job.meta.get("status") or {"job_id": job_id, "state": "queued"}))
        if rq_state in ("queued", "deferred", "scheduled"):
            return replace(s, state="queued", ahead=job.get_position() or 0)
        if rq_state in ("canceled", "stopped"):
            return replace(s, state="cancelled")
        if rq_state == "failed":
            exc = (job.latest_result().exc_string if job.latest_result() else "") or ""
            last = exc.strip().splitlines()[-1] if exc.strip() else "an unknown error"
            return replace(s, state="failed", error=f"The worker could not run this training ({last}).")
        if rq_state == "finished":
            return s if not s.live else replace(s, state="finished")
        # started: the worker renews the alive key while it works
        if s.live and not self.redis.exists(_alive_key(job_id)):
            started = job.started_at.timestamp() if job.started_at else 0.0
            if s.state == "running" or time.time() - started > START_GRACE_S:
                return replace(s, state="failed", error=DIED, partial=None)
        return replace(s, state="running") if s.state == "queued" else s

    def _cancel(self, job_id: str, owner: str) -> None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        left = self._leave(keys=[_owners_key(job_id), _cancel_key(job_id), _owner_key(owner)],
                           args=[owner, job_id, KEEP_S])
        if left == 0:  # nobody follows it: a queued job leaves the queue (a running one sees the flag)
            try:
                job = Job.fetch(job_id, connection=self.redis)
            except NoSuchJobError:
                return
            if getattr(job.get_status(refresh=False), "value", None) == "queued":
                job.cancel()


# --- in the worker ------------------------------------------------------------------------------

def _keep_alive(connection, job_id: str, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            connection.set(_alive_key(job_id), "1", ex=ALIVE_TTL_S)
        except Exception:  # noqa: BLE001 - a missed beat is retried; a long outage fails the job as dead
            pass
        stop.wait(ALIVE_EVERY_S)


def run_job(request: TrainRequest, store=None) -> dict:
    """What an RQ worker runs for one job: ``jobs.execute`` with progress in ``job.meta`` and the cancel
    flag read at every report. Returns the final status as a dict (also left in ``job.meta``)."""
    from rq import get_current_job

    job = get_current_job()
    conn, job_id = job.connection, job.id
    stop = threading.Event()
    beat = threading.Thread(target=_keep_alive, args=(conn, job_id, stop), name="mnistviz-alive", daemon=True)
    beat.start()

    def report(status: JobStatus) -> bool:
        job.meta["status"] = asdict(status)
        job.save_meta()
        return not conn.exists(_cancel_key(job_id))

    try:
        if conn.exists(_cancel_key(job_id)):  # everybody left while it waited
            final = JobStatus(job_id, "cancelled", epochs=request.options.epochs)
        else:
            report(JobStatus(job_id, "running", epochs=request.options.epochs))
            final = execute(request, report, store)
        job.meta["status"] = asdict(final)
        job.save_meta()
        return asdict(final)
    finally:
        stop.set()
        beat.join(timeout=2)
        conn.delete(_alive_key(job_id))
