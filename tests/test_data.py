"""The data loader on real files: the bundled sample, an npz and IDX files written here, and the offline fallback."""

import gzip
import struct
import time

import numpy as np
import pytest

from mnistviz import data


def test_sample_split_is_seeded_and_labelled_honestly():
    a, b = data.load_sample(), data.load_sample()
    assert a.x_train.shape == (8000, 28, 28) and a.x_test.shape == (2000, 28, 28)
    assert a.x_train.dtype == np.uint8 and a.y_train.dtype == np.uint8
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    # shuffled: the file is ordered by class, the split is not
    assert len(np.unique(a.y_test[:100])) == 10
    counts = np.bincount(np.concatenate([a.y_train, a.y_test]), minlength=10)
    assert counts.tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert a.source == "sample"
    assert a.description == "bundled sample of 10,000 MNIST training digits, split 8,000 / 2,000"
    assert "not the MNIST test split" in a.test_label


def _write_idx(path, arr, gz):
    header = b"\x00\x00\x08" + bytes([arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    s = data.load_sample()
    arrays = {"x_train": s.x_train[:50], "y_train": s.y_train[:50], "x_test": s.x_test[:20], "y_test": s.y_test[:20]}
    for key, stem in data.IDX_NAMES.items():
        _write_idx(tmp_path / (stem + (".gz" if gz else "")), arrays[key], gz)
    ds = data.load_data(str(tmp_path))
    assert ds.source == "idx"
    assert np.array_equal(ds.x_train, arrays["x_train"]) and np.array_equal(ds.y_test, arrays["y_test"])
    assert ds.description.endswith("50 / 20")


def test_npz_in_keras_layout(tmp_path):
    s = data.load_sample()
    p = tmp_path / "mnist.npz"
    np.savez(p, x_train=s.x_train[:30], y_train=s.y_train[:30], x_test=s.x_test[:10], y_test=s.y_test[:10])
    ds = data.load_data(str(p))
    assert ds.source == "npz" and ds.x_test.shape == (10, 28, 28)
    assert np.array_equal(ds.x_train, s.x_train[:30])


def test_bad_sources_are_reported(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(data.DataError, match="cannot read"):
        data.load_data(str(bad))
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((2, 28, 28)))
    with pytest.raises(data.DataError, match="missing arrays"):
        data.load_data(str(wrong))
    with pytest.raises(data.DataError, match="not 'auto'"):
        data.load_data(str(tmp_path / "nowhere.npz"))
    (tmp_path / "idx").mkdir()
    with pytest.raises(data.DataError, match="no train-images"):
        data.load_data(str(tmp_path / "idx"))
    truncated = tmp_path / "t"
    truncated.mkdir()
    for key, stem in data.IDX_NAMES.items():
        (truncated / stem).write_bytes(b"\x00\x00\x08\x03" + struct.pack(">3I", 5, 28, 28) + b"\x00" * 10)
    with pytest.raises(data.DataError, match="header says"):
        data.load_data(str(truncated))


def test_auto_offline_reaches_the_sample_quickly(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no Keras cache
    t0 = time.perf_counter()
    ds = data.load_data("auto")
    assert time.perf_counter() - t0 < 20  # generous: the point is that it does not hang
    assert ds.source == "sample"
    assert "using the bundled sample" in ds.note
    assert ds.fallback_reason == data.OFFLINE  # this machine has no network and no cache


def test_a_sample_standing_in_says_so_and_the_plain_sample_does_not(tmp_path):
    missing = tmp_path / "nope.npz"
    try:
        data.load_data(str(missing))
    except data.DataError as exc:
        ds = data.sample_instead_of(str(missing), exc)
    assert ds.source == "sample" and ds.fallback_reason == data.UNUSABLE_SOURCE
    assert str(missing) in ds.note and "using the bundled sample" in ds.note
    assert data.load_sample().fallback_reason == "" and data.load_data("sample").fallback_reason == ""


def test_auto_uses_a_keras_cache_when_present(monkeypatch, tmp_path):
    s = data.load_sample()
    (tmp_path / "datasets").mkdir()
    np.savez(tmp_path / "datasets" / "mnist.npz", x_train=s.x_train[:40], y_train=s.y_train[:40],
             x_test=s.x_test[:10], y_test=s.y_test[:10])
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    import keras

    monkeypatch.setattr(keras.datasets.mnist, "load_data",
                        lambda: ((s.x_train[:40], s.y_train[:40]), (s.x_test[:10], s.y_test[:10])))
    ds = data.load_data("auto")
    assert ds.source == "keras" and ds.description == "MNIST, 40 / 10"


def test_course_helpers():
    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    assert data.scale(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert data.flatten(x).shape == (2, 784)
    assert np.array_equal(data.flatten(x)[1, 28:56], x[1, 1])  # row by row
    assert data.to_nhwc(data.flatten(x)).shape == (2, 28, 28, 1)
    assert np.array_equal(data.to_nhwc(data.flatten(x))[..., 0], x)
    oh = data.one_hot(np.array([7, 0]))
    assert oh.shape == (2, 10) and oh[0].tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0] and oh[1, 0] == 1
