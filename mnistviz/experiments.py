"""The lab's runs: train a configuration or load the identical finished run, and what a run leaves behind.

The settings (one table of fields, the URL codec, the presets) live in ``lab_settings`` and are
re-exported here, so ``experiments.from_preset(key).to_config()`` keeps working. ``run_or_load``
trains a configuration or loads the identical finished run from the ``ModelStore``; a cancelled run
is never stored. ``RunRecord`` is one finished run of a session, as the experiments table shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .lab_settings import (BATCH_SIZES, FIELD, FIELDS, KERNEL_SIZES, LEARNING_RATES, MAX_BLOCKS,  # noqa: F401
                           MAX_DENSE, OPTIMIZER_NAMES, SCHEDULES, SEED, TRAIN_SIZES, VALIDATION_FRACTION, Field,
                           LabSettings, architecture_summary, check, from_preset, from_query, options_summary,
                           settings_from_config, to_query, within_table)
from .models import ModelConfig, TrainOptions, count_params


# --- runs --------------------------------------------------------------------------------------

@dataclass
class RunRecord:
    """One finished (or loaded) training run of this session."""

    id: str
    key: str  # the model store key
    summary: str
    config: ModelConfig
    options: TrainOptions
    params: int
    seconds: float  # training time (of the original run, when loaded from the store)
    history: dict  # per-epoch loss, accuracy, val_loss, val_accuracy
    accuracy: float = float("nan")  # on the test split
    test_label: str = ""
    loaded: bool = False  # came from the store instead of being trained now
    extra: dict = field(default_factory=dict)

    def table_row(self) -> dict:
        val = self.history.get("val_accuracy") or [float("nan")]
        return {"run": self.id, "configuration": self.summary, "parameters": self.params,
                "training time (s)": round(self.seconds, 1), "validation accuracy": val[-1],
                "test accuracy": self.accuracy, "source": "store" if self.loaded else "trained"}


@dataclass
class RunOutcome:
    """What ``run_or_load`` produced: a model and its history, or a cancelled run with nothing kept."""

    model: object | None
    history: dict
    seconds: float
    cancelled: bool
    loaded: bool
    key: str
    epochs_done: int
    warning: str = ""  # e.g. a corrupt store entry that was discarded and retrained


def run_or_load(config: ModelConfig, options: TrainOptions, x: np.ndarray, y: np.ndarray, store, data_id: str,
                progress: Callable | None = None, train_fn: Callable | None = None,
                watch: Callable | None = None) -> RunOutcome:
    """Load the identical finished run from ``store``, or train and store it; a cancelled run is not stored.

    ``data_id`` is ``store.data_fingerprint(x, y)`` of the full training split (``options.n_train``
    selects the first images). ``progress`` and ``watch`` are passed to ``training.train``.
    """
    from .store import StoreError, model_key

    key = model_key(config, options, data_id)
    warning = ""
    try:
        hit = store.load(key)
    except StoreError as exc:
        warning = f"The stored copy of this run was unusable ({exc}); it was discarded and the model retrained."
        store.discard(key)
        hit = None
    if hit is not None:
        meta = hit.meta
        return RunOutcome(hit.model, meta.get("history", {}), float(meta.get("seconds", 0.0)), False, True, key,
                          int(meta.get("epochs_done", len(meta.get("history", {}).get("loss", [])))))
    if train_fn is None:
        from .training import train as train_fn
    extra = {"watch": watch} if watch else {}
    if options.continue_from:
        parent = store.load(options.continue_from)
        if parent is None:
            raise ValueError("the run to continue is no longer in the model store; train it again first")
        extra["initial_weights"] = parent.model.get_weights()
    result = train_fn(config, x, y, options, progress=progress, **extra)
    if result.cancelled:
        return RunOutcome(None, result.history, result.seconds, True, False, key, result.epochs_done, warning)
    store.save(key, result.model, {"config": config.to_dict(), "options": options.to_dict(), "data": data_id,
                                   "history": result.history, "seconds": round(result.seconds, 2),
                                   "epochs_done": result.epochs_done, "params": count_params(config)})
    return RunOutcome(result.model, result.history, result.seconds, False, False, key, result.epochs_done, warning)


def describe_stop(status) -> str:
    """Where an interrupted run was, e.g. ``epoch 3 of 9, batch 34 of 57``, from its last ``JobStatus``."""
    if status is None or not status.steps:
        return "before the first batch"
    return f"epoch {status.epoch + 1} of {status.epochs}, batch {status.batch + 1} of {status.steps}"


def format_seconds(s: float) -> str:
    if s != s or s == float("inf"):  # nan: no estimate yet
        return "…"
    s = int(round(s))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"
