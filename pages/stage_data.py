import streamlit as st

st.title("stage_data")
st.info("This page is being built.")
