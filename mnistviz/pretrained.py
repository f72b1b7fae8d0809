"""The default model shipped inside the package, and how it was made.

It was trained on the bundled sample's 8,000 training digits by ``python -m mnistviz train
--preset default --out mnistviz/assets/default_model.keras`` (fixed seed, CPU; about 40 s on two
cores), which also scores it on the 2,000 held-out digits. Its metadata (``default_model.json``)
records the command, the options, the training time, that held-out accuracy and the checksum.
"""

from __future__ import annotations

import json
from pathlib import Path

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


def load_default_model():
    """The shipped, pretrained default model (checksum-verified, ``safe_mode``)."""
    return load_model_checked(DEFAULT_MODEL_PATH, default_meta().get("sha256"))
