"""The class board: when the app runs with Redis (the classroom setup), students may post a lab run under
a nickname; everyone sees the board's settings, accuracy and training time and can open any row's
settings in their own lab. Nothing is posted without the student's click; the teacher clears it.

Entries live in one Redis list (newest first, at most ``MAX_ENTRIES``), shared by every web process.
Clearing needs the teacher's key (``MNISTVIZ_TEACHER_KEY``) on the page, or
``python -m mnistviz board --clear`` on the server.
"""

from __future__ import annotations

import hmac
import json
import os
from dataclasses import asdict, dataclass

from .jobs import QueueUnavailable

KEY = "mnistviz:board"
MAX_ENTRIES = 500
MAX_NICKNAME = 24


class BoardError(ValueError):
    """A post or a clear that cannot be done; the message is one sentence for the page."""


@dataclass(frozen=True)
class BoardEntry:
    """One posted run. ``query`` is the lab's URL parameters for its settings (``lab_settings.to_query``)."""

    nickname: str
    summary: str  # architecture and training, in words
    query: dict
    accuracy: float
    test_label: str
    seconds: float
    params: int
    posted: float  # Unix time


def available() -> bool:
    """Whether the app runs with Redis (``MNISTVIZ_REDIS_URL``): without it there is no board."""
    return bool(os.environ.get("MNISTVIZ_REDIS_URL"))


def _client():
    from .jobs_rq import redis_url, shared_client

    return shared_client(redis_url())


def _redis_call(fn):
    import redis

    try:
        return fn(_client())
    except redis.RedisError as exc:
        raise QueueUnavailable("The class board's server (Redis) cannot be reached right now; "
                               "drawing and the walkthrough still work.") from exc


def clean_nickname(raw: str) -> str:
    """A nickname as shown: printable, trimmed, at most ``MAX_NICKNAME`` characters; ``BoardError`` if empty."""
    name = "".join(ch for ch in str(raw) if ch.isprintable()).strip()[:MAX_NICKNAME]
    if not name:
        raise BoardError("Choose a nickname first (it is all the board shows of you).")
    return name


def post(entry: BoardEntry) -> None:
    """Put ``entry`` at the top of the board (the oldest beyond ``MAX_ENTRIES`` go)."""
    entry = BoardEntry(**{**asdict(entry), "nickname": clean_nickname(entry.nickname)})
    payload = json.dumps(asdict(entry), separators=(",", ":"))

    def do(r):
        pipe = r.pipeline()
        pipe.lpush(KEY, payload)
        pipe.ltrim(KEY, 0, MAX_ENTRIES - 1)
        pipe.execute()

    _redis_call(do)


def entries() -> list[BoardEntry]:
    """Every entry, newest first (entries that cannot be read are skipped)."""
    out = []
    for raw in _redis_call(lambda r: r.lrange(KEY, 0, MAX_ENTRIES - 1)):
        try:
            out.append(BoardEntry(**json.loads(raw)))
        except (TypeError, ValueError):
            continue
    return out


def clear(teacher_key: str | None) -> int:
    """Empty the board; returns how many entries went. ``teacher_key`` must equal ``MNISTVIZ_TEACHER_KEY``
    (``None``: the server's own command line, which needs no key)."""
    if teacher_key is not None:
        expected = os.environ.get("MNISTVIZ_TEACHER_KEY", "")
        if not expected:
            raise BoardError("No teacher key is set on this server (MNISTVIZ_TEACHER_KEY); the teacher can clear "
                             "the board with `python -m mnistviz board --clear`.")
        if not hmac.compare_digest(teacher_key.encode(), expected.encode()):
            raise BoardError("That is not the teacher key.")

    def do(r):
        pipe = r.pipeline()
        pipe.llen(KEY)
        pipe.delete(KEY)
        return pipe.execute()[0]

    return int(_redis_call(do))
