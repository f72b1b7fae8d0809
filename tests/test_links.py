"""Links that open a lesson: the codec (mnistviz.links), and the app opened through such links with
AppTest (fixed digit, hidden picker, a preset from the model store, one note for what is ignored,
"Share this view")."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnistviz import jobs, lab_settings, links

ROOT = Path(__file__).resolve().parents[1]
LAB_KEYS = frozenset(f.url for f in lab_settings.FIELDS)


def test_read_view_takes_what_it_knows_and_says_what_it_ignores():
    view, notes = links.read_view({"digit": "42", "class": "7", "model": "mlp30", "hide": "input,nav",
                                   "ep": "3"}, 2000, LAB_KEYS)
    assert view == links.LinkView(42, 7, "mlp30", frozenset({"input", "nav"}))
    assert notes == []
    view, notes = links.read_view({"digit": "2000", "class": "x", "model": "resnet", "hide": "everything",
                                   "utm_source": "mail"}, 2000, LAB_KEYS)
    assert view.empty
    assert [n.split("=")[0] for n in notes] == ["digit", "class", "model", "hide", "utm_source"]
    assert "0 to 1,999" in notes[0]


def test_view_params_round_trip_and_urls():
    view = links.LinkView(5, None, "default", frozenset({"nav", "input"}))
    assert links.read_view(links.view_params(view), 10, LAB_KEYS) == (view, [])
    pages = frozenset({"stage_conv", "lab"})
    assert links.app_base("https://school.example/mnist/stage_conv", pages) == "https://school.example/mnist/"
    assert links.app_base("http://127.0.0.1:8501/", pages) == "http://127.0.0.1:8501/"
    assert links.app_base(None, pages) == "http://localhost:8501/"
    url = links.share_url("http://h/", "lab", {"ep": "3", **links.view_params(view)})
    assert url == "http://h/lab?ep=3&digit=5&model=default&hide=input,nav"


def open_app(query: dict, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    notes = [i.value for i in at.info if "This link's" in i.value]
    at.switch_page(page).run()
    assert not at.exception
    at.link_notes = notes
    return at


def input_title(at: AppTest) -> str:
    """The Data page's digit figure names the input, e.g. "test digit #42 (true label 8)"."""
    spec = at.get("plotly_chart")[0].proto.spec
    return spec[spec.index("The input: "):][:40]


def test_a_link_with_a_hidden_picker_fixes_the_digit_on_every_page():
    at = open_app({"digit": "42", "hide": "input"}, "pages/stage_data.py")
    assert at.link_notes == []
    assert "test digit #42 " in input_title(at)
    assert not at.sidebar.number_input  # the picker is hidden
    at.switch_page("pages/overview.py").run()
    at.switch_page("pages/stage_data.py").run()  # still fixed, still hidden, after the URL lost its parameters
    assert "test digit #42 " in input_title(at) and not at.sidebar.number_input
    assert at.sidebar.selectbox(key="model_choice")  # what was not hidden stays


def test_a_class_picks_its_first_digit_and_bad_parameters_get_one_note():
    at = open_app({"class": "7", "digit": "-3", "foo": "bar"}, "pages/stage_data.py")
    assert len(at.link_notes) == 1
    assert "digit=-3" in at.link_notes[0] and "foo=bar" in at.link_notes[0]
    assert "(true label 7)" in input_title(at)
    assert at.sidebar.selectbox(key="input_class").value == 7


def test_a_preset_opens_from_the_store_or_says_it_is_not_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTVIZ_CACHE", str(tmp_path / "store"))
    at = open_app({"model": "mlp30"}, "pages/overview.py")
    assert "not trained on this server yet" in at.link_notes[0]
    assert at.session_state["model_choice"] == "default"
    settings = lab_settings.from_preset("mlp30")
    _, data_id = jobs.training_data("auto")
    request = jobs.TrainRequest(settings.to_config(), settings.to_options(), "auto", data_id)
    assert jobs.execute(request, lambda s: True).state == "finished"  # what `mnistviz prefetch` does
    at = open_app({"model": "mlp30", "hide": "model"}, "pages/overview.py")
    assert at.link_notes == []
    assert at.session_state["model_shelf"].active_key == request.key
    assert [s.key for s in at.sidebar.selectbox] == ["input_class"]  # the model picker is hidden


def test_share_this_view_writes_the_link_of_what_is_on_screen():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("pages/stage_conv.py").run()
    at.sidebar.number_input(key="input_index").set_value(17).run()
    at.sidebar.checkbox(key="share_hide_nav").check().run()
    assert at.session_state["share_url"] == "http://localhost:8501/stage_conv?digit=17&hide=nav"
