"""'Teach it your handwriting' through AppTest: the set's rules on screen, a real fine-tune of a small
trained model on a handwriting set, before/after figures, and the copy made the session's active model.
(The canvas itself is a browser component: tests/test_browser_teach.py draws on it.)"""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistviz import data, models, training, userdata
from mnistviz.shelf import ModelShelf, ShelfModel

ROOT = Path(__file__).resolve().parents[1]
CONFIG = models.ModelConfig(dense=(models.DenseSpec(16),))


@pytest.fixture(scope="module")
def tiny():
    ds = data.load_sample()
    options = models.TrainOptions(epochs=1, validation_fraction=0.0, seed=1)
    return training.train(CONFIG, ds.x_train[:1500], ds.y_train[:1500], options).model


def teach_page(model, hw: userdata.HandwritingSet | None = None) -> AppTest:
    shelf = ModelShelf()
    shelf.use(shelf.add(ShelfModel("tiny:test", "tiny", "tiny MLP", model, CONFIG)).key)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["model_shelf"] = shelf
    if hw is not None:
        at.session_state["handwriting"] = hw
    at.run()
    at.switch_page("pages/teach.py").run()
    assert not at.exception
    return at


def button(at: AppTest, key: str):
    return at.button(key=f"teach_{key}")


def test_an_empty_set_says_what_to_do_and_fine_tune_waits(tiny):
    at = teach_page(tiny)
    assert any("Nothing saved yet" in i.value for i in at.info)
    assert button(at, "finetune").disabled
    button(at, "save").click().run()  # the canvas is blank in AppTest
    assert not at.exception
    assert any("blank" in w.value for w in at.warning)
    assert len(at.session_state["handwriting"]) == 0


def test_fine_tune_on_a_set_and_use_the_copy_everywhere(tiny):
    ds = data.load_sample()
    hw = userdata.HandwritingSet()
    pick = np.concatenate([np.flatnonzero(ds.y_test == d)[:2] for d in (3, 7)])
    for i in pick:
        hw.add(np.rot90(data.scale(ds.x_test[i])), int(ds.y_test[i]))  # a hand the model has not seen
    at = teach_page(tiny, hw)
    assert any("4 drawings" in m.value for m in at.markdown)
    assert not button(at, "finetune").disabled
    button(at, "finetune").click().run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert labels == ["Your digits, after", "Held-out sample digits, after"]
    parent, _, result = at.session_state["teach_result"]
    assert parent == "tiny:test" and result.n_own == 4 and result.n_held == 2000
    assert at.metric[0].value == f"{result.own_after:.0%}"
    button(at, "use").click().run()
    active = at.session_state["model_shelf"].active
    assert active.key.startswith("finetune:") and active.model is result.model
    at.switch_page("pages/overview.py").run()  # the walkthrough now looks through the copy
    assert not at.exception
    assert at.session_state["model_choice"] == active.key

