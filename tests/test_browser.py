"""In a real browser (headless Chromium): log in, press Generate, and watch the card go
from queued to processing to a playing video without reloading the page."""

import time

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from devtools.sandbox import run_sandbox
from tests.stack import running_stack
from tests.support import browser_log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def slow_enough_sandbox():
    with run_sandbox(seconds=5.0) as process:  # long enough to see each state on the card
        yield process


def card_status(browser) -> str:
    # The poller swaps the card out while we look: ask again for the fresh one.
    for _ in range(20):
        try:
            return browser.find_element(By.CSS_SELECTOR, "article.card").get_attribute("data-status")
        except StaleElementReferenceException:
            time.sleep(0.05)
    raise AssertionError("the card kept being replaced")


def test_the_card_updates_in_place_until_the_video_plays(browser, slow_enough_sandbox, tmp_path):
    with running_stack(tmp_path, slow_enough_sandbox.url, workers=1, reconciler=True, STATUS_POLL_SECONDS=1, GALLERY_REFRESH_SECONDS=1) as stack:
        browser_log_in(browser, stack.url)

        browser.get(f"{stack.url}/generate/")
        browser.find_element(By.NAME, "prompt").send_keys("A hot air balloon over green hills")
        Select(browser.find_element(By.NAME, "model")).select_by_value("kling-3-t2v")
        browser.find_element(By.CSS_SELECTOR, "form.generate button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/history/"))
        assert "on its way" in browser.page_source

        browser.execute_script("window.stillTheSamePage = true")
        seen = []
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            status = card_status(browser)
            if not seen or seen[-1] != status:
                seen.append(status)
            if status in ("completed", "failed"):
                break
            time.sleep(0.1)
        assert seen[-1] == "completed", seen
        assert "in_progress" in seen, seen  # progress was shown on the way
        assert browser.execute_script("return window.stillTheSamePage") is True  # no reload happened

        video = browser.find_element(By.CSS_SELECTOR, "article.card video")
        browser.execute_script("arguments[0].muted = true; arguments[0].play()", video)
        WebDriverWait(browser, 15).until(lambda b: b.execute_script("return arguments[0].currentTime", video) > 0.2)
        assert browser.execute_script("return arguments[0].videoWidth", video) == 480
        # Nothing left to watch: the poller is idle.
        assert browser.find_element(By.ID, "poller").get_attribute("hx-trigger") is None


# The gallery's own flows, in one stack for the three tests below: a project's slots
# filling live, the finish toast, and bulk delete.


@pytest.fixture(scope="module")
def gallery_stack(tmp_path_factory):
    with run_sandbox(seconds=3.0) as sandbox:
        with running_stack(
            tmp_path_factory.mktemp("gallery"), sandbox.url, workers=1, reconciler=True,
            STATUS_POLL_SECONDS=1, GALLERY_REFRESH_SECONDS=1,
        ) as stack:
            yield stack


def generate_in_browser(browser, stack, prompt: str, *, styles=(), project: str = "") -> None:
    browser.get(f"{stack.url}/generate/")
    browser.find_element(By.NAME, "prompt").send_keys(prompt)
    Select(browser.find_element(By.NAME, "model")).select_by_value("kling-3-t2v")
    for style in styles:
        browser.find_element(By.CSS_SELECTOR, f"input[name=styles][value={style}]").click()
    if project:
        Select(browser.find_element(By.NAME, "project")).select_by_visible_text(project)
    browser.find_element(By.CSS_SELECTOR, "form.generate button[type=submit]").click()


def statuses_on_page(browser) -> list[str]:
    for _ in range(20):
        try:
            return [card.get_attribute("data-status") for card in browser.find_elements(By.CSS_SELECTOR, "article.card")]
        except StaleElementReferenceException:
            time.sleep(0.05)
    raise AssertionError("the cards kept being replaced")


def test_a_projects_slots_fill_while_its_page_is_open(browser, gallery_stack):
    stack = gallery_stack
    browser_log_in(browser, stack.url)
    browser.get(f"{stack.url}/projects/")
    browser.find_element(By.NAME, "name").send_keys("Trailer")
    browser.find_element(By.CSS_SELECTOR, "form.project-new button").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_elements(By.CSS_SELECTOR, "h1") and b.find_element(By.CSS_SELECTOR, "h1").text == "Trailer")

    generate_in_browser(browser, stack, "A lighthouse in a storm", styles=("anime", "noir"), project="Trailer")
    WebDriverWait(browser, 10).until(lambda b: "/projects/" in b.current_url)
    browser.execute_script("window.stillTheSamePage = true")
    assert browser.find_element(By.ID, "project-running").is_displayed()  # the running job is shown
    assert len(browser.find_elements(By.CSS_SELECTOR, "ol.slots li.slot article.card")) == 2

    WebDriverWait(browser, 60).until(lambda b: statuses_on_page(b) == ["completed", "completed"])
    assert browser.execute_script("return window.stillTheSamePage") is True  # filled without a reload
    WebDriverWait(browser, 10).until(lambda b: not b.find_element(By.ID, "project-running").is_displayed())
    # A reload shows the same slots, in order.
    browser.refresh()
    assert [el.text for el in browser.find_elements(By.CSS_SELECTOR, ".slot-number")] == ["1", "2"]
    assert statuses_on_page(browser) == ["completed", "completed"]


def test_a_finished_video_is_announced_with_a_toast_and_in_the_title(browser, gallery_stack):
    stack = gallery_stack
    browser_log_in(browser, stack.url)
    generate_in_browser(browser, stack, "A paper plane over a city")
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/history/"))
    title = browser.title
    toast = WebDriverWait(browser, 60).until(
        lambda b: next((t for t in b.find_elements(By.CSS_SELECTOR, "#toasts .toast.ok")), None)
    )
    assert "A paper plane over a city" in toast.text and toast.get_attribute("role") == "status"
    assert browser.title == f"(1) {title}"


def test_bulk_delete_removes_the_selected_videos(browser, gallery_stack):
    stack = gallery_stack
    browser_log_in(browser, stack.url)
    generate_in_browser(browser, stack, "A snail on a leaf", styles=("anime", "noir"))
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/history/"))
    WebDriverWait(browser, 60).until(lambda b: all(s in ("completed", "failed") for s in statuses_on_page(b)))
    total = len(statuses_on_page(browser))
    assert total >= 2
    browser.find_element(By.CSS_SELECTOR, "[data-select-all]").click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-selected-count]").text.startswith(str(total))
    browser.find_element(By.CSS_SELECTOR, "#bulk button[value=delete]").click()
    WebDriverWait(browser, 5).until(lambda b: b.switch_to.alert).accept()
    WebDriverWait(browser, 20).until(lambda b: "videos deleted" in b.page_source)
    assert browser.find_elements(By.CSS_SELECTOR, "article.card") == []
    assert f"{total} videos deleted." in browser.page_source
