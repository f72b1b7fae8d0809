"""mnistviz: watch a convolutional network read handwritten digits. Entry point: `streamlit run app.py`."""

import streamlit as st

st.set_page_config(page_title="mnistviz: how a CNN reads digits", page_icon=":material/draw:", layout="wide")

PAGES = {
    "Start": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/draw.py", title="Draw a digit", icon=":material/draw:"),
    ],
    "Walkthrough": [
        st.Page("pages/overview.py", title="Overview", icon=":material/account_tree:"),
        st.Page("pages/stage_data.py", title="1 · Data", icon=":material/grid_on:"),
        st.Page("pages/stage_reshape.py", title="2 · Reshape to NHWC", icon=":material/view_in_ar:"),
        st.Page("pages/stage_conv.py", title="3 · Convolution", icon=":material/filter:"),
        st.Page("pages/stage_pool.py", title="4 · Max pooling", icon=":material/compress:"),
        st.Page("pages/stage_flatten.py", title="5 · Flatten", icon=":material/linear_scale:"),
        st.Page("pages/stage_dense.py", title="6 · Dense and dropout", icon=":material/hub:"),
        st.Page("pages/stage_softmax.py", title="7 · Logits and softmax", icon=":material/bar_chart:"),
    ],
    "Experiment": [
        st.Page("pages/lab.py", title="Lab: train your own", icon=":material/science:"),
        st.Page("pages/playground.py", title="Convolution playground", icon=":material/calculate:"),
    ],
}

st.navigation(PAGES).run()
