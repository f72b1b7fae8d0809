import streamlit as st

st.title("stage_conv")
st.info("This page is being built.")
