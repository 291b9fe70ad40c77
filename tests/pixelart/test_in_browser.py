"""In a real browser against the whole product (web server, a worker process, the
sandbox): from a finished video's detail page, make pixel art, watch its progress turn
into the frame grid and the animated preview without a reload, and use a frame as the
input image of a new video."""


import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from devtools.sandbox import run_sandbox
from tests.stack import running_stack
from tests.support import browser_log_in, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def quick_sandbox():
    with run_sandbox(seconds=1.0) as process:
        yield process


def test_pixel_art_from_the_detail_page_then_a_frame_and_the_last_frame_as_input_image(browser, quick_sandbox, tmp_path):
    with running_stack(tmp_path, quick_sandbox.url, workers=1, reconciler=True, STATUS_POLL_SECONDS=1, GALLERY_REFRESH_SECONDS=1) as stack:
        browser_log_in(browser, stack.url)

        browser.get(f"{stack.url}/generate/")
        browser.find_element(By.NAME, "prompt").send_keys("A robot waves from a rooftop")
        Select(browser.find_element(By.NAME, "model")).select_by_value("kling-2.1-t2v")
        # The page swaps in the model's own fields (htmx); a person presses Generate after that.
        WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda b: "Kling 2.1 Master" in b.find_element(By.ID, "model-fields").text
            and not b.find_elements(By.CSS_SELECTOR, ".htmx-request")
        )
        browser.find_element(By.CSS_SELECTOR, "form.generate button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/history/"))
        wait_for(
            lambda: browser.execute_script("var c = document.querySelector('article.card'); return c && c.dataset.status") == "completed",
            "the video completed",
            timeout=60,
        )
        item_id = browser.find_element(By.CSS_SELECTOR, "article.card").get_attribute("id").removeprefix("card-")

        browser.get(f"{stack.url}/history/{item_id}/")
        browser.find_element(By.LINK_TEXT, "Pixel art…").click()
        Select(browser.find_element(By.NAME, "size")).select_by_value("32")
        browser.find_element(By.NAME, "frames").send_keys("6")
        Select(browser.find_element(By.NAME, "palette")).select_by_value("pico-8")
        browser.find_element(By.CSS_SELECTOR, "form.pixel-art-form button[type=submit]").click()
        # Back on the detail page itself: the form's own address (.../pixel-art/) also
        # contains /history/<id>/, and a flag set there is lost when the redirect lands.
        WebDriverWait(browser, 10).until(lambda b: b.current_url.split("#")[0].endswith(f"/history/{item_id}/"))
        browser.execute_script("window.stillTheSamePage = true")

        wait_for(
            lambda: browser.execute_script("var a = document.querySelector('.pixel-art-result'); return a && a.dataset.status") == "completed",
            "the pixel art completed",
            timeout=60,
        )
        assert browser.execute_script("return window.stillTheSamePage") is True  # the section refreshed itself
        assert len(browser.find_elements(By.CSS_SELECTOR, ".frame-grid .frame")) == 6
        preview = browser.find_element(By.CSS_SELECTOR, ".pixel-art-result img.preview")
        wait_for(lambda: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", preview) == 32, "the GIF loaded", timeout=15)
        assert browser.find_element(By.ID, "pixel-art").get_attribute("hx-trigger") is None  # nothing left to watch

        browser.find_elements(By.LINK_TEXT, "Use as input image")[5].click()
        WebDriverWait(browser, 10).until(lambda b: "/generate/" in b.current_url)
        attached = browser.find_element(By.CSS_SELECTOR, ".attached-frame img")
        assert browser.execute_script("return arguments[0].naturalWidth", attached) == 256  # 32 px × 8, hard edges
        assert Select(browser.find_element(By.NAME, "model")).first_selected_option.get_attribute("value") == "kling-2.1-i2v"
        browser.find_element(By.NAME, "prompt").send_keys("The robot jumps")
        browser.find_element(By.CSS_SELECTOR, "form.generate button[type=submit]").click()
        WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/history/"))
        assert "on its way" in browser.page_source

        # The video's last frame: a worker takes it while a page waits, then Generate opens with it.
        browser.get(f"{stack.url}/history/{item_id}/")
        browser.find_element(By.XPATH, "//button[normalize-space()='Use the last frame as input image']").click()
        WebDriverWait(browser, 30).until(lambda b: "/generate/" in b.current_url)
        assert browser.current_url.endswith(f"/generate/?frame=video:{item_id}")
        attached = browser.find_element(By.CSS_SELECTOR, ".attached-frame img")
        assert browser.execute_script("return arguments[0].naturalWidth", attached) >= 256
