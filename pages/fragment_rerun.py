"""Rerunning some of a page's keyed fragments from a widget's callback, and only when that is less than the
run already under way."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx


def rerun_fragments(*keys: str) -> None:
    """From a callback: rerun just the fragments ``keys`` of this page instead of the interaction's own run.

    Not when that run is the whole page (another widget outside any fragment changed too): it redraws these
    fragments anyway, and a fragment-only rerun asked for then would skip the whole page's run. Its layout
    would be lost, and with it the places outside the fragments they write into, if the page's run before
    was stopped short (Streamlit then raises StreamlitInvalidLayoutContextError in the fragment).

    A change that comes with a switch to another page finds no such fragment: then the page switch's own
    run is the right one."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not ctx.fragment_ids_this_run:
        return
    try:
        st.rerun(scope=list(keys))
    except StreamlitAPIException:
        return
