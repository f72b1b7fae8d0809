"""The lab's table of fields: one bound per setting, read by the URL codec, the validation and the widgets."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from mnistviz import lab_settings as ls
from mnistviz import models


def test_the_table_has_one_field_per_setting_with_unique_url_keys():
    assert sorted(f.name for f in ls.FIELDS) == sorted(f.name for f in fields(ls.LabSettings))
    assert len({f.url for f in ls.FIELDS}) == len(ls.FIELDS)
    for f in ls.FIELDS:
        default = getattr(ls.LabSettings(), f.name)
        assert isinstance(default, f.kind), f.name
        assert f.clamp(default) == (default, None), f.name  # every default is inside the table
        if f.widget in ("slider", "number_input"):
            assert f.lo is not None and f.hi is not None and f.lo < f.hi, f.name
        if f.widget in ("select_slider", "radio", "selectbox"):
            assert f.options, f.name


@pytest.mark.parametrize("settings", [
    ls.LabSettings(),
    ls.from_preset("bn_cnn"),
    ls.from_preset("mlp30"),
    ls.LabSettings(blocks=3, filters3=7, kernel2=7, padding="valid", pool3=False, batch_norm=True,
                   conv_activation="tanh", dense_layers=2, units=33, dropout=0.35, optimizer="sgd",
                   learning_rate=3e-2, schedule="cosine", batch_size=10_000, epochs=12, augment=True, n_train=0),
])
def test_url_round_trip(settings):
    q = ls.to_query(settings)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in q.items())
    back, notes = ls.from_query(q)
    assert back == settings and notes == []


@pytest.mark.parametrize("key", list(models.PRESETS))
def test_every_course_preset_is_inside_the_table(key):
    assert ls.within_table(ls.from_preset(key))[1] == []


def test_out_of_range_values_are_clamped_and_unreadable_ones_dropped_each_with_a_note():
    s, notes = ls.from_query({"ep": "40", "f1": "200", "do": "0.85", "u": "-5", "n": "99999999999999999999",
                              "k1": "4", "k2": "9", "lr": "0.5", "opt": "lbfgs", "bs": ["64", "256"], "utm": "x",
                              "b": "abc", "dl": "", "c1": "1.5", "pad": "nan", "bn": "2", "do2": "1"})
    assert (s.epochs, s.filters1, s.dropout, s.units, s.n_train) == (30, 128, 0.8, 1, 0)
    assert (s.kernel2, s.learning_rate, s.batch_size) == (7, 0.1, 256)
    defaults = ls.LabSettings()
    assert (s.kernel1, s.optimizer, s.blocks, s.dense_layers, s.convs1, s.padding, s.batch_norm) == (
        defaults.kernel1, defaults.optimizer, defaults.blocks, defaults.dense_layers, defaults.convs1,
        defaults.padding, defaults.batch_norm)
    assert ls.within_table(s)[1] == []
    by_key = {n.split("=")[0]: n for n in notes}
    assert set(by_key) == {"ep", "f1", "do", "u", "n", "k1", "k2", "lr", "opt", "b", "dl", "c1", "pad", "bn"}
    assert "the most the lab offers" in by_key["ep"] and "30" in by_key["ep"]
    assert "ignored" in by_key["b"] and "not a number" in by_key["b"]
    assert "ignored" in by_key["dl"] and "empty" in by_key["dl"]


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1e400", "-1e400", "0x10", "  ", "1,000"])
def test_numbers_that_are_not_finite_or_not_numbers_are_dropped(text):
    for f in ls.FIELDS:
        if f.kind in (int, float):
            s, notes = ls.from_query({f.url: text})
            assert getattr(s, f.name) == getattr(ls.LabSettings(), f.name), (f.name, text)
            assert len(notes) == 1 and "ignored" in notes[0], (f.name, text)


def test_block_reads_the_per_block_fields():
    s = ls.LabSettings(blocks=3, filters2=9, kernel2=3, convs2=2, pool2=False)
    assert s.block(2) == ls.ConvBlock(filters=9, kernel=3, convs=2, pool=False)
    assert [c.filters for c in s.to_config().convs] == [32, 9, 9, 64]


def test_the_number_of_images_fits_the_data_set():
    assert ls.train_sizes(8000) == [500, 1000, 2000, 4000, 0]
    s, note = ls.fit_to_data(ls.LabSettings(n_train=30_000), 8000)
    assert s.n_train == 0 and "8,000" in note
    assert ls.fit_to_data(ls.LabSettings(n_train=4000), 8000) == (ls.LabSettings(n_train=4000), None)


def test_seed_and_weight_decay_reach_the_training_and_the_url():
    from mnistviz import data, training
    from mnistviz.lab_settings import LabSettings, from_query, to_query
    from mnistviz.store import model_key

    s = LabSettings(blocks=0, units=16, dropout=0.0, epochs=1, batch_size=64, n_train=500, seed=7, weight_decay=1e-2)
    opts = s.to_options()
    assert (opts.seed, opts.weight_decay) == (7, 1e-2)
    assert from_query(to_query(s))[0] == s  # a shared link keeps both
    assert "weight_decay" not in LabSettings().to_options().to_dict()  # runs stored before it existed keep their keys
    assert model_key(s.to_config(), opts, "d") != model_key(s.to_config(), replace(opts, weight_decay=0.0), "d")
    assert training.make_optimizer(opts, 10).weight_decay == pytest.approx(1e-2)
    ds = data.load_sample()
    norms = {}
    for wd in (0.0, 1e-2):
        for seed in (7, 8):
            r = training.train(s.to_config(), ds.x_train, ds.y_train, replace(opts, weight_decay=wd, seed=seed))
            norms[wd, seed] = float(np.linalg.norm(r.model.get_layer("dense").get_weights()[0]))
    assert norms[1e-2, 7] < norms[0.0, 7]  # the decay pulls the weights towards 0
    assert norms[0.0, 7] != norms[0.0, 8]  # another seed, another run
