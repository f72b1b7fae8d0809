"""The lab in a real Chromium: the filter-count slider, moved with the keyboard, changes the shapes in
the architecture table at once; a tiny real training run (fewest images, 1 epoch) completes and
shows a test accuracy."""

from __future__ import annotations

import random
import re

import pytest
from playwright.sync_api import expect

from browser_support import open_page

pytestmark = pytest.mark.browser

# A small architecture so a run takes seconds; the filter count and the units are drawn at random so
# that the run is new to the model store (an identical run would be loaded instead of trained).
_rng = random.Random()
FILTERS = _rng.randint(2, 12)
UNITS = _rng.randint(8, 200)
LAB = f"lab?b=1&f1={FILTERS}&k1=3&u={UNITS}&do=0&bs=128"


def settle(page, timeout_ms: int = 180_000) -> None:
    """Wait until the page's script run has finished (Streamlit marks it on the app's root element)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)


def layer_table(page) -> dict[str, dict[str, str]]:
    """The architecture table (st.dataframe draws on a canvas; its accessible <table> holds the text)."""
    table = page.get_by_test_id("stDataFrame").filter(has_text="how the count is made").first.locator("table")
    headers = [h.text_content() for h in table.locator("th").all()]
    rows = {}
    for tr in table.locator("tbody tr").all():
        cells = dict(zip(headers, (td.text_content() for td in tr.locator("td").all())))
        rows[cells["layer"]] = cells
    return rows


def count(text: str) -> int:
    """A count as the tables print it, with thousands separators: "214,116" → 214116."""
    return int(text.replace(",", ""))


def slider_thumb(page, label: str):
    return page.get_by_test_id("stSlider").filter(has_text=label).first.get_by_role("slider")


def metric(page, label: str):
    return page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)).get_by_test_id("stMetricValue")


@pytest.fixture(scope="module")
def lab(browser, app_url):
    page = open_page(browser, app_url, LAB)
    settle(page)
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
    page.wait_for_function(  # the grid fills its accessible table asynchronously, after the run ends
        """() => [...document.querySelectorAll('[data-testid="stDataFrame"] tbody tr')].some(
               tr => tr.cells[0] && tr.cells[0].textContent === 'conv1')""", timeout=60_000)
    yield page
    page.close()


def test_filter_slider_changes_the_shapes_in_the_table(lab):
    before = layer_table(lab)
    assert before["conv1"]["output shape"] == f"(None (batch), 28, 28, {FILTERS})"
    assert before["pool1"]["output shape"] == f"(None (batch), 14, 14, {FILTERS})"
    params_before = metric(lab, "Parameters").first.inner_text()

    thumb = slider_thumb(lab, "Filters")
    assert thumb.get_attribute("aria-valuetext") == str(FILTERS)
    thumb.focus()
    lab.keyboard.press("ArrowRight")
    n = FILTERS + 1
    lab.wait_for_function(  # the table's conv1 row shows the new filter count
        """shape => [...document.querySelectorAll('[data-testid="stDataFrame"] tbody tr')].some(
               tr => tr.cells[0].textContent === 'conv1' && tr.cells[2].textContent === shape)""",
        arg=f"(None (batch), 28, 28, {n})", timeout=120_000)
    settle(lab)

    after = layer_table(lab)
    assert after["conv1"]["output shape"] == f"(None (batch), 28, 28, {n})"
    assert after["pool1"]["output shape"] == f"(None (batch), 14, 14, {n})"
    assert after["flatten"]["output shape"] == f"(None (batch), {14 * 14 * n})"
    assert count(after["conv1"]["parameters"]) == (3 * 3 * 1 + 1) * n
    assert count(after["dense"]["parameters"]) == (14 * 14 * n + 1) * UNITS
    assert metric(lab, "Parameters").first.inner_text() != params_before
    assert f"f1={n}" in lab.url  # the address follows the settings
    # the untrained feature maps follow too: one tile per filter
    expect(lab.locator(".js-plotly-plot .gtitle").filter(has_text="conv1").first).to_contain_text(f"28×28×{n}")
    assert lab.get_by_test_id("stException").count() == 0


def test_a_tiny_training_run_completes_and_shows_accuracy(lab, screenshot_dir):
    for label in ("Training images", "Epochs"):  # both to their minimum: 500 images, 1 epoch
        thumb = slider_thumb(lab, label)
        thumb.focus()
        lab.keyboard.press("Home")
        settle(lab)
    expect(slider_thumb(lab, "Training images")).to_have_attribute("aria-valuetext", "500", timeout=60_000)
    expect(slider_thumb(lab, "Epochs")).to_have_attribute("aria-valuetext", "1", timeout=60_000)
    expect(lab.get_by_text("450 images train, 50 validate", exact=False)).to_be_visible(timeout=60_000)

    lab.get_by_role("button", name="Train", exact=True).click()
    accuracy = metric(lab, "Test accuracy")
    accuracy.wait_for(timeout=240_000)
    settle(lab)

    value = accuracy.inner_text()
    assert re.fullmatch(r"\d{1,3}\.\d\d%", value), value
    assert 0.0 < float(value.rstrip("%")) <= 100.0
    assert lab.get_by_role("heading", name="Results of run 1").is_visible()
    training_time = metric(lab, "Training time").inner_text()
    assert "from the store" not in training_time, (
        f"an identical run was already in the model store (f1={FILTERS + 1}, units={UNITS}): loaded, not trained")
    assert re.fullmatch(r"\d+\.\d s", training_time), training_time
    wrong, total = (int(v.replace(",", "")) for v in re.fullmatch(r"([\d,]+) of ([\d,]+)",
                                                                   metric(lab, "Misclassified").inner_text()).groups())
    assert 0 <= wrong <= total and abs((total - wrong) / total * 100 - float(value.rstrip("%"))) < 0.01
    assert lab.locator(".js-plotly-plot").filter(has_text="Confusion matrix").count() == 1
    assert lab.get_by_role("button", name="Train", exact=True).is_enabled()  # the controls are back
    assert lab.get_by_test_id("stException").count() == 0
    assert lab.get_by_test_id("stAlertContentError").count() == 0
    # Watch it learn: scrub the replay back to before training, then play it forward
    scrubber = slider_thumb(lab, "Moment of the training")
    scrubber.scroll_into_view_if_needed()
    assert scrubber.get_attribute("aria-valuetext") == "epoch 1"
    trained = metric(lab, "Held-out accuracy").inner_text()
    scrubber.focus()
    lab.keyboard.press("Home")
    expect(slider_thumb(lab, "Moment of the training")).to_have_attribute("aria-valuetext", "before training",
                                                                          timeout=60_000)
    expect(metric(lab, "Held-out accuracy")).not_to_have_text(trained, timeout=60_000)
    lab.get_by_role("button", name="Play").click()
    expect(slider_thumb(lab, "Moment of the training")).to_have_attribute("aria-valuetext", "epoch 1", timeout=60_000)
    expect(lab.get_by_role("button", name="Play")).to_be_visible(timeout=10_000)  # stopped at the end
    lab.screenshot(path=str(screenshot_dir / "lab_replay.png"))
    assert lab.get_by_test_id("stException").count() == 0
