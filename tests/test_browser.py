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
