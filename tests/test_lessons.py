"""mnistviz.lessons: the page list matches the files, every layer of every preset maps to a page by its
Keras class, layers the app has never seen fall back sensibly, and the Next order skips what a model lacks."""

from pathlib import Path

import keras
import pytest

from mnistviz import lessons, models

ROOT = Path(__file__).resolve().parents[1]


def test_every_page_file_is_listed_once_and_exists():
    listed = [lesson.path for lesson in lessons.LESSONS]
    assert len(listed) == len(set(listed))
    on_disk = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py")}
    assert set(listed) == on_disk - set(lessons.PAGE_HELPERS)
    assert set(lessons.PAGE_HELPERS) <= on_disk
    assert [lesson.default for lesson in lessons.LESSONS].count(True) == 1
    assert lessons.lesson(str(ROOT / "pages" / "stage_pool.py")).title == "4 · Max pooling"


def test_default_model_layers_map_to_their_pages(model):
    titles = [lesson.title for lesson in lessons.lessons_for_layers(model.layers)]
    by_name = dict(zip([layer.name for layer in model.layers], titles))
    assert by_name["conv1"] == by_name["conv2"] == "3 · Convolution"
    assert by_name["pool1"] == "4 · Max pooling"
    assert by_name["flatten"] == "5 · Flatten"
    assert by_name["dense"] == by_name["dropout"] == "6 · Dense and dropout"
    assert by_name["logits"] == by_name["softmax"] == "7 · Logits and softmax"  # the last Dense makes the logits


@pytest.mark.parametrize("preset", list(models.PRESETS))
def test_every_preset_layer_has_a_walkthrough_page(preset):
    model = models.build_model(models.PRESETS[preset].config, seed=0)
    taught = lessons.lessons_for_layers(model.layers)
    assert len(taught) == len(model.layers)
    assert all(lesson in lessons.STAGES for lesson in taught)
    assert taught[-1] == lessons.stage("softmax")


def test_layers_the_app_has_never_seen_go_with_the_layer_that_feeds_them():
    class Mystery(keras.layers.Layer):  # e.g. a custom layer in an uploaded model
        def call(self, x):
            return x

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = Mystery()(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.LayerNormalization()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    stages = [lesson.stage for lesson in lessons.lessons_for_layers(model.layers)]
    assert stages == ["data", "conv", "conv", "conv", "pool", "pool", "pool", "softmax"]
    headless = [Mystery(), keras.layers.Dense(3)]  # a model starting with an unknown layer: the Overview
    assert lessons.lessons_for_layers(headless)[0] == lessons.OVERVIEW
    assert lessons.lesson_for_kind("Mystery") == lessons.OVERVIEW
    assert lessons.lesson_for_kind("Conv2D") == lessons.stage("conv")


def test_next_goes_in_walkthrough_order_and_skips_stages_a_model_lacks():
    order = [lessons.OVERVIEW, *lessons.STAGES]
    for here, there in zip(order, order[1:]):
        assert lessons.next_lesson(here.path) == there
    assert lessons.next_lesson("pages/stage_softmax.py") is None
    assert lessons.next_lesson("pages/lab.py") is None
    mlp = models.build_model(models.PRESETS["mlp30"].config, seed=0)
    taught = lessons.lessons_for_layers(mlp.layers)
    assert lessons.next_lesson("pages/stage_data.py", taught) == lessons.stage("dense")
    assert lessons.next_lesson("pages/stage_conv.py", taught) == lessons.stage("dense")
