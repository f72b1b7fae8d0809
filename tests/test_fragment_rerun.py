"""``rerun_fragments`` asks for a fragment-only rerun only from a fragment's own run: a run of the whole page
whose callbacks ask for fragments still runs the whole page.

(Before, such a run skipped the page's body: whatever else changed in it was not laid out, and when the
page's previous run had been stopped short, the fragments found no place to write in and Streamlit raised
StreamlitInvalidLayoutContextError in the Draw page's sections. AppTest runs every interaction as a run of
the whole page, which is the case that broke.)"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def two_fragment_page() -> None:
    """The Draw page's shape: a control outside any fragment (no callback), a fragment whose widget's callback
    reruns it and a second fragment, which writes into a container laid out by the page."""
    import streamlit as st

    from pages.fragment_rerun import rerun_fragments

    st.session_state["page_runs"] = st.session_state.get("page_runs", 0) + 1
    source = st.radio("Input", ["Draw", "Upload"], key="source")
    st.markdown(f"page: {source}")
    slot = st.container()

    @st.fragment(key="live")
    def live() -> None:
        st.slider("Stroke", 0, 10, 0, key="stroke", on_change=rerun_fragments, args=("live", "sections"))

    @st.fragment(key="sections")
    def sections() -> None:
        slot.markdown(f"sections: stroke {st.session_state['stroke']}")

    live()
    sections()


def texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_a_whole_page_run_whose_callback_asks_for_fragments_still_runs_the_page():
    at = AppTest.from_function(two_fragment_page).run()
    assert texts(at) == ["page: Draw", "sections: stroke 0"] and at.session_state["page_runs"] == 1
    at.radio(key="source").set_value("Upload")
    at.slider(key="stroke").set_value(3)
    at.run()
    assert not at.exception
    assert at.session_state["page_runs"] == 2  # the page's body ran (it was skipped)
    assert texts(at) == ["page: Upload", "sections: stroke 3"]


def test_outside_a_script_run_it_does_nothing():
    from pages.fragment_rerun import rerun_fragments

    rerun_fragments("live")  # no run, no request: returns quietly
