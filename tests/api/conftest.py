import pytest
from rest_framework.test import APIClient

from tests.factories import fund, make_user


@pytest.fixture
def user(db):
    user = make_user("erin")
    fund(user, 50)
    return user


@pytest.fixture
def api(user) -> APIClient:
    """Erin's client, signed in with her API token."""
    from api.services import token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=user)}")
    return client


@pytest.fixture
def other_user(db):
    other = make_user("frank")
    fund(other, 50)
    return other


def error_of(response) -> dict:
    """The error body, checked for the one shape every error has."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
