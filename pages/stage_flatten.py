import streamlit as st

st.title("stage_flatten")
st.info("This page is being built.")
