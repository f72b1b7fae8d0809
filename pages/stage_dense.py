import streamlit as st

st.title("stage_dense")
st.info("This page is being built.")
