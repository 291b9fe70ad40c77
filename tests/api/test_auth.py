"""Getting a token, and using the API with a session (the browsable API)."""

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def test_a_token_for_a_username_and_password(user):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "erin", "password": "pw"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert client.post("/api/auth/token/", {"username": "erin", "password": "pw"}, format="json").json()["token"] == token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/me/").json()["username"] == "erin"


@pytest.mark.parametrize("body", [{"username": "erin", "password": "wrong"}, {"username": "erin"}, ["erin", "pw"]])
def test_bad_credentials_are_400(user, body):
    response = APIClient().post("/api/auth/token/", body, format="json")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid"


def test_token_requests_are_throttled(user, settings):
    settings.API_TOKEN_RATE = "2/minute"
    client = APIClient()
    codes = [client.post("/api/auth/token/", {"username": "erin", "password": "wrong"}, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]


def test_a_session_works_and_needs_the_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/jobs/").status_code == 200
    response = client.post("/api/jobs/", {"prompt": "a fox", "model": "kling-3-t2v", "duration": 5}, format="json")
    assert response.status_code == 403 and "CSRF" in error_of(response)["message"]


def test_the_browsable_api_renders(user, client):
    client.force_login(user)
    response = client.get("/api/jobs/", headers={"Accept": "text/html"})
    assert response.status_code == 200 and b"Job List" in response.content
