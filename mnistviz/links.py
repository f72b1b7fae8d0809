"""Links that open a lesson: the URL fixes the page (its path), the input digit, the model and which
controls are hidden, as TensorFlow Playground's links hide controls. The lab adds its own settings
(``lab_settings`` URL keys) to the same query string.

    /stage_conv?digit=42&hide=input,nav      test digit #42, its picker and the page list hidden
    /overview?class=7&model=tf_tutorial       the first 7 of the test split, the TF-tutorial CNN

Unknown parameters and values that cannot be used are ignored, each with one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from .models import PRESETS

#: What ``hide=`` can hide: the sidebar's input picker, its model picker, and the page list.
HIDEABLE = {"input": "the input-digit picker", "model": "the model picker", "nav": "the list of pages"}
VIEW_KEYS = ("digit", "class", "model", "hide")


@dataclass(frozen=True)
class LinkView:
    """What a link fixes. ``digit``: an index into the test split; ``digit_class``: a true digit 0-9 (the
    first such test digit unless ``digit`` is given too); ``model``: a preset key; ``hide``: keys of
    ``HIDEABLE``."""

    digit: int | None = None
    digit_class: int | None = None
    model: str | None = None
    hide: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return self == LinkView()


def _last(raw) -> str:
    if isinstance(raw, (list, tuple)):
        return str(raw[-1]) if raw else ""
    return str(raw)


def read_view(params: dict, n_test: int, other_keys: frozenset[str] | set[str] = frozenset()) -> tuple[LinkView, list[str]]:
    """A ``LinkView`` from URL parameters, and one note per parameter ignored. ``n_test`` is the size of
    the test split; ``other_keys`` are parameters another part of the app reads (the lab's settings)."""
    notes: list[str] = []
    digit = digit_class = model = None
    hide: set[str] = set()
    for key, raw in params.items():
        text = _last(raw).strip()
        if key == "digit":
            if text.isdigit() and int(text) < n_test:
                digit = int(text)
            else:
                notes.append(f"digit={text}: not a test digit (0 to {n_test - 1:,}); ignored")
        elif key == "class":
            if text.isdigit() and int(text) <= 9:
                digit_class = int(text)
            else:
                notes.append(f"class={text}: not a digit 0-9; ignored")
        elif key == "model":
            if text in PRESETS:
                model = text
            else:
                notes.append(f"model={text}: not a preset ({', '.join(PRESETS)}); ignored")
        elif key == "hide":
            for part in filter(None, (p.strip() for p in text.split(","))):
                if part in HIDEABLE:
                    hide.add(part)
                else:
                    notes.append(f"hide={part}: nothing of that name can be hidden ({', '.join(HIDEABLE)}); ignored")
        elif key not in other_keys:
            notes.append(f"{key}={text}: not a parameter this app reads; ignored")
    return LinkView(digit, digit_class, model, frozenset(hide)), notes


def view_params(view: LinkView) -> dict[str, str]:
    """``view`` as URL parameters (only what it fixes)."""
    out: dict[str, str] = {}
    if view.digit is not None:
        out["digit"] = str(view.digit)
    if view.digit_class is not None:
        out["class"] = str(view.digit_class)
    if view.model is not None:
        out["model"] = view.model
    if view.hide:
        out["hide"] = ",".join(k for k in HIDEABLE if k in view.hide)
    return out


def app_base(url: str | None, page_paths: set[str] | frozenset[str]) -> str:
    """The app's base URL (ending in "/") from the browser's URL, whichever page it shows."""
    if not url:
        return "http://localhost:8501/"
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    if last in page_paths:
        path = path[: len(path) - len(last)].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}/"


def share_url(base: str, page_path: str, params: dict[str, str]) -> str:
    """``base`` + the page's URL path + the query string."""
    query = urlencode(params, safe=",")
    return base + page_path + (f"?{query}" if query else "")


def preset_in_store(key: str, data_source: str):
    """``(store key, config, model)`` of preset ``key`` trained with the lab's settings on ``data_source``
    (as ``python -m mnistviz prefetch`` trains it), or ``None`` if the model store does not hold it yet."""
    from .jobs import TrainRequest, training_data
    from .lab_settings import from_preset
    from .store import ModelStore, StoreError

    settings = from_preset(key)
    _, data_id = training_data(data_source)
    request = TrainRequest(settings.to_config(), settings.to_options(), data_source, data_id)
    try:
        stored = ModelStore().load(request.key)
    except StoreError:
        return None
    return None if stored is None else (request.key, request.config, stored.model)
