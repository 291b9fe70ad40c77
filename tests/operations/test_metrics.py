"""/metrics: the dashboard's figures in Prometheus' format, for allowed callers only."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from api.services import token_for
from credits.models import ProviderCost
from generation.models import ErrorKind, TaskStatus
from operations.models import AlertIncident, ProcessKind
from operations.services import record_heartbeat
from tests.factories import make_task, make_user

pytestmark = pytest.mark.django_db


def samples(response) -> dict:
    """(name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def labels(model="kling-3-t2v", **extra) -> tuple:
    return tuple(sorted({"provider": "fal", "group": "kling", "model": model, **extra}.items()))


def test_the_figures_are_those_of_the_rows(client):
    now = timezone.now()
    for wait in (10, 30):
        submitted = now - timedelta(minutes=5)
        make_task(status=TaskStatus.COMPLETED, created_at=submitted, submitted_at=submitted,
                  started_at=submitted + timedelta(seconds=wait), downloading_at=submitted + timedelta(seconds=wait + 60),
                  finished_at=submitted + timedelta(seconds=wait + 63))
    failed = make_task(status=TaskStatus.FAILED, error_kind=ErrorKind.RATE_LIMIT, finished_at=now)
    make_task(status=TaskStatus.PENDING, created_at=now - timedelta(minutes=2))
    ProviderCost.objects.create(task=failed, provider="fal", model_key="kling-3-t2v", endpoint=failed.endpoint,
                                seconds=5, usd_per_second=Decimal("0.1"), amount_usd=Decimal("0.5"))
    AlertIncident.objects.create(rule="backlog", value=9, threshold=5, summary="9 videos are not finished")
    record_heartbeat(kind=ProcessKind.WORKER, label="worker-1")

    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=")
    figures = samples(response)
    assert figures[("videoplanet_requests", labels())] == 4
    assert figures[("videoplanet_requests_finished", labels(outcome="completed"))] == 2
    assert figures[("videoplanet_requests_finished", labels(outcome="unfinished"))] == 1
    assert figures[("videoplanet_success_ratio", labels())] == pytest.approx(2 / 3)
    assert figures[("videoplanet_errors", labels(kind="rate_limit"))] == 1
    assert figures[("videoplanet_queue_wait_seconds", labels(quantile="0.5"))] == 20
    assert figures[("videoplanet_queue_wait_seconds", labels(quantile="0.95"))] == pytest.approx(29)
    assert figures[("videoplanet_processing_seconds", labels(quantile="0.5"))] == 60
    assert figures[("videoplanet_download_seconds", labels(quantile="0.95"))] == 3
    assert figures[("videoplanet_spend_usd_today", labels())] == 0.5
    assert figures[("videoplanet_backlog_tasks", ())] == 1
    assert 110 < figures[("videoplanet_oldest_waiting_seconds", ())] < 600
    assert figures[("videoplanet_alert_open", (("rule", "backlog"),))] == 1
    assert figures[("videoplanet_alert_open", (("rule", "spend"),))] == 0
    assert any(name == "videoplanet_heartbeat_age_seconds" for name, _ in figures)


def test_other_addresses_are_refused(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403 and b"videoplanet_" not in response.content


def test_allowed_networks_are_configurable(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics").status_code == 403  # 127.0.0.1 is no longer listed


def test_the_metrics_token_or_a_staff_api_token_opens_it_from_anywhere(client, settings, user, boss):
    far = {"REMOTE_ADDR": "203.0.113.9"}
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **far).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **far).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token_for(user=boss)}", **far).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {token_for(user=user)}", **far).status_code == 403


def test_no_metrics_token_means_no_bearer_access(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR="203.0.113.9").status_code == 403
