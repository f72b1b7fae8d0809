import streamlit as st

st.title("stage_pool")
st.info("This page is being built.")
