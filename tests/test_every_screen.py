"""In a real browser (headless Chromium): a newcomer signs up and watches their first
video finish, paid from the welcome grant; and no page of the site scrolls sideways on
a 360 px wide phone, for a visitor or a signed-in user, with or without videos."""

import re
import time
from urllib.parse import urljoin, urlsplit

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.stack import running_stack
from tests.support import browser_log_in, card_statuses, generate, login, wait_for

pytestmark = pytest.mark.e2e

PHONE = {"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": True}
# Not pages of ours (Django's admin, the API's browsable pages), files, and actions.
SKIPPED = re.compile(r"^/(admin|api|static|media|webhooks|metrics|_sandbox)/|/(video|poster|input|logout)/|download|\.(zip|png|gif|json|mp4)$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def stack(sandbox_process, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("screens"), sandbox_process.url, workers=1, reconciler=True,
                       STATUS_POLL_SECONDS=1, GALLERY_REFRESH_SECONDS=1) as stack:
        yield stack


def card_status(browser) -> str:
    for _ in range(20):
        try:
            return browser.find_element(By.CSS_SELECTOR, "article.card").get_attribute("data-status")
        except StaleElementReferenceException:  # the poller swapped it while we looked
            time.sleep(0.05)
    raise AssertionError("the card kept being replaced")


def header_credits(browser) -> str:
    return " ".join(browser.find_element(By.CSS_SELECTOR, ".header-credits").get_attribute("textContent").split())


def test_sign_up_to_the_first_finished_video(browser, stack):
    browser.get(f"{stack.url}/accounts/login/")
    browser.find_element(By.LINK_TEXT, "sign up").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith("/accounts/signup/"))
    browser.find_element(By.NAME, "username").send_keys("newcomer")
    browser.find_element(By.NAME, "email").send_keys("newcomer@example.com")
    browser.find_element(By.NAME, "password1").send_keys("a-long-Passphrase-42")
    browser.find_element(By.NAME, "password2").send_keys("a-long-Passphrase-42")
    browser.find_element(By.CSS_SELECTOR, "form.account-form button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/history/"), "sign-up did not open the gallery")
    assert header_credits(browser) == "10 credits · Free"  # the welcome grant, before any video

    browser.get(f"{stack.url}/generate/")
    browser.find_element(By.NAME, "prompt").send_keys("A lighthouse in a storm")
    assert "23 of 1000 characters" in browser.find_element(By.ID, "prompt-count").text
    Select(browser.find_element(By.NAME, "model")).select_by_value("kling-3-t2v")
    browser.find_element(By.CSS_SELECTOR, "form.generate button[type=submit]").click()
    WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/history/"))
    wait_for(lambda: card_status(browser) in ("completed", "failed"), "the first video to finish", timeout=90)
    assert card_status(browser) == "completed"
    video = browser.find_element(By.CSS_SELECTOR, "article.card video")
    assert "A lighthouse in a storm" in video.get_attribute("aria-label")
    # Said to screen readers as it happened, without a reload.
    wait_for(lambda: "A lighthouse in a storm: finished" in browser.find_element(By.ID, "announcer").get_attribute("textContent"),
             "the finish to be announced", timeout=5)

    # The theme follows the system (headless Chromium prefers light) until switched; the
    # choice is remembered across pages.
    background = "return getComputedStyle(document.body).backgroundColor"
    light = browser.execute_script(background)
    switch = browser.find_element(By.CSS_SELECTOR, "[data-theme-switch]")
    switch.click()
    switch.click()
    assert switch.text == "Theme: dark"
    browser.get(f"{stack.url}/credits/")
    assert browser.execute_script("return document.documentElement.dataset.theme") == "dark"
    assert browser.execute_script(background) != light
    assert browser.find_element(By.CSS_SELECTOR, "[data-theme-switch]").text == "Theme: dark"

    assert header_credits(browser) == "9 credits · Free"
    rows = [" ".join(row.text.split()) for row in browser.find_elements(By.CSS_SELECTOR, "table.ledger tbody tr")]
    assert "Spent on a finished video" in rows[0] and "Held for a video" in rows[1] and "Welcome credits" in rows[-1]


def same_site_links(browser, base_url: str) -> list[str]:
    found = []
    for anchor in browser.find_elements(By.CSS_SELECTOR, "a[href]"):
        href = urljoin(browser.current_url, anchor.get_attribute("href"))
        if href.startswith(base_url):
            found.append(urlsplit(href)._replace(fragment="").geturl())
    return found


def sideways_overflow(browser) -> int:
    return browser.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")


def visit_every_page(browser, base_url: str, starts: list[str], *, limit: int = 40) -> dict[str, int]:
    """Every page reachable by links from `starts` (one of each shape: one detail page
    stands for all), with how many pixels it scrolls sideways."""
    seen_shapes, overflow, queue = set(), {}, [base_url + path for path in starts]
    while queue and len(overflow) < limit:
        url = queue.pop(0)
        path = urlsplit(url).path
        shape = UUID.sub("<id>", path) + ("?" if urlsplit(url).query else "")
        if shape in seen_shapes or SKIPPED.search(path):
            continue
        seen_shapes.add(shape)
        browser.get(url)
        WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")
        # The page is laid out for the phone's width (its viewport meta tag), not a desktop's.
        assert browser.execute_script("return document.documentElement.clientWidth") == PHONE["width"], url
        overflow[path + ("?" + urlsplit(url).query if urlsplit(url).query else "")] = sideways_overflow(browser)
        queue.extend(same_site_links(browser, base_url))
    return overflow


def test_no_page_scrolls_sideways_at_360_px(browser, stack):
    # Something in every state worth seeing: a finished video (its detail page, the pixel
    # art form), and a job of several cards still running.
    session = login(stack)
    assert generate(stack, session, "A red fox running through fresh snow at dawn, " * 8).url.endswith("/history/")
    wait_for(lambda: "completed" in card_statuses(stack, session).values(), "a finished video", timeout=90)

    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)

    visitor = visit_every_page(browser, stack.url, ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/no-such-page/"])
    assert len(visitor) >= 4
    assert {page: px for page, px in visitor.items() if px > 0} == {}

    browser_log_in(browser, stack.url)
    # The menu folds behind a button, and opens.
    toggle = browser.find_element(By.CSS_SELECTOR, "[data-menu-toggle]")
    assert toggle.is_displayed() and not browser.find_element(By.ID, "site-nav").is_displayed()
    toggle.click()
    assert browser.find_element(By.ID, "site-nav").is_displayed() and toggle.get_attribute("aria-expanded") == "true"
    assert sideways_overflow(browser) <= 0

    member = visit_every_page(browser, stack.url, ["/history/", "/generate/", "/credits/", "/accounts/password/change/", "/accounts/email/", "/no-such-page/"])
    assert any(UUID.search(page) for page in member), member  # a video's own page was among them
    assert {"/history/", "/generate/", "/credits/"} <= set(member)
    assert {page: px for page, px in member.items() if px > 0} == {}

    # The gallery's filters stay on the screen.
    browser.get(f"{stack.url}/history/")
    for control in browser.find_elements(By.CSS_SELECTOR, ".filters select, .filters button"):
        box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.right]", control)
        assert 0 <= box[0] and box[1] <= 360, box


def test_the_generate_form_previews_the_chosen_image(browser, stack, tmp_path):
    from PIL import Image

    picture = tmp_path / "harbour.png"
    Image.new("RGB", (320, 180), (40, 90, 160)).save(picture)
    browser_log_in(browser, stack.url)
    browser.get(f"{stack.url}/generate/")
    Select(browser.find_element(By.NAME, "model")).select_by_value("kling-2.1-i2v")
    # The model's fields are swapped in by htmx: an element found a moment ago may be
    # replaced, so each step looks again until it holds.
    patient = WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,))
    patient.until(lambda b: b.find_element(By.ID, "image-field").is_displayed(), "the image field to appear")
    patient.until(lambda b: b.find_element(By.ID, "id_image").send_keys(str(picture)) or True, "the image to be chosen")
    alt, width = patient.until(lambda b: b.execute_script(
        "const img = document.querySelector('#image-previews figure img');"
        "return img && img.complete && img.naturalWidth ? [img.alt, img.naturalWidth] : null;"
    ), "the preview to load")
    assert (alt, width) == ("Input image: harbour.png", 320)
