"""mnistviz: watch a convolutional network read handwritten digits. Entry point: `streamlit run app.py`.

A thin frame around the pages: the page list comes from ``mnistviz.lessons``; the sidebar every page
shares (input digit, active model, "Share this view") is drawn here, once per script run, before the
chosen page runs, less what a teacher's link hides (``mnistviz.links``).
"""

import streamlit as st

from mnistviz import board, lessons

st.set_page_config(page_title="mnistviz: how a CNN reads digits", page_icon=":material/draw:", layout="wide")

from pages import components, shared  # noqa: E402  (after set_page_config: it may show a spinner)

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
shared.sidebar(components.without_hidden(lesson, view))
components.share_view(lesson, view)
page.run()
shared.freeze_after_run()
