"""The models one person can look through: the shipped default plus the ones they trained (or, later,
uploaded). One ``ModelShelf`` per browser session; nothing on it is ever shared with another session.

Every entry is known by a content key (a model-store key, or a file hash), never by a name that is
unique only inside one session, so caches shared between sessions can be keyed by it safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import ModelConfig

DEFAULT_KEY = "default"


@dataclass
class ShelfModel:
    """One model a person can make active. ``key`` is its content key; ``name`` what the page calls it
    (e.g. "run 2"); ``source`` is "lab" or "upload"."""

    key: str
    name: str
    label: str
    model: object
    config: ModelConfig | None
    source: str = "lab"
    meta: dict = field(default_factory=dict)


class ModelShelf:
    """This session's models besides the default, and which one is active (``None`` = the default).

    At most ``max_kept`` models are kept besides the active one: a model holds megabytes of weights and
    a compiled forward pass, and a classroom server holds hundreds of sessions."""

    def __init__(self, max_kept: int = 2):
        self.max_kept = max_kept
        self._models: dict[str, ShelfModel] = {}
        self.active_key: str | None = None

    def add(self, entry: ShelfModel) -> ShelfModel:
        """Put ``entry`` on the shelf (replacing one with the same key) and drop the oldest beyond the limit."""
        self._models.pop(entry.key, None)
        self._models[entry.key] = entry
        self.prune()
        return entry

    def get(self, key: str | None) -> ShelfModel | None:
        return self._models.get(key) if key else None

    def entries(self) -> list[ShelfModel]:
        """Oldest first."""
        return list(self._models.values())

    def use(self, key: str | None) -> None:
        """Make ``key`` the active model everywhere (``None`` or ``"default"``: the shipped default)."""
        if key in (None, DEFAULT_KEY) or key not in self._models:
            self.active_key = None
        else:
            self.active_key = key

    @property
    def active(self) -> ShelfModel | None:
        return self.get(self.active_key)

    def prune(self) -> None:
        keep = [k for k in self._models if k != self.active_key][-self.max_kept:] if self.max_kept else []
        for k in list(self._models):
            if k != self.active_key and k not in keep:
                del self._models[k]
