"""The frame every page shares (templates/base.html): a skip link to the content, a
favicon, the theme switch, a live region for status changes, a header menu that folds
on narrow screens, and the balance and plan for a signed-in user."""

import pytest
from django.test import Client

from generation.models import TaskStatus
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def test_every_page_has_a_skip_link_to_its_content_and_a_favicon(signed_in):
    for page_client, url in ((Client(), "/accounts/login/"), (signed_in, "/history/"), (signed_in, "/generate/")):
        html = page_client.get(url).content.decode()
        assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html, url
        assert 'rel="icon" href="/static/favicon.svg"' in html, url


def test_the_favicon_is_served_and_the_old_address_finds_it(client):
    assert client.get("/favicon.ico")["Location"] == "/static/favicon.svg"
    answer = client.get("/static/favicon.svg")
    assert answer.status_code == 200 and b"<svg" in b"".join(answer.streaming_content)


def test_the_theme_follows_the_system_with_a_remembered_switch(signed_in):
    html = signed_in.get("/history/").content.decode()
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "data-theme-switch" in html and "Theme: system" in html
    css = b"".join(signed_in.get("/static/css/app.css").streaming_content).decode()
    assert "@media (prefers-color-scheme: light)" in css and ":root[data-theme=light]" in css
    script = b"".join(signed_in.get("/static/js/theme.js").streaming_content).decode()
    assert 'localStorage.getItem("theme")' in script


def test_status_changes_have_a_polite_live_region(signed_in):
    html = signed_in.get("/history/").content.decode()
    assert '<div id="announcer" class="visually-hidden" aria-live="polite"' in html


def test_the_header_menu_is_a_labelled_disclosure(signed_in):
    html = signed_in.get("/history/").content.decode()
    assert 'data-menu-toggle aria-expanded="false" aria-controls="site-nav"' in html
    assert '<nav id="site-nav" class="site-nav" aria-label="Main">' in html


def test_a_visitor_is_offered_log_in_and_sign_up(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in html and 'class="header-credits"' not in html


def test_cards_give_progress_bars_and_buttons_accessible_names(signed_in, user):
    running = make_task(user=user, status=TaskStatus.IN_PROGRESS, progress=40, prompt="a heron at dusk")
    html = signed_in.get("/history/").content.decode()
    assert '<progress max="100" aria-label="Progress" value="40">' in html
    assert 'aria-describedby="prompt-' in html and '>a heron at dusk</p>' in html
