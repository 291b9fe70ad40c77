"""GET /api/me/: balance and what is left of today's limit."""

import pytest

from credits.models import Tier
from generation.services import start_generation
from tests.factories import fund

pytestmark = pytest.mark.django_db


def test_me_shows_balance_and_quota(api, user, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 5, "pro": 50}
    start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir"])
    assert api.get("/api/me/").json() == {
        "username": "erin", "tier": "free", "balance": 48, "reserved": 2, "daily_limit": 5, "used_today": 2, "remaining_today": 3,
    }
    fund(user, 48, tier=Tier.PRO)
    assert api.get("/api/me/").json()["remaining_today"] == 48


def test_me_needs_a_login(client):
    assert client.get("/api/me/").status_code == 401
