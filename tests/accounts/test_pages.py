"""The account pages (django-allauth, in the site's frame): log in with the username or
the email address, log out, change the password, reset it by email; the old login
URL names still work, and the pages say who is signed in."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return get_user_model().objects.create_user("member", "member@example.com", "old-Passphrase-1")


def test_the_login_page_is_styled_like_the_site_and_offers_sign_up_and_reset(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'class="topbar"' in page and 'class="panel narrow account-page"' in page
    assert 'href="/accounts/signup/' in page
    assert 'href="/accounts/password/reset/"' in page
    assert 'name="login"' in page and 'class="button primary"' in page


@pytest.mark.parametrize("login", ["member", "MEMBER", "member@example.com"])
def test_log_in_with_the_username_in_any_case_or_the_email(client, member, login):
    answer = client.post("/accounts/login/", {"login": login, "password": "old-Passphrase-1"})
    assert answer.status_code == 302 and answer["Location"] == "/history/"
    assert client.get("/history/").status_code == 200


def test_a_wrong_password_says_so_and_signs_nobody_in(client, member):
    answer = client.post("/accounts/login/", {"login": "member", "password": "nope"})
    assert answer.status_code == 200 and answer.context["form"].errors
    assert client.get("/history/").status_code == 302


def test_old_names_still_reverse_to_the_account_pages(client):
    assert reverse("login") == reverse("account_login") == "/accounts/login/"
    assert reverse("logout") == reverse("account_logout") == "/accounts/logout/"
    answer = client.get("/history/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/?next=/history/")


def test_log_out_is_a_post_and_ends_the_session(client, member):
    client.force_login(member)
    assert client.get("/history/").status_code == 200
    answer = client.post("/accounts/logout/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/"
    assert client.get("/history/").status_code == 302


def test_change_password_keeps_the_user_signed_in_and_the_old_one_stops_working(client, member):
    client.force_login(member)
    answer = client.post(
        "/accounts/password/change/",
        {"oldpassword": "old-Passphrase-1", "password1": "new-Passphrase-2", "password2": "new-Passphrase-2"},
    )
    assert answer.status_code == 302
    assert client.get("/history/").status_code == 200
    member.refresh_from_db()
    assert member.check_password("new-Passphrase-2") and not member.check_password("old-Passphrase-1")


def test_change_password_refuses_a_wrong_current_password(client, member):
    client.force_login(member)
    answer = client.post(
        "/accounts/password/change/", {"oldpassword": "guess", "password1": "new-Passphrase-2", "password2": "new-Passphrase-2"}
    )
    assert answer.status_code == 200 and "oldpassword" in answer.context["form"].errors
    member.refresh_from_db()
    assert member.check_password("old-Passphrase-1")


def test_reset_the_password_by_the_link_in_the_email(client, member):
    answer = client.post("/accounts/password/reset/", {"email": "member@example.com"})
    assert answer.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["member@example.com"]
    assert mail.outbox[0].subject.startswith("[VideoPlanet] ") and "Hello from VideoPlanet" in mail.outbox[0].body
    link = re.search(r"http://testserver(/accounts/password/reset/key/[^\s]+/)", mail.outbox[0].body).group(1)
    # allauth moves the key out of the address (into the session) before showing the form.
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "password1" in form_page.context["form"].fields
    form_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    answer = client.post(form_url, {"password1": "reset-Passphrase-3", "password2": "reset-Passphrase-3"})
    assert answer.status_code == 302
    member.refresh_from_db()
    assert member.check_password("reset-Passphrase-3")


def test_a_reset_for_an_unknown_address_sends_nothing_that_reveals_an_account(client):
    make_user("someone")
    answer = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert answer.status_code == 302
    # allauth tells the unknown address that it has no account here, and nobody else.
    assert all(message.to == ["nobody@example.com"] for message in mail.outbox)


def test_the_demo_style_short_password_still_logs_in(client):
    """Password rules apply when choosing one, not when logging in: demo / demo works."""
    get_user_model().objects.create_user("demo", password="demo")
    answer = client.post("/accounts/login/", {"login": "demo", "password": "demo"})
    assert answer.status_code == 302
