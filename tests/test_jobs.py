"""The embedded training queue with tiny real trainings: slots and FIFO positions, one live job per owner,
identical requests shared, cancel by one owner or by all, failures as one sentence, the cost ceiling."""

from __future__ import annotations

import math
import threading

import pytest

from mnistviz import jobs
from mnistviz.lab_settings import LabSettings
from mnistviz.store import ModelStore

TINY = LabSettings(blocks=0, units=16, dropout=0.0, epochs=1, batch_size=64, n_train=500)


def request(settings: LabSettings = TINY, **changes) -> jobs.TrainRequest:
    s = LabSettings(**{**settings.to_dict(), **changes})
    return jobs.TrainRequest(s.to_config(), s.to_options(), "sample", jobs.training_data("sample")[1])


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "store")


class Gate:
    """A runner around ``jobs.execute`` whose first progress report waits until the test opens the gate."""

    def __init__(self):
        self.reached = threading.Event()
        self.open = threading.Event()

    def __call__(self, req, report, store):
        def gated(status):
            self.reached.set()
            assert self.open.wait(60)
            return report(status)

        return jobs.execute(req, gated, store)


def test_execute_trains_reports_and_a_second_identical_run_loads(store):
    seen = []
    final = jobs.execute(request(), lambda s: seen.append(s) or True, store)
    assert final.state == "finished" and not final.loaded and final.error == ""
    assert final.key == request().key and store.load(final.key) is not None
    assert set(final.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert seen and all(s.state == "running" for s in seen)
    assert seen[-1].history["loss"] == final.history["loss"]  # the epoch end was reported
    again = jobs.execute(request(), lambda s: True, store)
    assert again.state == "finished" and again.loaded and again.history == final.history


def test_execute_cancel_reports_where_it_stopped_and_stores_nothing(store):
    calls = []

    def report(status):
        calls.append(status)
        return len(calls) < 2

    final = jobs.execute(request(epochs=5, n_train=2000, batch_size=32), report, store)
    assert final.state == "cancelled"
    assert (final.epoch, final.batch) == (calls[-1].epoch, calls[-1].batch)
    assert final.steps == 57 and final.epochs == 5
    assert not store.root.exists() or not list(store.root.iterdir())  # not even a temporary file


def test_execute_failures_are_one_sentence(store):
    wrong_data = jobs.TrainRequest(TINY.to_config(), TINY.to_options(), "sample", "not-this-data")
    out = jobs.execute(wrong_data, lambda s: True, store)
    assert out.state == "failed" and "MNISTVIZ_DATA" in out.error and "\n" not in out.error
    impossible = request(blocks=3, kernel1=7, kernel2=7, kernel3=7, padding="valid")
    out = jobs.execute(impossible, lambda s: True, store)
    assert out.state == "failed" and out.error.startswith("The training stopped with an error") and "\n" not in out.error
    assert not store.root.exists() or store.entries() == []


def test_the_estimate_waits_for_the_rate_after_the_first_batch():
    from mnistviz.training import Progress

    status = jobs.JobStatus("k", "running")
    tracker = jobs._Tracker(status, lambda s: True)
    # the first batch took 30 s (it compiled the model); the next ones 0.1 s each
    tracker(Progress("batch", 0, 2, 0, 100, {"loss": 1.0}, 30.0))
    assert math.isnan(status.eta)
    for b in range(1, 30):
        tracker(Progress("batch", 0, 2, b, 100, {"loss": 1.0}, 30.0 + 0.1 * b))
    assert status.eta == pytest.approx(0.1 * 170)  # 170 batches left at 0.1 s, not 30 s × 170 / 30


def test_three_owners_one_slot_one_runs_two_wait_in_order(store):
    gate = Gate()
    q = jobs.EmbeddedQueue(slots=1, store=store, runner=gate)
    ids = [q.submit(request(units=16 + i), f"owner{i}") for i in range(3)]
    assert len(set(ids)) == 3
    assert q.status(ids[0]).state == "running"
    assert [(q.status(i).state, q.status(i).ahead) for i in ids[1:]] == [("queued", 0), ("queued", 1)]
    gate.open.set()
    assert [q.wait(i).state for i in ids] == ["finished"] * 3
    assert all(store.load(i) is not None for i in ids)


def test_one_live_job_per_owner_and_identical_requests_share_one(store):
    gate = Gate()
    q = jobs.EmbeddedQueue(slots=1, store=store, runner=gate)
    first = q.submit(request(), "a")
    assert q.submit(request(), "a") == first  # the same request again: the same job
    with pytest.raises(jobs.JobLimit):
        q.submit(request(units=17), "a")
    assert q.submit(request(), "b") == first  # another session, identical settings: joins it
    gate.open.set()
    assert q.wait(first).state == "finished"
    assert q.submit(request(units=17), "a") != first  # the finished job no longer counts
    assert q.wait(request(units=17).key).state == "finished"


def test_cancel_by_one_of_two_owners_keeps_training_and_by_the_only_owner_stops_it(store):
    gate = Gate()
    q = jobs.EmbeddedQueue(slots=1, store=store, runner=gate)
    shared = q.submit(request(), "a")
    q.submit(request(), "b")
    assert gate.reached.wait(60)
    q.cancel(shared, "a")
    gate.open.set()
    assert q.wait(shared).state == "finished" and store.load(shared) is not None

    gate2 = Gate()
    q2 = jobs.EmbeddedQueue(slots=1, store=store, runner=gate2)
    alone = q2.submit(request(units=18, epochs=3), "c")
    assert gate2.reached.wait(60)
    q2.cancel(alone, "c")
    gate2.open.set()
    final = q2.wait(alone)
    assert final.state == "cancelled" and store.load(alone) is None


def test_cancel_while_waiting_leaves_the_queue(store):
    gate = Gate()
    q = jobs.EmbeddedQueue(slots=1, store=store, runner=gate)
    running = q.submit(request(units=20), "a")
    waiting = q.submit(request(units=21), "b")
    last = q.submit(request(units=22), "c")
    q.cancel(waiting, "b")
    assert q.status(waiting).state == "cancelled" and q.status(last).ahead == 0
    gate.open.set()
    assert q.wait(running).state == q.wait(last).state == "finished"
    assert store.load(waiting) is None


def test_a_runner_that_raises_ends_its_job_as_failed_and_the_queue_goes_on(store):
    def broken(req, report, store):
        raise MemoryError("out of memory")

    q = jobs.EmbeddedQueue(slots=1, store=store, runner=broken)
    a, b = q.submit(request(), "a"), q.submit(request(units=19), "b")
    fa, fb = q.wait(a), q.wait(b)
    assert fa.state == fb.state == "failed"
    assert fa.error == "The training stopped with an error (MemoryError: out of memory)."
    assert q.status("no-such-job").state == "failed"


def test_the_cost_ceiling_names_the_slider_to_move(monkeypatch, store):
    q = jobs.EmbeddedQueue(slots=1, store=store, ceiling=12_730 * 500 * 2)  # TINY costs 12,730 × 500 × 1
    with pytest.raises(jobs.TooCostly, match="Epochs slider to 2 or fewer"):
        q.submit(request(epochs=5), "a")
    with pytest.raises(jobs.TooCostly, match="Training images slider"):
        q.submit(request(n_train=4000), "a")
    with pytest.raises(jobs.TooCostly, match="Filters or Units"):
        q.submit(request(units=4000), "a")
    monkeypatch.setenv("MNISTVIZ_TRAIN_MAX_COST", "1000")
    assert jobs.max_cost() == 1000
    monkeypatch.setenv("MNISTVIZ_TRAIN_MAX_COST", "lots")
    assert jobs.max_cost() == jobs.DEFAULT_MAX_COST


@pytest.mark.parametrize("key", ["course_cnn", "tf_tutorial", "bn_cnn", "mlp512", "default"])
def test_the_default_ceiling_lets_every_course_preset_train_on_all_images(key):
    from mnistviz.lab_settings import from_preset

    jobs.check_cost(request(from_preset(key), n_train=0))


def test_train_slots_setting(monkeypatch):
    monkeypatch.setenv("MNISTVIZ_TRAIN_SLOTS", "3")
    assert jobs.train_slots() == 3
    monkeypatch.setenv("MNISTVIZ_TRAIN_SLOTS", "zero")
    assert jobs.train_slots() >= 1


def test_training_queue_is_one_embedded_queue_per_process(monkeypatch):
    monkeypatch.delenv("MNISTVIZ_REDIS_URL", raising=False)
    assert jobs.training_queue() is jobs.training_queue()
    assert isinstance(jobs.training_queue(), jobs.EmbeddedQueue)


def test_the_shared_data_is_read_only():
    ds, data_id = jobs.training_data("sample")
    assert not ds.x_train.flags.writeable and len(data_id) == 16
    assert jobs.training_data("sample")[0] is ds
