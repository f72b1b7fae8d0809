"""Watch it learn: a tiny real CNN trained through the training queue's ``execute`` keeps snapshots of its
training (before the first batch, within the first epoch, at every epoch end); the last one agrees with
the stored model; a cancelled run and a discarded model keep none."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mnistviz import activations, data, jobs, replay
from mnistviz.lab_settings import LabSettings
from mnistviz.store import ModelStore

CNN = LabSettings(blocks=1, filters1=4, kernel1=3, units=16, dropout=0.0, epochs=2, batch_size=45, n_train=500)


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "store")


def request(settings: LabSettings, digit: np.ndarray) -> jobs.TrainRequest:
    return jobs.TrainRequest(settings.to_config(), settings.to_options(), "sample", jobs.training_data("sample")[1],
                             digit=digit)


def png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_a_training_keeps_snapshots_that_end_where_the_model_is(store):
    ds = jobs.training_data("sample")[0]
    digit = data.scale(ds.x_test[0])
    req = request(CNN, digit)
    assert req == request(CNN, data.scale(ds.x_test[1])) and req.key == request(CNN, None).key  # not in the key
    final = jobs.execute(req, lambda s: True, store)
    assert final.state == "finished"
    snaps = replay.read_replay(store.root, req.key)
    # 450 images train (a tenth validates) in batches of 45: 10 steps an epoch, snapshots after 1, 2 and 5 of them
    assert [s.epoch for s in snaps] == [0.0, 0.1, 0.2, 0.5, 1.0, 2.0]
    assert [s.step for s in snaps] == [0, 1, 2, 5, 10, 20]
    assert not replay.replay_dir(store.root, req.key, partial=True).exists()
    # kernels: 4 filters of 3×3 in one row (upscaled 6×); maps: conv1's 4 maps of 28×28 (upscaled 2×)
    assert png_size(snaps[0].kernels) == (6 * (4 * 3 + 3), 6 * 3)
    assert [name for name, _ in snaps[-1].maps] == ["conv1"]
    assert png_size(snaps[-1].maps[0][1]) == (2 * (4 * 28 + 3), 2 * 28)
    assert snaps[0].kernels != snaps[-1].kernels  # the filters changed
    assert replay.latest_snapshot(store.root, req.key).step == snaps[-1].step
    # the last snapshot is the stored model's view of the digit and of the first held-out images
    model = store.load(req.key).model
    np.testing.assert_allclose(snaps[-1].proba, activations.probabilities(model, digit)[0], atol=1e-5)
    x = data.model_input(ds.x_train[:500])
    y = ds.y_train[:500]
    x_val, y_val = x[450:], y[450:]  # training's own split: the last tenth
    acc = float((activations.probabilities(model, x_val).argmax(1) == y_val).mean())
    assert snaps[-1].val_accuracy == pytest.approx(acc, abs=1e-9)
    assert abs(snaps[-1].proba.sum() - 1) < 1e-5

    store.discard(req.key)  # the replay goes with its model
    assert replay.read_replay(store.root, req.key) == []


def test_a_cancelled_run_keeps_no_snapshots(store):
    digit = data.scale(jobs.training_data("sample")[0].x_test[0])
    req = request(LabSettings(**{**CNN.to_dict(), "epochs": 3}), digit)
    final = jobs.execute(req, lambda s: s.epoch < 1, store)  # cancel in the second epoch
    assert final.state == "cancelled"
    assert replay.read_replay(store.root, req.key) == []
    assert not (store.root / "replay").exists() or not any((store.root / "replay").iterdir())


def test_an_mlp_replay_has_probabilities_and_accuracy_but_no_maps(store):
    digit = data.scale(jobs.training_data("sample")[0].x_test[0])
    req = request(LabSettings(blocks=0, units=16, dropout=0.0, epochs=1, batch_size=100, n_train=500), digit)
    assert jobs.execute(req, lambda s: True, store).state == "finished"
    snaps = replay.read_replay(store.root, req.key)
    assert len(snaps) >= 2 and all(s.kernels == b"" and s.maps == () for s in snaps)
    assert 0.0 <= snaps[-1].val_accuracy <= 1.0
