"""Small page parts the pages share: a stage's Keras line, a ``.npy`` download of an array, the person's
handwriting set."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnistviz import data as mdata
from mnistviz import models
from mnistviz.userdata import HandwritingSet


def keras_line(config: models.ModelConfig | None, name: str, fallback: str) -> str:
    """The line of Keras code that makes layer ``name`` of ``config`` (``models.layer_table``), or ``fallback``
    when the architecture is unknown or has no such layer."""
    if config is None:
        return fallback
    row = next((r for r in models.layer_table(config) if r.name == name), None)
    return row.keras if row else fallback


def npy_download(array: np.ndarray, what: str, file_stem: str, key: str) -> None:
    """A download button for ``array`` as a ``.npy`` file: "Download <what> <shape> as .npy"."""
    array = np.asarray(array)
    st.download_button(f"Download {what} {tuple(array.shape)} as .npy", mdata.npy_bytes(array),
                       file_name=f"{file_stem}.npy", mime="application/octet-stream", icon=":material/download:",
                       key=key)


def handwriting() -> HandwritingSet:
    """This session's labelled drawings (``st.session_state["handwriting"]``), created on first use."""
    if "handwriting" not in st.session_state:
        st.session_state["handwriting"] = HandwritingSet()
    return st.session_state["handwriting"]
