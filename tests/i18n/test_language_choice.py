"""Which language a page answers in: the browser's Accept-Language by default, the
header's switch (a cookie for a visitor, the account too for a signed-in user, applied
again at every login), and under /api/ the request's Accept-Language alone."""

import re

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import Account
from accounts.services import UnknownLanguage, choose_language
from tests.factories import make_user

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def switch(response) -> str:
    return re.search(r'<form[^>]*class="inline language-switch".*?</form>', response.content.decode(), re.S).group(0)


def test_the_browsers_language_decides_by_default(client):
    korean = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9,en;q=0.8")
    assert html_lang(korean) == "ko" and korean["Content-Language"] == "ko"
    assert "로그인" in korean.content.decode()
    english = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr,en;q=0.5")
    assert html_lang(english) == "en" and "Log in" in english.content.decode()
    assert html_lang(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ja")) == "en"  # not offered: the default


def test_the_header_switch_names_each_language_in_itself_and_marks_the_current_one(client):
    form = switch(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ko"))
    assert 'aria-label="언어"' in form  # its accessible name, in the page's language
    assert 'action="/i18n/setlang/"' in form and 'name="csrfmiddlewaretoken"' in form  # a plain form: no script needed
    assert re.search(r'value="ko" lang="ko" aria-current="true">한국어</button>', form)
    assert re.search(r'value="en" lang="en">English</button>', form)


def test_a_visitors_choice_is_a_cookie_that_outlasts_the_browsers_language(client):
    response = client.post(reverse("set_language"), {"language": "ko", "next": "/accounts/signup/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/"
    assert response.cookies[COOKIE].value == "ko"
    page = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE="en")
    assert html_lang(page) == "ko" and "회원가입" in page.content.decode()


def test_a_language_the_site_does_not_offer_changes_nothing(client, user):
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "xx", "next": "/history/"})
    assert response.status_code == 302 and COOKIE not in response.cookies
    assert not Account.objects.filter(user=user).exclude(language="").exists()
    with pytest.raises(UnknownLanguage):
        choose_language(user=user, language="xx")


def test_a_members_choice_is_stored_on_the_account_and_follows_them_to_a_new_browser(client, user, django_user_model):
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "ko", "next": "/history/"}, HTTP_ACCEPT_LANGUAGE="en")
    assert Account.objects.get(user=user).language == "ko"

    from django.test import Client

    elsewhere = Client()  # another browser: no cookie, an English browser
    elsewhere.force_login(user)
    first = elsewhere.get("/history/", HTTP_ACCEPT_LANGUAGE="en")
    assert html_lang(first) == "ko" and first.cookies[COOKIE].value == "ko"
    assert html_lang(elsewhere.get("/credits/", HTTP_ACCEPT_LANGUAGE="en")) == "ko"

    # Switching back there stores English on the account.
    elsewhere.post(reverse("set_language"), {"language": "en", "next": "/history/"})
    assert Account.objects.get(user=user).language == "en"
    assert html_lang(elsewhere.get("/history/", HTTP_ACCEPT_LANGUAGE="ko")) == "en"


def test_a_login_applies_the_accounts_language_over_the_visitors_cookie(client):
    member = make_user("minji")
    choose_language(user=member, language="ko")
    client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})  # chosen before logging in
    response = client.post("/accounts/login/", {"login": "minji", "password": "pw"})
    assert response.status_code == 302
    gallery = client.get(response["Location"])
    assert html_lang(gallery) == "ko" and gallery.cookies[COOKIE].value == "ko"


def test_without_a_choice_the_member_follows_the_browser(signed_in):
    assert html_lang(signed_in.get("/history/", HTTP_ACCEPT_LANGUAGE="ko")) == "ko"
    assert html_lang(signed_in.get("/history/", HTTP_ACCEPT_LANGUAGE="en")) == "en"


def test_the_javascript_catalog_speaks_the_pages_language(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    src = re.search(r'<script src="(/jsi18n/[^"]*)"', page).group(1)
    assert src.endswith("?language=ko")  # one URL per language: a cached catalog is never the other one
    catalog = client.get(src, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '"Select some videos first."' in catalog and "\\uc601\\uc0c1" in catalog or "영상" in catalog


def test_the_api_answers_in_the_requests_accept_language_only(client, user):
    choose_language(user=user, language="ko")
    client.force_login(user)  # the account says Korean, and so does the cookie after this page
    client.get("/history/")
    english = client.get("/api/no-such-thing/", HTTP_ACCEPT_LANGUAGE="en")
    korean = client.get("/api/no-such-thing/", HTTP_ACCEPT_LANGUAGE="ko")
    assert english.status_code == korean.status_code == 404
    assert english.json()["error"]["message"] != korean.json()["error"]["message"]
    assert english["Content-Language"] == "en" and korean["Content-Language"] == "ko"
    assert re.search(r"[가-힣]", korean.json()["error"]["message"])


def test_drf_own_errors_follow_the_accept_language(client):
    english = client.get("/api/me/", HTTP_ACCEPT_LANGUAGE="en")
    korean = client.get("/api/me/", HTTP_ACCEPT_LANGUAGE="ko")
    assert english.status_code == korean.status_code == 401
    assert "credentials were not provided" in english.content.decode()
    assert "자격 인증 데이터가 제공되지 않았습니다" in korean.content.decode()
