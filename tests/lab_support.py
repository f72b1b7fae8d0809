"""Helpers for the lab's AppTests: the lab's session object, and rerunning until its training has ended."""

from __future__ import annotations

import time


def lab_of(at):
    """The page's ``LabSession`` (``st.session_state["lab"]``)."""
    return at.session_state["lab"]


def until_done(at, timeout: float = 240.0):
    """Rerun, as the page's fragment does every second, until the followed training has ended."""
    deadline = time.monotonic() + timeout
    while lab_of(at).following:
        assert time.monotonic() < deadline, "the training did not end in time"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    return at
