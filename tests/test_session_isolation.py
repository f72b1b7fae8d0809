"""One student never sees another's work. Two AppTest sessions in one process share Streamlit's caches
(``st.cache_data`` / ``st.cache_resource``), as two browser sessions on one server do. Each puts its own
small trained model on its shelf under the same name, "run 1", and the sidebar's "Only digits the model
gets wrong" filter must list that session's own mistakes."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistviz import data, models, store, training
from mnistviz.shelf import ModelShelf, ShelfModel

ROOT = Path(__file__).resolve().parents[1]
CONFIG = models.ModelConfig(dense=(models.DenseSpec(16),))


@pytest.fixture(scope="module")
def two_runs():
    """Two tiny MLPs trained on different slices of the sample: both are somebody's "run 1"."""
    ds = data.load_sample()
    out = []
    for seed, start in ((1, 0), (2, 4000)):
        options = models.TrainOptions(epochs=1, n_train=None, validation_fraction=0.0, seed=seed)
        x, y = ds.x_train[start:start + 1500], ds.y_train[start:start + 1500]
        result = training.train(CONFIG, x, y, options)
        key = store.model_key(CONFIG, options, store.data_fingerprint(x, y))
        wrong = np.flatnonzero(result.model.predict(data.model_input(ds.x_test), verbose=0).argmax(1) != ds.y_test)
        out.append((key, result.model, wrong))
    assert out[0][0] != out[1][0]
    assert out[0][2][0] != out[1][2][0], "the two runs must differ in their first mistake for this test to tell"
    return out


def session_with(key: str, model) -> AppTest:
    shelf = ModelShelf()
    shelf.use(shelf.add(ShelfModel(key, "run 1", "run 1 (tiny MLP)", model, CONFIG)).key)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["model_shelf"] = shelf
    at.run()
    at.switch_page("pages/overview.py").run()
    at.sidebar.checkbox(key="input_wrong_only").check().run()
    assert not at.exception
    return at


def test_two_sessions_with_a_run_1_each_see_their_own_mistakes(two_runs):
    (key_a, model_a, wrong_a), (key_b, model_b, wrong_b) = two_runs
    a = session_with(key_a, model_a)
    b = session_with(key_b, model_b)  # the cache already holds a's scores
    assert a.sidebar.number_input(key="input_index").value == wrong_a[0]
    assert b.sidebar.number_input(key="input_index").value == wrong_b[0]
    # a random pick stays within the session's own list
    for at, wrong in ((a, wrong_a), (b, wrong_b)):
        for _ in range(3):
            at.sidebar.button(key="input_random").click().run()
            assert at.session_state["input_index"] in set(wrong.tolist())
    # and each sidebar offers only its own run
    for at, key in ((a, key_a), (b, key_b)):
        assert at.sidebar.selectbox(key="model_choice").options == ["Default (pretrained)", "run 1 (tiny MLP)"]
        assert at.session_state["model_choice"] == key


def test_every_session_reads_one_read_only_copy_of_the_data():
    from mnistviz import jobs
    from pages import shared

    first, second = shared.load_dataset("sample"), shared.load_dataset("sample")
    assert first is second is jobs.training_data("sample")[0]  # the training queue reads the same copy
    for arr in (first.x_train, first.y_train, first.x_test, first.y_test):
        assert not arr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        first.x_test[0, 0, 0] = 255
