"""A session's lab without Streamlit: follow a job on a real embedded queue, record runs on the shelf,
one cancel path, errors as errors, retry, use a run everywhere."""

from __future__ import annotations

import time

import pytest

from mnistviz import jobs
from mnistviz.data import load_sample
from mnistviz.lab_session import LabSession, TestSplit
from mnistviz.lab_settings import LabSettings
from mnistviz.shelf import ModelShelf
from mnistviz.store import ModelStore

from test_jobs import Gate, request


@pytest.fixture(scope="module")
def test_split() -> TestSplit:
    ds = load_sample()
    return TestSplit(ds.x_test[:300], ds.y_test[:300], "300 test digits")


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "store")


def follow(lab: LabSession, q, test_split, shelf, store, timeout: float = 120.0):
    """Poll as the page's fragment does, until the job has ended."""
    deadline = time.monotonic() + timeout
    while lab.following:
        assert time.monotonic() < deadline
        lab.poll(q, test_split, shelf, store)
        time.sleep(0.05)
    return lab


def test_a_finished_job_becomes_a_run_on_the_shelf_and_an_identical_one_is_loaded(store, test_split):
    q, shelf, lab = jobs.EmbeddedQueue(slots=1, store=store), ModelShelf(), LabSession(LabSettings())
    assert lab.train(q, request()) and lab.following
    follow(lab, q, test_split, shelf, store)
    [run] = lab.runs
    assert lab.latest == "run 1" and run.key == request().key and not run.loaded
    assert 0.0 <= run.accuracy <= 1.0 and run.extra["evaluation"].n == 300
    kept = shelf.get(run.key)
    assert kept.name == "run 1" and getattr(kept.model, "optimizer", None) is None  # what the store loads
    assert lab.take_notes() == []

    lab.train(q, request())
    follow(lab, q, test_split, shelf, store)
    assert lab.runs[1].loaded and lab.runs[1].history == run.history
    assert any("loaded instead of retrained" in n.text for n in lab.take_notes())


def test_leaving_and_coming_back_follows_the_same_job(store, test_split):
    q, shelf, lab = jobs.EmbeddedQueue(slots=1, store=store), ModelShelf(), LabSession()
    lab.train(q, request(units=23))
    q.wait(lab.job_id)  # nobody polls meanwhile: the job goes on by itself
    follow(lab, q, test_split, shelf, store)
    assert [r.id for r in lab.runs] == ["run 1"] and not lab.runs[0].loaded


def test_cancel_reports_where_the_run_was_and_keeps_nothing(store, test_split):
    gate = jobs.EmbeddedQueue(slots=1, store=store, runner=(g := Gate()))
    shelf, lab = ModelShelf(), LabSession()
    lab.train(gate, request(epochs=3, n_train=2000, batch_size=32))
    assert g.reached.wait(60)
    time.sleep(0.05)
    g.open.set()
    while not (lab.status and lab.status.steps and lab.status.epoch * 57 + lab.status.batch >= 3):
        lab.poll(gate, test_split, shelf, store)
        time.sleep(0.02)
    lab.cancel(gate, test_split, shelf, store)
    [note] = lab.take_notes()
    assert note.kind == "warning" and note.text.startswith("Training cancelled at epoch ")
    assert note.text.endswith(" of 57.") and "batch 1 of 57" not in note.text
    assert not lab.following and lab.runs == []
    job = lab.status.job_id
    assert gate.wait(job).state == "cancelled" and store.load(job) is None


def test_a_cancel_that_lands_after_the_run_finished_keeps_the_run(store, test_split):
    q, shelf, lab = jobs.EmbeddedQueue(slots=1, store=store), ModelShelf(), LabSession()
    lab.train(q, request(units=24))
    q.wait(lab.job_id)
    lab.cancel(q, test_split, shelf, store)
    assert [r.id for r in lab.runs] == ["run 1"] and store.load(lab.runs[0].key) is not None
    notes = lab.take_notes()
    assert any("already finished" in n.text for n in notes) and not any("cancelled" in n.text for n in notes)


def test_a_failed_job_is_an_error_with_a_retry(store, test_split):
    attempts = []

    def flaky(req, report, store_):
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("No space left on device")
        return jobs.execute(req, report, store_)

    q, shelf, lab = jobs.EmbeddedQueue(slots=1, store=store, runner=flaky), ModelShelf(), LabSession()
    lab.train(q, request(units=25))
    follow(lab, q, test_split, shelf, store)
    [note] = lab.take_notes()
    assert note.kind == "error" and "No space left on device" in note.text
    assert lab.failed is not None and lab.runs == []
    assert lab.retry(q)
    follow(lab, q, test_split, shelf, store)
    assert [r.id for r in lab.runs] == ["run 1"] and lab.failed is None


def test_a_refused_request_is_an_error_note(store):
    q, lab = jobs.EmbeddedQueue(slots=1, store=store, ceiling=1.0), LabSession()
    assert not lab.train(q, request())
    [note] = lab.take_notes()
    assert note.kind == "error" and "too big for this server" in note.text and not lab.following


def test_use_everywhere_even_after_the_model_left_memory(store, test_split):
    q, shelf, lab = jobs.EmbeddedQueue(slots=1, store=store), ModelShelf(max_kept=1), LabSession()
    for units in (26, 27):
        lab.train(q, request(units=units))
        follow(lab, q, test_split, shelf, store)
    first = lab.runs[0]
    assert shelf.get(first.key) is None  # pruned: only one model kept besides the active one
    lab.use_everywhere("run 1", shelf, store)
    assert shelf.active_key == first.key and shelf.active.name == "run 1"
