"""A person's own ``.keras`` model: checked, loaded in safe mode, and made to read the app's (N, 784) input.

``read_uploaded_model(raw)`` takes the file's bytes and returns an ``UploadedModel`` (the model, its
content key ``upload:<sha256>`` and what was done to it), or raises ``UploadError`` with one sentence a
person can act on. What it takes: any Keras model with input ``(None, 784)``, ``(None, 28, 28)`` or
``(None, 28, 28, 1)`` and 10 outputs, logits or probabilities.

Every page reads a model through ``activations`` with flat ``(N, 784)`` images, as the app's own
models take them. A model that wants ``(28, 28)`` or ``(28, 28, 1)`` images is therefore rebuilt with
a ``Reshape`` in front, reusing its own layers (so the walkthrough still sees each of them as a
stage); one that ends in logits gets a ``Softmax`` layer at the end, so its last stage is the
probabilities like every other model's.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from .data import INPUT_PIXELS, INPUT_SIDE

MAX_UPLOAD_MB = 50
MAX_PARAMS = int(os.environ.get("MNISTVIZ_UPLOAD_MAX_PARAMS", 5_000_000))
ACCEPTED_INPUTS = ((INPUT_PIXELS,), (INPUT_SIDE, INPUT_SIDE), (INPUT_SIDE, INPUT_SIDE, 1))


class UploadError(ValueError):
    """An uploaded model the app cannot use; the message is one sentence for the page."""


@dataclass
class UploadedModel:
    key: str  # "upload:<sha256 of the file>"
    model: object  # a keras.Model reading (N, 784)
    name: str  # the model's own name
    input_shape: tuple  # the input shape it was saved with, without the batch axis
    added: tuple[str, ...]  # what the app put around it: "reshape", "softmax"
    params: int


def _shape_text(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _load_in_safe_mode(raw: bytes):
    from .store import StoreError, load_model_checked

    if not zipfile.is_zipfile(BytesIO(raw)):
        raise UploadError("This file is not a Keras model: a .keras file is a zip archive, and this one is not "
                          "(or it was cut off while copying).")
    try:
        with zipfile.ZipFile(BytesIO(raw)) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UploadError(f"This .keras archive is damaged or truncated ({exc}).") from exc
    if broken is not None:
        raise UploadError(f"This .keras archive is damaged or truncated (its part {broken} does not read back).")
    if "config.json" not in names:
        raise UploadError("This zip file is not a Keras model: it has no config.json (save the model with "
                          "model.save('name.keras')).")
    with tempfile.TemporaryDirectory(prefix="mnistviz-upload-") as tmp:
        path = Path(tmp) / "uploaded.keras"
        path.write_bytes(raw)
        try:
            return load_model_checked(path)  # the app's one loader: Keras' safe mode
        except StoreError as exc:
            text = str(exc.__cause__ or exc)
            if "lambda" in text.lower() or "safe_mode" in text:
                raise UploadError("This model has a Lambda layer (Python code inside the file), which the app "
                                  "does not run, for safety (Keras' safe mode). Replace it with a built-in "
                                  "layer and save again.") from exc
            if "Could not locate" in text or "custom" in text.lower() or "Unknown" in text:
                raise UploadError("This model uses a custom layer or object that is not part of Keras, so it "
                                  "cannot be loaded here safely. Use Keras' built-in layers only.") from exc
            raise UploadError(f"Keras could not load this model ({type(exc.__cause__ or exc).__name__}: "
                              f"{text.splitlines()[0][:200] if text else 'no detail'}).") from exc


def _is_probability(out: np.ndarray) -> bool:
    return bool(np.all(out >= -1e-6) and np.all(out <= 1 + 1e-6) and np.allclose(out.sum(axis=1), 1, atol=1e-3))


def _probe_images(n: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((n, INPUT_PIXELS), dtype=np.float32)


def _as_flat_reader(model, input_shape: tuple):
    """``model`` rebuilt to read (N, 784): a ``Reshape`` in front, then copies of its layers in order (one
    chain) with their weights; ``None`` when the model is not one chain of layers. Copies, not the layers
    themselves: a layer called again would keep its first graph position as ``layer.output``, which is
    what ``activations`` reads every stage from."""
    import keras

    inputs = keras.Input((INPUT_PIXELS,), name="pixels")
    x = keras.layers.Reshape(input_shape, name="to_model_input")(inputs)
    try:
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            copy = type(layer).from_config(layer.get_config())
            x = copy(x)
            copy.set_weights(layer.get_weights())
        rebuilt = keras.Model(inputs, x, name=model.name)
    except Exception:  # noqa: BLE001 - a branching model cannot be replayed as a chain
        return None
    probe = _probe_images()
    original = np.asarray(model(probe.reshape((-1, *input_shape)), training=False))
    if not np.allclose(np.asarray(rebuilt(probe, training=False)), original, atol=1e-5):
        return None  # the layers in list order are not the model's own computation
    return rebuilt


def _with_softmax(model):
    import keras

    out = keras.layers.Softmax(name="softmax_added")(model.outputs[0])
    return keras.Model(model.inputs[0], out, name=model.name)


def read_uploaded_model(raw: bytes, max_params: int = MAX_PARAMS) -> UploadedModel:
    """Check and load an uploaded ``.keras`` file's bytes; ``UploadError`` (one sentence) when it cannot be used."""
    if len(raw) > MAX_UPLOAD_MB * 1024 * 1024:
        raise UploadError(f"This file is {len(raw) / 2**20:.0f} MB; the limit is {MAX_UPLOAD_MB} MB.")
    if not raw:
        raise UploadError("This file is empty.")
    model = _load_in_safe_mode(raw)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UploadError(f"This model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; the app "
                          "needs one input (the digit) and one output (10 scores).")
    input_shape = tuple(model.inputs[0].shape[1:])
    if input_shape not in ACCEPTED_INPUTS:
        raise UploadError(f"This model reads {_shape_text(model.inputs[0].shape)}; the app feeds (None, 784), "
                          "(None, 28, 28) or (None, 28, 28, 1), one 28×28 digit per row.")
    outputs = tuple(model.outputs[0].shape[1:])
    if outputs != (10,):
        raise UploadError(f"This model outputs {_shape_text(model.outputs[0].shape)}; the app needs 10 outputs, "
                          "one score per digit: (None, 10).")
    params = int(model.count_params())
    if params > max_params:
        raise UploadError(f"This model has {params:,} parameters; this server takes at most {max_params:,} "
                          f"({max_params * 4 / 2**20:.0f} MB of float32 weights) per uploaded model.")
    added: list[str] = []
    if input_shape != (INPUT_PIXELS,):
        rebuilt = _as_flat_reader(model, input_shape)
        if rebuilt is None:
            raise UploadError(f"This model reads {_shape_text(model.inputs[0].shape)} and branches (it is not "
                              "one chain of layers); the app can only put its reshape in front of a chain. Give "
                              "it a (None, 784) input with a Reshape layer inside, or make it a Sequential model.")
        model = rebuilt
        added.append("reshape")
    out = np.asarray(model(_probe_images(), training=False))
    if not np.all(np.isfinite(out)):
        raise UploadError("This model outputs NaN or infinite scores for ordinary images; its weights are broken.")
    if not _is_probability(out):
        model = _with_softmax(model)
        added.append("softmax")
    return UploadedModel(key=f"upload:{hashlib.sha256(raw).hexdigest()}", model=model, name=model.name,
                         input_shape=input_shape, added=tuple(added), params=params)


def describe(up: UploadedModel) -> str:
    """One line on what the app did to make the uploaded model readable."""
    parts = []
    if "reshape" in up.added:
        parts.append(f"a Reshape in front turns the app's 784 pixels into its {_shape_text(up.input_shape)} input")
    if "softmax" in up.added:
        parts.append("its 10 outputs are logits, so a Softmax layer is added at the end")
    return ("; ".join(parts) + ".") if parts else "It reads the app's 784 pixels and outputs probabilities as it is."
