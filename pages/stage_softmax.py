import streamlit as st

st.title("stage_softmax")
st.info("This page is being built.")
