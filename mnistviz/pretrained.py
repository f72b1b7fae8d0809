"""The default model shipped inside the package, and how it was made.

It was trained only on the bundled sample by ``python -m mnistviz train --preset default --all-data
--out mnistviz/assets/default_model.keras`` (deterministic: fixed seed, CPU). Its metadata
(``default_model.json``) records the command, the options, the training time and checksum.
"""

from __future__ import annotations

import json
from pathlib import Path

from .models import PRESETS, ModelConfig
from .store import load_model_checked

ASSETS = Path(__file__).parent / "assets"
DEFAULT_MODEL_PATH = ASSETS / "default_model.keras"
DEFAULT_META_PATH = ASSETS / "default_model.json"


def default_meta() -> dict:
    """The shipped model's metadata (empty dict if missing)."""
    try:
        return json.loads(DEFAULT_META_PATH.read_text())
    except (OSError, ValueError):
        return {}


def default_config() -> ModelConfig:
    return PRESETS["default"].config


def load_default_model():
    """The shipped, pretrained default model (checksum-verified, ``safe_mode``)."""
    return load_model_checked(DEFAULT_MODEL_PATH, default_meta().get("sha256"))
