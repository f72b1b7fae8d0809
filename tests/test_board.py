"""The class board on a real redis-server: posting, the newest-first list, the teacher's clear (key on
the page, none on the command line), Redis down, the page through AppTest, and no board without Redis."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnistviz import board, cli, lessons
from mnistviz.jobs import QueueUnavailable
from mnistviz.lab_session import LabSession
from mnistviz.experiments import RunRecord
from mnistviz.models import ConvSpec, DenseSpec, ModelConfig, TrainOptions

ROOT = Path(__file__).resolve().parents[1]


def entry(nickname: str, accuracy: float) -> board.BoardEntry:
    return board.BoardEntry(nickname, "1 conv block", {"f1": "8"}, accuracy, "held-out", 12.5, 12_345, 1.0)


@pytest.fixture
def on_redis(redis_server, monkeypatch):
    monkeypatch.setenv("MNISTVIZ_REDIS_URL", redis_server.url)
    monkeypatch.setenv("MNISTVIZ_TEACHER_KEY", "owl")
    return redis_server


def test_posts_come_back_newest_first_and_the_teacher_clears_them(on_redis):
    board.post(entry("  ada\x07 ", 0.91))
    board.post(entry("grace", 0.95))
    assert [(e.nickname, e.accuracy) for e in board.entries()] == [("grace", 0.95), ("ada", 0.91)]
    with pytest.raises(board.BoardError, match="nickname"):
        board.post(entry("   ", 0.5))
    with pytest.raises(board.BoardError, match="not the teacher key"):
        board.clear("cat")
    assert len(board.entries()) == 2
    assert board.clear("owl") == 2
    assert board.entries() == []
    board.post(entry("linus", 0.9))
    assert cli.main(["board", "--clear"]) == 0  # the server's command line needs no key
    assert board.entries() == []


def test_redis_down_is_one_sentence(on_redis):
    on_redis.stop()
    with pytest.raises(QueueUnavailable, match="cannot be reached"):
        board.entries()


def test_the_board_is_listed_only_with_redis(monkeypatch):
    monkeypatch.delenv("MNISTVIZ_REDIS_URL", raising=False)
    assert not board.available()
    paths = [lesson.path for lesson in lessons.available_lessons(redis=False)]
    assert "pages/board.py" not in paths and "pages/lab.py" in paths
    assert "pages/board.py" in [lesson.path for lesson in lessons.available_lessons(redis=True)]


def test_a_student_posts_a_run_from_the_page(on_redis):
    config = ModelConfig(convs=(ConvSpec(8, 3, "same"),), dense=(DenseSpec(16),))
    lab = LabSession()
    lab.runs.append(RunRecord("run 1", "key1", "1 conv block of 8 3×3 filters, dense 16", config,
                              TrainOptions(epochs=3), 25_370, 4.2, {}, 0.934, "held-out part of the sample"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lab"] = lab
    at.run()
    at.switch_page("pages/board.py").run()
    assert not at.exception
    assert any("Nobody has posted" in i.value for i in at.info)
    assert board.entries() == []  # nothing is posted without the click
    at.text_input(key="board_nickname").set_value("ada").run()
    at.button(key="board_post").click().run()
    assert any("Posted run 1 as ada" in s.value for s in at.success)
    (posted,) = board.entries()
    assert posted.nickname == "ada" and posted.accuracy == pytest.approx(0.934)
    assert posted.query["f1"] == "8" and posted.query["ep"] == "3"
    table = at.dataframe[0].value
    assert list(table["nickname"]) == ["ada"]
    at.text_input(key="board_teacher_key").set_value("owl").run()
    at.button(key="board_clear").click().run()
    assert any("Cleared 1 runs" in s.value for s in at.success)
