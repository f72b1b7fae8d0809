import streamlit as st

st.title("stage_reshape")
st.info("This page is being built.")
