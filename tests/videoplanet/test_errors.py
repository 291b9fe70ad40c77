"""Error pages with DEBUG off: styled like the site, with a way back; under /api/ the
API's JSON shape."""

import pytest
from django.test import Client
from django.urls import path

pytestmark = pytest.mark.django_db


def broken(request):
    raise RuntimeError("a bug of ours")


urlpatterns = [path("broken/", broken), path("api/broken/", broken)]
handler500 = "videoplanet.errors.server_error"


@pytest.fixture
def debug_off(settings):
    settings.DEBUG = False


def test_an_unknown_page_is_a_styled_404_with_a_way_back(debug_off, signed_in):
    answer = signed_in.get("/no/such/page/")
    assert answer.status_code == 404
    html = answer.content.decode()
    assert "Page not found" in html and 'class="topbar"' in html
    assert 'href="/history/"' in html and "Back to your videos" in html


def test_a_visitor_gets_the_styled_404_too(debug_off, client):
    answer = client.get("/no/such/page/")
    assert answer.status_code == 404 and b"Back to your videos" in answer.content


def test_a_crash_is_a_styled_500_with_a_way_back(debug_off, settings, user):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    client.force_login(user)
    answer = client.get("/broken/")
    assert answer.status_code == 500
    html = answer.content.decode()
    assert "Something went wrong on our side" in html and 'href="/history/"' in html
    assert "/static/css/app.css" in html and "a bug of ours" not in html


def test_the_api_keeps_its_json_errors(debug_off, settings, signed_in):
    assert signed_in.get("/api/no-such-thing/").json()["error"]["code"] == "not_found"
    settings.ROOT_URLCONF = __name__
    answer = Client(raise_request_exception=False).get("/api/broken/")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
