import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api(user) -> APIClient:
    """`user`'s client, signed in with their API token."""
    from api.services import token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=user)}")
    return client


def error_of(response) -> dict:
    """The error body, checked for the one shape every error has."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
