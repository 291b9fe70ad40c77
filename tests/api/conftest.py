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


@pytest.fixture(autouse=True)
def _language_back_to_default():
    """A request in Korean activates Korean on the thread, and the test client leaves it
    active; the next test starts in the default language again."""
    yield
    from django.utils import translation

    translation.deactivate()

