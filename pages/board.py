"""The class board: post one of your lab runs under a nickname, see the class's runs side by side, open
anyone's settings in your own lab. Only with the classroom setup (Redis)."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from mnistviz import board, lab_settings
from mnistviz.jobs import QueueUnavailable

REFRESH_S = 5

st.title("Class board")
if not board.available():
    st.info("The class board needs the classroom setup (the app started with `MNISTVIZ_REDIS_URL`, e.g. by "
            "`python -m mnistviz serve`). Your lab runs stay on your own screen.")
    st.stop()
st.write("Post a run from your lab under a nickname and compare the class's choices: which settings reached "
         "the best accuracy, and at what cost in training time and parameters. Nothing of yours appears here "
         "unless you post it.")


def post(run, nickname: str) -> None:
    settings = lab_settings.settings_from_config(run.config, run.options)
    entry = board.BoardEntry(nickname, run.summary, lab_settings.to_query(settings), float(run.accuracy),
                             run.test_label, float(run.seconds), int(run.params), time.time())
    try:
        board.post(entry)
    except (board.BoardError, QueueUnavailable) as exc:
        st.session_state["board_note"] = ("warning", str(exc))
    else:
        st.session_state["board_note"] = ("success", f"Posted {run.id} as {board.clean_nickname(nickname)}.")


def clear(teacher_key: str) -> None:
    try:
        gone = board.clear(teacher_key)
    except (board.BoardError, QueueUnavailable) as exc:
        st.session_state["board_clear_note"] = ("warning", str(exc))
    else:
        st.session_state["board_clear_note"] = ("success", f"Cleared {gone} runs.")


# --- 1 · post --------------------------------------------------------------------------------------
st.header("1 · Post one of your runs")
lab = st.session_state.get("lab")
runs = list(lab.runs) if lab is not None else []
if not runs:
    st.info("You have no finished lab run yet.")
    st.page_link("pages/lab.py", label="Train one in the lab", icon=":material/science:")
else:
    labels = {r.id: f"{r.id}: {r.accuracy:.1%}, {r.summary}" for r in runs}
    left, right = st.columns([2, 1])
    run_id = left.selectbox("Run", list(labels), index=len(runs) - 1, format_func=labels.get, key="board_run")
    nickname = right.text_input("Nickname", max_chars=board.MAX_NICKNAME, key="board_nickname",
                                placeholder="what the class sees")
    st.button("Post to the class board", type="primary", icon=":material/publish:", key="board_post",
              on_click=post, args=(next(r for r in runs if r.id == run_id), nickname))
note = st.session_state.pop("board_note", None)
if note:
    getattr(st, note[0])(note[1])


# --- 2 · the board ----------------------------------------------------------------------------------
@st.fragment(run_every=REFRESH_S)
def show_board() -> None:
    st.header("2 · The class's runs")
    try:
        posted = board.entries()
    except QueueUnavailable as exc:
        st.warning(str(exc))
        return
    if not posted:
        st.info("Nobody has posted a run yet.")
        return
    table = pd.DataFrame({
        "nickname": [e.nickname for e in posted],
        "accuracy": [e.accuracy * 100 for e in posted],
        "training time (s)": [e.seconds for e in posted],
        "parameters": [e.params for e in posted],
        "settings": [e.summary for e in posted],
        "posted": [time.strftime("%H:%M", time.localtime(e.posted)) for e in posted],
    })
    st.caption(f"{len(posted)} runs, newest first (updated every {REFRESH_S} s). Accuracy is on each poster's "
               "held-out digits. Select a row to open its settings in your lab.")
    picked = st.dataframe(
        table, hide_index=True, on_select="rerun", selection_mode="single-row", key="board_table",
        column_config={"accuracy": st.column_config.NumberColumn(format="%.2f %%"),
                       "parameters": st.column_config.NumberColumn(format="localized"),
                       "training time (s)": st.column_config.NumberColumn(format="%.1f")})
    rows = picked.selection.rows if picked is not None else []
    if rows:
        entry = posted[rows[0]]
        st.page_link("pages/lab.py", label=f"Open {entry.nickname}'s settings in my lab", icon=":material/science:",
                     query_params=entry.query)


show_board()

# --- 3 · the teacher ----------------------------------------------------------------------------------
with st.expander("For the teacher: clear the board"):
    key = st.text_input("Teacher key", type="password", key="board_teacher_key",
                        help="The server's MNISTVIZ_TEACHER_KEY. On the server, `python -m mnistviz board --clear` "
                             "needs no key.")
    st.button("Clear the board", key="board_clear", icon=":material/delete:", on_click=clear, args=(key,))
    note = st.session_state.pop("board_clear_note", None)
    if note:
        getattr(st, note[0])(note[1])
