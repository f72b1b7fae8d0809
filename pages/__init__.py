"""The app's pages (one file each) and the few modules they share (``mnistviz.lessons.PAGE_HELPERS``).

Importing this package first makes sure the page runs under app.py (``through_app_py``): every page
imports from here before anything else of the app's, so a rerun this check raises interrupts only the
import of this (empty) package. Raised deeper, in the import of ``shared`` or ``components``, it would
leave those half made, and every session waiting for that same import (a class opening a fresh server's
link at once) would get the half-made module and fail with an ImportError."""

from pathlib import Path

import streamlit as st

_RERUN_ONCE = "_mnistviz_rerun_through_app_py"


def through_app_py() -> None:
    """A person whose first visit to a fresh server is a page link (e.g. /draw) would get Streamlit's
    legacy pages/-folder mode (this page alone, without app.py's navigation and sidebar): Streamlit
    decides that mode before app.py has ever called st.navigation, from the folder's name. Switch it
    off and rerun, so app.py runs and opens the requested page (every session whose run began in that
    mode, not only the first). (``AppTest`` resets that mode before every run, so after ``switch_page``
    its runs come here too.) Called on import of this package and by the getters every page calls
    (``shared.dataset``, ``active_model``, ``current_input``).

    Streamlit 1.67 has no supported switch for this (the folder must keep its agreed name); issue
    streamlit#9624 was closed as not reproducible without a pages/ folder. Checked by the browser
    fixture's ``warm_up`` (tests/conftest.py)."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    legacy = PagesManager.uses_pages_directory
    if not legacy and not st.session_state.get(_RERUN_ONCE) and (ctx := get_script_run_ctx(suppress_warning=True)):
        # A run that began in that mode before another session's first run switched it off: its page list
        # is the folder's files (this package's helpers among them), never app.py's navigation. Once per
        # session: AppTest's page registry looks like that on every run.
        legacy = any(Path(str(p.get("script_path", ""))).name == "shared.py"
                     for p in ctx.pages_manager.get_pages().values())
    if legacy:
        st.session_state[_RERUN_ONCE] = True
        PagesManager.uses_pages_directory = False
        st.rerun()


through_app_py()
