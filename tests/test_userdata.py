"""A person's own digits: the .npz upload format (each bad file gets one sentence), the handwriting set,
and fine-tuning a copy of a real trained model on it."""

from __future__ import annotations

import io

import numpy as np
import pytest

from mnistviz import data, userdata
from mnistviz.finetune import fine_tune
from mnistviz.models import PRESETS, TrainOptions
from mnistviz.training import train


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.fixture(scope="module")
def sample():
    return data.load_sample()


def test_a_good_file_round_trips_and_its_fingerprint_follows_the_content(sample):
    x, y = sample.x_train[:300], sample.y_train[:300]
    digits = userdata.read_digits(npz(x=x, y=y.astype(np.int64)))
    assert digits.x.dtype == np.uint8 and digits.x.shape == (300, 28, 28)
    np.testing.assert_array_equal(digits.y, y)
    again = userdata.read_digits(userdata.digits_npz(digits))
    assert again.fingerprint == digits.fingerprint
    np.testing.assert_array_equal(again.x, x)
    changed = y.copy()
    changed[0] = (changed[0] + 1) % 10
    assert userdata.read_digits(npz(x=x, y=changed)).fingerprint != digits.fingerprint


def test_floats_in_0_1_are_read_as_pixels(sample):
    x = sample.x_train[:200]
    digits = userdata.read_digits(npz(x=x / 255.0, y=sample.y_train[:200]))
    np.testing.assert_array_equal(digits.x, x)


@pytest.mark.parametrize("arrays, words", [
    (dict(x=np.zeros((200, 28, 27)), y=np.zeros(200)), "shape (N, 28, 28)"),
    (dict(x=np.zeros((200, 28, 28)), y=np.zeros((200, 2))), "y must have shape (N,)"),
    (dict(x=np.zeros((200, 28, 28)), y=np.zeros(199)), "must match"),
    (dict(x=np.zeros((200, 28, 28)), y=np.full(200, 10)), "digits 0-9"),
    (dict(x=np.zeros((200, 28, 28)), y=np.full(200, -1)), "digits 0-9"),
    (dict(x=np.zeros((200, 28, 28)), y=np.full(200, 2.5)), "whole digits"),
    (dict(x=np.full((200, 28, 28), np.nan), y=np.zeros(200)), "NaN"),
    (dict(x=np.full((200, 28, 28), 300.0), y=np.zeros(200)), "0-255"),
    (dict(x=np.zeros((20, 28, 28), np.uint8), y=np.zeros(20)), "at least 100"),
    (dict(images=np.zeros((200, 28, 28)), labels=np.zeros(200)), "no array named x or y"),
])
def test_each_bad_file_gets_one_sentence(arrays, words):
    with pytest.raises(userdata.DigitsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        userdata.read_digits(npz(**arrays))


def test_not_an_npz_truncated_and_too_big_are_refused(sample):
    good = npz(x=sample.x_train[:200], y=sample.y_train[:200])
    with pytest.raises(userdata.DigitsError, match="not an .npz"):
        userdata.read_digits(b"\x89PNG\r\n\x1a\n not digits")
    with pytest.raises(userdata.DigitsError):
        userdata.read_digits(good[: len(good) // 2])
    with pytest.raises(userdata.DigitsError, match="the limit is 1 MB"):
        userdata.read_digits(good + b"\0" * 2**20, max_bytes=2**20)


def test_uploaded_digits_become_a_dataset_with_a_held_out_part(sample):
    digits = userdata.read_digits(npz(x=sample.x_train[:500], y=sample.y_train[:500]))
    ds = userdata.as_dataset(digits, "my.npz")
    assert len(ds.x_train) == 400 and len(ds.x_test) == 100
    assert ds.extra["fingerprint"] == digits.fingerprint
    both = np.concatenate([ds.x_train, ds.x_test]).reshape(500, -1)
    assert len(np.unique(both, axis=0)) == len(np.unique(sample.x_train[:500].reshape(500, -1), axis=0))


def test_handwriting_set_says_what_is_missing_and_downloads_in_the_upload_format(sample):
    hw = userdata.HandwritingSet()
    assert "at least 2" in hw.missing()
    with pytest.raises(userdata.DigitsError, match="blank"):
        hw.add(np.zeros((28, 28)), 3)
    with pytest.raises(userdata.DigitsError, match="0-9"):
        hw.add(np.ones((28, 28)), 11)
    for i, label in enumerate([1, 1, 0]):
        hw.add(data.scale(sample.x_test[i]), label)
    assert "0" in hw.missing() and "1" not in hw.missing().split(":")[-1]
    hw.add(data.scale(sample.x_test[3]), 0)
    assert hw.missing() == ""
    assert list(hw.counts()[:2]) == [2, 2]
    back = userdata.read_digits(userdata.digits_npz(hw.digits()), min_digits=0)
    np.testing.assert_array_equal(back.y, [1, 1, 0, 0])
    np.testing.assert_array_equal(back.x[0], sample.x_test[0])


def test_fine_tuning_learns_a_new_hand_on_a_copy_and_keeps_the_rest(sample):
    preset = PRESETS["mlp30"]
    base = train(preset.config, sample.x_train[:3000], sample.y_train[:3000],
                 TrainOptions(epochs=2, batch_size=64, optimizer="rmsprop", validation_fraction=0.0)).model
    weights = [w.copy() for w in base.get_weights()]
    # "Your handwriting": digits turned a quarter turn, a hand the model has never seen.
    pick = np.concatenate([np.flatnonzero(sample.y_test == d)[:3] for d in range(10)])
    own = userdata.checked_digits(np.rot90(sample.x_test[pick], 1, axes=(1, 2)), sample.y_test[pick])
    held = np.setdiff1d(np.arange(len(sample.y_test)), pick)[:1000]
    result = fine_tune(base, own, sample.x_train, sample.y_train, sample.x_test[held], sample.y_test[held],
                       epochs=2, seed=3)
    for before, after in zip(weights, base.get_weights()):
        np.testing.assert_array_equal(before, after)  # the person's active model is untouched
    assert result.n_own == 30 and result.n_held == 1000
    assert result.own_after >= result.own_before + 0.2, result
    assert result.held_after >= result.held_before - 0.08, result


def test_uploaded_digits_are_saved_once_where_any_trainer_loads_the_same_split(sample, tmp_path):
    digits = userdata.read_digits(npz(x=sample.x_train[:500], y=sample.y_train[:500]))
    path = userdata.saved_for_training(digits, tmp_path)
    assert path == tmp_path / "data" / f"{digits.fingerprint}.npz"
    inode = path.stat().st_ino
    assert userdata.saved_for_training(digits, tmp_path).stat().st_ino == inode  # written once (then only touched)
    loaded = data.load_data(str(path))
    split = userdata.as_dataset(digits)
    np.testing.assert_array_equal(loaded.x_train, split.x_train)
    np.testing.assert_array_equal(loaded.y_test, split.y_test)


def test_uploaded_sets_count_against_the_store_cap_least_recently_used_first(sample, tmp_path, monkeypatch):
    import os

    from mnistviz.store import ModelStore

    sets = [userdata.read_digits(npz(x=sample.x_train[i * 300:(i + 1) * 300], y=sample.y_train[i * 300:(i + 1) * 300]))
            for i in range(3)]
    first = userdata.saved_for_training(sets[0], tmp_path)  # no cap here (the default is 2 GB)
    size = first.stat().st_size
    monkeypatch.setenv("MNISTVIZ_CACHE_MAX_MB", str(2.5 * size / 2**20))  # room for two sets
    second = userdata.saved_for_training(sets[1], tmp_path)
    for i, p in enumerate((first, second)):  # the first was used long ago, the second a little later
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
    assert userdata.saved_for_training(sets[0], tmp_path) == first  # used again: now the second is the oldest
    third = userdata.saved_for_training(sets[2], tmp_path)
    assert first.exists() and third.exists() and not second.exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted([first.name, third.name])  # no temp files
    # the store's trim (after each model it saves) weighs the sets with the models, and spares the one it keeps
    os.utime(first, (1_000_000, 1_000_000))
    assert ModelStore(tmp_path, max_bytes=int(2.5 * size)).trim(keep="data/" + third.name) == []
    assert ModelStore(tmp_path, max_bytes=int(0.5 * size)).trim(keep="data/" + third.name) == ["data/" + first.name]
    assert third.exists()
    # models and sets in one order of use: a model file used before a set goes before it
    second = userdata.saved_for_training(sets[1], tmp_path)
    (tmp_path / "m.keras").write_bytes(b"k" * size)
    (tmp_path / "m.json").write_text("{}")
    for t, p in enumerate((second, tmp_path / "m.keras", tmp_path / "m.json", third)):
        os.utime(p, (2_000_000 + [0, 1, 1, 2][t],) * 2)
    assert ModelStore(tmp_path, max_bytes=int(1.5 * size)).trim() == ["data/" + second.name, "m"]
    assert not (tmp_path / "m.json").exists() and third.exists()
