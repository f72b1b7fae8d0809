"""mnistviz: watch a convolutional network read handwritten digits. Entry point: `streamlit run app.py`.

A thin frame around the pages: the page list comes from ``mnistviz.lessons``; the sidebar every page
shares (input digit, active model, "Share this view") is drawn here, once per script run, before the
chosen page runs, less what a teacher's link hides (``mnistviz.links``).

`streamlit run app.py` first imports this file as the server's ASGI app (``st.App``), which adds one route
beside the app: ``POST /api/answer`` (``mnistviz.answer_route``), where the Draw page's canvas gets a
stroke's answer without waiting for the page to rerun. Then every script run executes ``main``.
"""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from mnistviz import answer_route, board, lessons


def main() -> None:
    """One script run: the page frame, the sidebar, then the chosen page."""
    st.set_page_config(page_title="mnistviz: how a CNN reads digits", page_icon=":material/draw:", layout="wide")

    from pages import components, draw_canvas, shared  # (after set_page_config: it may show a spinner)

    # On a phone's width Plotly's toolbar would sit on every chart's title; a tap still shows the values.
    st.html("<style>@media (max-width: 640px) { .js-plotly-plot .modebar-container { display: none !important; } }</style>")

    view = components.open_link()  # what a teacher's link fixes: input digit, model, hidden controls
    listed = lessons.available_lessons(redis=board.available())  # the class board only with Redis
    pages = [(lesson, st.Page(lesson.path, title=lesson.title, icon=lesson.icon, default=lesson.default))
             for lesson in listed]
    page = st.navigation({section: [p for lesson, p in pages if lesson.section == section]
                          for section in lessons.sections(listed)},
                         position="hidden" if "nav" in view.hide else "sidebar",
                         expanded=True)  # list every page: beyond ten Streamlit hides the rest behind "View more"
    lesson = next(lesson for lesson, p in pages if p is page)
    # A stroke answered by the route cost no run: the session takes the drawing up now (before the sidebar,
    # whose input digit may follow it)
    draw_canvas.catch_up()
    shared.sidebar(components.without_hidden(lesson, view))
    components.share_view(lesson, view)
    page.run()
    shared.freeze_after_run()


if get_script_run_ctx(suppress_warning=True) is None:  # imported as the server's app, not a script run
    app = st.App(__file__, routes=answer_route.routes())
else:
    main()
