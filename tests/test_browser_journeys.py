"""One person across pages in real Chromium: the input digit they chose (a drawing, a typed test index, a
random pick) follows them through the sidebar's navigation, the in-page "Next:" links and pages that do
not show the input picker."""

from __future__ import annotations

import random
import re

import pytest

from browser_support import (PROMPT, clear_canvas, draw, drawn_and_taken, drawn_answer, metric_value, open_folded,
                             open_page, vertical_stroke, wait_for_idle)

pytestmark = pytest.mark.browser


def heading(page) -> str:
    return page.locator("h1").first.inner_text(timeout=60_000)


def go(page, title: str, via: str = "nav") -> None:
    """Open the page titled ``title`` from the sidebar's navigation or the in-page "Next:" link, and wait
    until its own heading is up and its script run has finished."""
    before = heading(page)
    if via == "nav":
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    else:
        link = page.get_by_role("link", name=f"Next: {title}")
        link.scroll_into_view_if_needed()
        link.click()
    page.wait_for_function("old => { const h = document.querySelector('h1');"
                           " return h && h.innerText !== old; }", arg=before, timeout=60_000)
    wait_for_idle(page)


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def source_is_drawing(page) -> bool:
    return sidebar(page).get_by_role("radio", name="My drawing").is_checked()


def index_value(page) -> int:
    return int(sidebar(page).get_by_label("Index in the test split").input_value())


def caption(page) -> str:
    return sidebar(page).get_by_test_id("stImage").inner_text()


def draw_page_with_a_one(browser, app_url: str):
    """A fresh session on the Draw page with a 1 drawn and read (the page is closed if that fails)."""
    page = open_page(browser, app_url, "draw")
    try:
        draw(page, vertical_stroke())
        drawn_and_taken(page, "1", timeout=90_000)
    except Exception:
        page.close()
        raise
    return page


def test_the_chosen_input_follows_one_person_everywhere(browser, app_url, screenshot_dir):
    page = draw_page_with_a_one(browser, app_url)
    try:
        # 1. a drawing, then the walkthrough through the sidebar and through the Next links
        go(page, "3 · Convolution")
        assert source_is_drawing(page) and "your drawing" in caption(page)
        go(page, "4 · Max pooling")
        assert source_is_drawing(page), "the drawing was lost on the second page"
        go(page, "5 · Flatten", via="next")
        assert source_is_drawing(page), "the drawing was lost through a Next link"
        go(page, "Home")  # a page without the input picker
        go(page, "6 · Dense and dropout")
        assert source_is_drawing(page)

        # 2. a typed test index
        sidebar(page).get_by_text("Test digit", exact=True).click()
        wait_for_idle(page)
        box = sidebar(page).get_by_label("Index in the test split")
        box.fill("42")
        box.press("Enter")
        wait_for_idle(page)
        assert "test digit #42" in caption(page)
        go(page, "7 · Logits and softmax")
        assert index_value(page) == 42 and not source_is_drawing(page)
        go(page, "Draw a digit")
        go(page, "Overview")
        assert index_value(page) == 42
        go(page, "1 · Data", via="next")
        assert index_value(page) == 42, "the typed index was lost through a Next link"

        # 3. a random digit
        sidebar(page).get_by_role("button", name="Random digit").click()
        # "#42" as a whole number: a pick of #429 (as in one CI run) also contains "#42"
        page.wait_for_function("() => !/#42\\b/.test(document.querySelector('[data-testid=stSidebar] img')"
                               "?.closest('[data-testid=stImage]')?.innerText)", timeout=60_000)
        wait_for_idle(page)
        picked = index_value(page)
        assert f"test digit #{picked}" in caption(page)
        go(page, "2 · Reshape to NHWC", via="next")
        assert index_value(page) == picked
        go(page, "Convolution playground")
        go(page, "4 · Max pooling")
        assert index_value(page) == picked and f"test digit #{picked}" in caption(page)
    except Exception:
        page.screenshot(path=str(screenshot_dir / "journey-failure.png"), full_page=True)
        raise
    finally:
        page.close()


def start_training(browser, app_url, query: str):
    """A fresh session on the Lab that presses Train for a tiny model (fewest images, 1 epoch); its page."""
    page = open_page(browser, app_url, f"lab?{query}")
    wait_for_idle(page, timeout=180_000)
    for label in ("Training images", "Epochs"):
        thumb = page.get_by_test_id("stSlider").filter(has_text=label).first.get_by_role("slider")
        thumb.focus()
        page.keyboard.press("Home")
        wait_for_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()
    return page


def trained(page) -> int:
    """Wait for the lab run started on ``page`` to finish, make it the active model; its "Misclassified"
    count."""
    misclassified = metric_value(page, "Misclassified")
    misclassified.wait_for(timeout=300_000)
    wait_for_idle(page)
    assert page.get_by_role("heading", name="Results of run 1").is_visible()  # both sessions have a "run 1"
    wrong = int(re.fullmatch(r"([\d,]+) of [\d,]+", misclassified.inner_text()).group(1).replace(",", ""))
    page.get_by_role("button", name="Use this model everywhere").click()
    wait_for_idle(page)
    return wrong


def wrong_digits_listed(page) -> int:
    """Open the Overview, tick "Only digits the model gets wrong", and read how many the sidebar lists."""
    go(page, "Overview")
    sidebar(page).get_by_text("Only digits the model gets wrong").click()
    counted = sidebar(page).get_by_text(re.compile(r"test digits match"))
    counted.wait_for(timeout=120_000)
    wait_for_idle(page)
    return int(re.match(r"([\d,]+)", counted.inner_text()).group(1).replace(",", ""))


INK_JS = """() => { const c = document.querySelector('canvas.mv-board');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 128; return n; }"""  # bright pixels on the canvas


def test_the_drawing_and_a_folded_section_left_on_draw_are_there_on_return(browser, app_url):
    """Leave the Draw page with a 1 drawn and Nudge open: both are there on return (the canvas shows the 1
    again and the page reads it); cleared and closed, they stay so."""
    def is_open(page, title: str) -> bool:
        return page.locator('[data-testid="stExpander"] details', has_text=title).first.evaluate("d => d.open")

    page = draw_page_with_a_one(browser, app_url)
    try:
        ink = page.evaluate(INK_JS)
        assert ink > 1000
        open_folded(page, "Nudge it")
        go(page, "3 · Convolution")
        go(page, "Draw a digit")
        assert is_open(page, "Nudge it") and not is_open(page, "What made it decide")
        drawn_and_taken(page, "1")  # the canvas shows the drawing again, answers it and hands it to the page
        assert page.evaluate(INK_JS) == ink
        page.get_by_role("button", name="Nudge my latest drawing").wait_for(timeout=60_000)  # laid out, not just open
        open_folded(page, "Nudge it")  # closed again: it stays closed
        clear_canvas(page)  # cleared: it stays empty
        page.get_by_text(PROMPT).wait_for(timeout=60_000)
        wait_for_idle(page)
        go(page, "3 · Convolution")
        go(page, "Draw a digit")
        assert not is_open(page, "Nudge it")
        page.wait_for_timeout(1000)  # time for a picture that should not come back to load
        assert page.evaluate(INK_JS) == 0 and drawn_answer(page).inner_text() == ""
        assert page.get_by_text(PROMPT).is_visible()
        assert page.get_by_test_id("stException").count() == 0
    finally:
        page.close()


def tops_the_bars(page, digit: str) -> bool:
    """Whether ``digit``'s bar is (one of) the highest in the Draw page's probabilities (drawn by the page's own
    run; the bars show four decimals, so a tiny model's near-even answer may tie)."""
    titles = page.locator(".mv-proba [title^='digit ']").evaluate_all("els => els.map(e => e.title)")
    values = [float(t.split(": ")[1]) for t in titles]
    return values[int(digit)] == max(values)


def switching_models_re_asks_the_canvas(page) -> None:
    """On the Draw page with a lab model active: draw, then choose the default model in the sidebar. The canvas
    asks the new model again, and the page never shows a second answer beside the canvas's."""
    tag = "() => document.querySelector('.mv-draw').__mv.model"  # the model the canvas was last given
    go(page, "Draw a digit")
    open_folded(page, "What made it decide")  # its maps make the switch's full run slow, as a person has it
    draw(page, vertical_stroke())
    drawn_answer(page).wait_for(timeout=90_000)
    wait_for_idle(page)
    assert tops_the_bars(page, drawn_answer(page).inner_text())
    lab_tag = page.evaluate(tag)

    sidebar(page).get_by_test_id("stSelectbox").filter(has_text="Active model").click()
    page.get_by_role("option", name="Default (pretrained)").click()
    for _ in range(40):  # through the switch's run and the re-ask's: never a second answer on the page
        assert metric_value(page, "Prediction").count() == 0, "the page showed its answer beside the canvas's"
        page.wait_for_timeout(100)
    wait_for_idle(page)
    assert page.evaluate(tag) != lab_tag
    assert drawn_answer(page).is_visible() and drawn_answer(page).inner_text() == "1" and tops_the_bars(page, "1")
    assert metric_value(page, "Prediction").count() == 0
    assert page.get_by_test_id("stException").count() == 0


def test_two_sessions_with_their_own_run_1_see_their_own_mistakes(browser, app_url, screenshot_dir):
    """Two sessions each train a different "Lab run 1" and see its own mistakes; then b draws with its run 1
    and chooses the default model (one lab run serves both checks: a training costs ~10 s here)."""
    # Different architectures (and random sizes, so neither run is already in the model store).
    a_query = f"b=1&f1={random.randint(10, 16)}&k1=3&u={random.randint(40, 90)}&do=0&bs=128"
    b_query = f"b=1&f1=1&k1=3&u={random.randint(2, 4)}&do=0&bs=128"
    a = start_training(browser, app_url, a_query)
    try:
        b = start_training(browser, app_url, b_query)  # queued behind a's run (one training slot here)
        try:
            a_wrong = trained(a)
            assert wrong_digits_listed(a) == a_wrong  # a's scores are now in the shared cache
            b_wrong = trained(b)
            assert a_wrong != b_wrong, "the two runs must differ in their mistakes for this test to tell"
            assert wrong_digits_listed(b) == b_wrong
            chosen = sidebar(b).get_by_test_id("stSelectbox").first.evaluate(  # shown as text or in an <input>
                "e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
            assert "Lab run 1" in chosen
            switching_models_re_asks_the_canvas(b)  # b's tiny run 1 reads drawings its own way
        except Exception:
            b.screenshot(path=str(screenshot_dir / "journey-run-1-failure.png"), full_page=True)
            raise
        finally:
            b.close()
        go(a, "1 · Data", via="next")
        assert sidebar(a).get_by_text(re.compile(r"test digits match")).inner_text().startswith(f"{a_wrong:,} ")
    finally:
        a.close()
