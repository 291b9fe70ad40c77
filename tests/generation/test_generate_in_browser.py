"""In a real browser (headless Chromium): the Generate page's count-and-cost line and
its aspect-ratio choices follow the user's clicks, with no reload."""

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.factories import fund, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait(browser, condition):
    """Wait for `condition`; an element swapped out while it was read is read again."""
    return WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(condition)


def summary_becomes(browser, text: str) -> str:
    def shown(b):
        line = b.find_element(By.ID, "plan-summary").text
        return line if text in line else None

    return wait(browser, shown)


def test_the_line_and_the_ratios_follow_the_choices(browser, live_server):
    user = make_user("gina")
    fund(user, 30)
    browser.get(f"{live_server.url}/accounts/login/")
    browser.find_element(By.NAME, "username").send_keys("gina")
    browser.find_element(By.NAME, "password").send_keys("pw")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "/history/" in b.current_url)
    browser.get(f"{live_server.url}/generate/")
    browser.execute_script("window.stillTheSamePage = true")
    summary_becomes(browser, "1 style × 1 aspect ratio = 1 video · 1 credit")

    for style in ("anime", "noir", "cinematic"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=styles][value={style}]").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=aspect_ratios][value='16:9']").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=aspect_ratios][value='1:1']").click()
    assert "You have 30 credits" in summary_becomes(browser, "3 styles × 2 aspect ratios = 6 videos · 6 credits")

    assert not browser.find_element(By.ID, "id_count").is_displayed()  # only for batch
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=batch]").click()
    assert browser.find_element(By.ID, "id_count").is_displayed()
    Select(browser.find_element(By.ID, "id_count")).select_by_value("8")
    summary_becomes(browser, "8 videos over 3 styles × 2 aspect ratios (6 combinations, 2 repeated with new seeds) · 8 credits")

    Select(browser.find_element(By.NAME, "model")).select_by_value("veo-3.1")  # 16:9 and 9:16 only, 2 credits
    wait(browser, lambda b: [e.get_attribute("value") for e in b.find_elements(By.CSS_SELECTOR, "input[name=aspect_ratios]")] == ["16:9", "9:16"])
    summary_becomes(browser, "8 videos over 3 styles × 1 aspect ratio (3 combinations, 5 repeated with new seeds) · 16 credits")
    assert wait(browser, lambda b: b.find_element(By.CSS_SELECTOR, "input[name=aspect_ratios][value='16:9']").is_selected())
    assert browser.execute_script("return window.stillTheSamePage") is True
