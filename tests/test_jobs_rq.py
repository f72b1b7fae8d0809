"""The Redis + RQ training queue with a real ``redis-server`` and real ``python -m mnistviz worker``
processes (tiny trainings: an MLP, 500 images, 1 epoch)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from dataclasses import replace

import pytest

from mnistviz.jobs import JobLimit, QueueUnavailable, TrainRequest, training_data
from mnistviz.jobs_rq import DIED, RQQueue
from mnistviz.models import PRESETS
from mnistviz.store import ModelStore

pytest.importorskip("rq")


def request(seed: int = 1, epochs: int = 1, n_train: int = 500, preset: str = "mlp30") -> TrainRequest:
    _, data_id = training_data("sample")
    p = PRESETS[preset]
    return TrainRequest(p.config, replace(p.train, epochs=epochs, n_train=n_train, seed=seed), "sample", data_id)


def wait_until(check, what: str, timeout: float = 120.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def stored(store) -> list[str]:
    return sorted(p.name for p in store.glob("*")) if store.exists() else []


def test_three_owners_queue_in_order_and_all_finish(redis_server, start_worker, tmp_path):
    q = RQQueue.from_env(redis_server.url, store=ModelStore(tmp_path / "store"))
    reqs = [request(seed=s) for s in (1, 2, 3)]
    ids = [q.submit(r, owner) for r, owner in zip(reqs, "abc")]
    assert [q.status(i).ahead for i in ids] == [0, 1, 2]
    assert all(q.status(i).state == "queued" for i in ids)
    with pytest.raises(JobLimit):  # one live job per session
        q.submit(request(seed=9), "a")

    start_worker(redis_server.url, tmp_path / "store")
    # while the first trains, the others wait and show how many runs are ahead of them
    wait_until(lambda: q.status(ids[0]).state == "running", "the first job to run")
    waiting = [q.status(i) for i in ids[1:]]
    assert [(s.state, s.ahead) for s in waiting] == [("queued", 0), ("queued", 1)]
    finals = [q.wait(i, timeout=300) for i in ids]
    assert [s.state for s in finals] == ["finished"] * 3, [s.error for s in finals]
    assert all(not s.loaded and s.history["loss"] for s in finals)
    assert len([n for n in stored(tmp_path / "store") if n.endswith(".keras")]) == 3
    # an ended job no longer counts against its owner
    again = q.submit(request(seed=9), "a")
    # (cancelled, so that the worker is idle when it is stopped: a worker stops only after its job)
    q.cancel(again, "a")
    assert q.wait(again, timeout=120).state == "cancelled"


def test_identical_requests_train_once_and_later_followers_load(redis_server, start_worker, tmp_path):
    q = RQQueue.from_env(redis_server.url, store=ModelStore(tmp_path / "store"))
    r = request(seed=5)
    assert q.submit(r, "a") == q.submit(r, "b") == r.key
    assert len(q.queue) == 1  # one job on the queue for both sessions
    start_worker(redis_server.url, tmp_path / "store")
    first = q.wait(r.key)
    assert first.state == "finished" and not first.loaded
    assert stored(tmp_path / "store") == sorted([f"{r.key}.json", f"{r.key}.keras"])
    # a third session asks after the end: the stored run is its result at once, without a trip through the queue
    assert q.submit(r, "c") == r.key
    again = q.status(r.key)
    assert again.state == "finished" and again.loaded and len(q.queue) == 0
    assert again.history == first.history and again.seconds == pytest.approx(first.seconds, abs=0.01)
    assert stored(tmp_path / "store") == sorted([f"{r.key}.json", f"{r.key}.keras"])


def test_cancel_stops_only_when_nobody_follows(redis_server, start_worker, tmp_path):
    q = RQQueue.from_env(redis_server.url, store=ModelStore(tmp_path / "store"))
    queued = request(seed=7)
    q.submit(queued, "x")
    q.cancel(queued.key, "x")  # nobody runs it yet: it leaves the queue
    assert q.status(queued.key).state == "cancelled" and len(q.queue) == 0

    long = request(seed=8, epochs=30, n_train=8000, preset="mlp512")
    q.submit(long, "a")
    q.submit(long, "b")
    start_worker(redis_server.url, tmp_path / "store")
    wait_until(lambda: q.status(long.key).batch > 2, "the training to be under way")
    q.cancel(long.key, "a")
    time.sleep(1.0)  # several progress reports later it still runs: b follows it
    assert q.status(long.key).state == "running"
    q.cancel(long.key, "b")
    final = q.wait(long.key, timeout=60)
    assert final.state == "cancelled" and final.epoch < 29
    assert stored(tmp_path / "store") == []  # a cancelled run is never stored


def test_worker_killed_mid_run_reads_failed_and_can_be_retried(redis_server, start_worker, tmp_path):
    q = RQQueue.from_env(redis_server.url, store=ModelStore(tmp_path / "store"))
    long = request(seed=11, epochs=30, n_train=8000, preset="mlp512")
    q.submit(long, "a")
    worker = start_worker(redis_server.url, tmp_path / "store")
    wait_until(lambda: q.status(long.key).batch > 2, "the training to be under way")
    # the worker and every thread TensorFlow trains on run 10 steps nicer than this process: drawing comes first
    nices = {int(Path(f"/proc/{worker.pid}/task/{t}/stat").read_text().rsplit(")", 1)[1].split()[16])
             for t in os.listdir(f"/proc/{worker.pid}/task")}
    assert nices == {os.nice(0) + 10}, nices
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    dead = wait_until(lambda: (s := q.status(long.key)).state == "failed" and s, "the job to read failed", 30)
    assert dead.error == DIED
    assert not [n for n in stored(tmp_path / "store") if not n.startswith(".")]  # nothing half-written kept
    # Retry: the same session submits again and a new worker picks it up
    assert q.submit(long, "a") == long.key
    start_worker(redis_server.url, tmp_path / "store")
    wait_until(lambda: q.status(long.key).batch > 2 and q.status(long.key).state == "running", "the retry to run")
    q.cancel(long.key, "a")
    assert q.wait(long.key, timeout=60).state == "cancelled"


def test_redis_unreachable_is_one_clear_sentence(redis_server, tmp_path):
    q = RQQueue.from_env(redis_server.url, store=ModelStore(tmp_path / "store"))
    r = request(seed=3)
    redis_server.stop()
    for call in (lambda: q.submit(r, "a"), lambda: q.status(r.key), lambda: q.cancel(r.key, "a"),
                 lambda: RQQueue.from_env(redis_server.url, store=ModelStore(tmp_path / "store"))):
        with pytest.raises(QueueUnavailable, match=r"cannot be reached.*drawing and the walkthrough keep working"):
            call()
    # it fails fast: short timeouts and no retries on the client the pages use
    kwargs = q.redis.connection_pool.connection_kwargs
    assert kwargs["socket_connect_timeout"] <= 1 and kwargs["socket_timeout"] <= 3


def test_a_lab_following_a_job_while_redis_is_down_keeps_its_place_and_piles_up_no_notes(redis_server, tmp_path):
    """The page asks every few seconds: while Redis does not answer, the lab keeps the job and its last
    status, holds the reason as its state (shown once, in place) instead of a new note at each ask, and
    picks up where it was when Redis answers again."""
    from mnistviz.data import load_sample
    from mnistviz.lab_session import LabSession, TestSplit
    from mnistviz.shelf import ModelShelf

    ds = load_sample()
    test, shelf = TestSplit(ds.x_test[:100], ds.y_test[:100], "100 test digits"), ModelShelf()
    q = RQQueue.from_env(redis_server.url, store=ModelStore(tmp_path / "store"))
    lab = LabSession()
    assert lab.train(q, request(seed=11))  # no worker: it waits in the queue
    assert lab.poll(q, test, shelf).state == "queued" and lab.unreachable is None
    os.kill(redis_server.proc.pid, signal.SIGSTOP)  # Redis hangs: every call times out
    try:
        for _ in range(2):
            status = lab.poll(q, test, shelf)
            assert status is not None and status.state == "queued" and lab.following
            assert "cannot be reached" in lab.unreachable
        assert lab.take_notes() == []
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    assert lab.poll(q, test, shelf).state == "queued" and lab.unreachable is None and lab.following
    lab.cancel(q, test, shelf)
    assert not lab.following and lab.unreachable is None
