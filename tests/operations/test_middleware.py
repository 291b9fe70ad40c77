"""/healthz and /readyz as load balancers and Kubernetes probe them."""

import pytest

from operations.models import ProcessKind
from operations.services import record_heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_answers_whatever_the_host_and_scheme(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.0.3.7:8000")
    assert (response.status_code, response.content, response["Cache-Control"]) == (200, b"ok\n", "no-store")
    assert client.head("/healthz/").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_readyz_is_503_until_a_worker_and_the_reconciler_report(client):
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["status"] == "not ready"
    assert response.json()["checks"]["workers"]["ok"] is False
    record_heartbeat(kind=ProcessKind.WORKER, label="worker")
    record_heartbeat(kind=ProcessKind.RECONCILER, label="reconciler")
    response = client.get("/readyz", HTTP_HOST="pod-ip.internal")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_readyz_details_are_for_allowed_callers_only(client):
    inside = client.get("/readyz").json()["checks"]["workers"]
    outside = client.get("/readyz", REMOTE_ADDR="203.0.113.9").json()["checks"]["workers"]
    assert inside == {"ok": False, "detail": "no task worker has ever reported"}
    assert outside == {"ok": False}
