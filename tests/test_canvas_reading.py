"""A canvas drawing read by a model (``mnistviz.canvas_reading``): read once per picture and model, by each
model its own way, shared read-only, and forgotten with its model."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from canvas_pictures import data_url, drawn
from mnistviz import activations, canvas_reading
from test_answer_route import always


def test_the_same_picture_is_read_once_per_model(model):
    one = data_url(drawn("one"))
    first = canvas_reading.read_drawing(model, one)
    assert canvas_reading.read_drawing(model, one) is first
    assert int(first.proba.argmax()) == 1
    expected = canvas_reading.read_rgba(model, drawn("one"))
    np.testing.assert_array_equal(first.result.image, expected.result.image)
    np.testing.assert_allclose(first.proba, activations.probabilities(model, expected.result.image).reshape(-1),
                               atol=1e-6)
    with pytest.raises(ValueError):  # shared between sessions: read-only
        first.stages[0].array[...] = 0
    with pytest.raises(ValueError):
        first.result.image[0, 0] = 1


def test_each_model_reads_the_picture_its_own_way(model):
    one = data_url(drawn("one"))
    sevens = always(7)
    assert int(canvas_reading.read_drawing(sevens, one).proba.argmax()) == 7
    assert int(canvas_reading.read_drawing(model, one).proba.argmax()) == 1


def test_a_blank_canvas_has_no_stages_and_a_bad_picture_is_refused(model):
    blank = canvas_reading.read_drawing(model, data_url(drawn("blank")))
    assert blank.result.blank and blank.stages is None and blank.proba is None
    with pytest.raises(canvas_reading.BadDrawing):
        canvas_reading.read_drawing(model, "data:image/png;base64,aGVsbG8=")


def test_readings_go_with_their_model():
    sevens = always(7)
    reading = weakref.ref(canvas_reading.read_drawing(sevens, data_url(drawn("zero"))))
    gc.collect()
    assert reading() is not None  # remembered while the model lives
    del sevens
    gc.collect()
    assert reading() is None


def test_only_the_latest_readings_are_kept(model, monkeypatch):
    monkeypatch.setattr(canvas_reading, "RECENT_PER_MODEL", 2)
    pictures = [data_url(drawn(s)) for s in ("one", "zero", "seven")]
    first = canvas_reading.read_drawing(model, pictures[0])
    for p in pictures[1:]:
        canvas_reading.read_drawing(model, p)
    assert canvas_reading.read_drawing(model, pictures[0]) is not first  # the oldest was forgotten
