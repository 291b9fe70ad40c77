"""The health checks behind /readyz and manage.py fal_check."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from operations import health
from operations.models import Heartbeat, ProcessKind
from operations.services import record_heartbeat

pytestmark = pytest.mark.django_db


def alive():
    record_heartbeat(kind=ProcessKind.WORKER, label="worker-1")
    record_heartbeat(kind=ProcessKind.RECONCILER, label="reconciler")


def by_name(checks) -> dict:
    return {check.name: check for check in checks}


def test_ready_when_database_storage_workers_and_reconciler_are(settings):
    alive()
    checks = by_name(health.readiness())
    assert {name: check.ok for name, check in checks.items()} == {
        "database": True, "storage": True, "workers": True, "reconciler": True, "breakers": True,
    }
    assert checks["workers"].detail.startswith("1 alive") and not checks["breakers"].required
    assert list((settings.MEDIA_ROOT / "health").iterdir()) == []  # the probe file is removed again


def test_a_worker_silent_too_long_or_never_seen_is_not_alive(settings):
    checks = by_name(health.readiness())
    assert not checks["workers"].ok and "no task worker has ever reported" in checks["workers"].detail
    alive()
    Heartbeat.objects.filter(kind=ProcessKind.WORKER).update(
        beat_at=timezone.now() - timedelta(seconds=settings.HEALTH_WORKER_MAX_AGE_SECONDS + 5)
    )
    checks = by_name(health.readiness())
    assert not checks["workers"].ok and "more than" in checks["workers"].detail and checks["reconciler"].ok


def test_unwritable_storage_is_not_ready(settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.MEDIA_ROOT = blocker
    check = health.check_storage()
    assert not check.ok and "cannot write media storage" in check.detail


def test_heartbeats_keep_one_row_per_process():
    for _ in range(3):
        record_heartbeat(kind=ProcessKind.WORKER, label="worker-1")
    record_heartbeat(kind=ProcessKind.WORKER, label="worker-2")
    assert Heartbeat.objects.count() == 2


def test_the_webhook_keys_are_fetched_and_read(jwks_server, fal_key):
    check = health.check_jwks()
    assert check.ok and check.detail.startswith("1 Ed25519 key(s)") and jwks_server.fetches == 1
    jwks_server.keys = [{"kty": "RSA", "kid": "old"}]
    check = health.check_jwks()
    assert not check.ok and "no usable Ed25519 key" in check.detail


def test_an_unreachable_jwks_fails(settings):
    settings.FAL_JWKS_URL = "http://127.0.0.1:9/.well-known/jwks.json"
    assert not health.check_jwks().ok


@pytest.mark.parametrize(
    ("url", "production", "ok"),
    [
        ("https://videos.example.com", True, True),
        ("http://videos.example.com", True, False),
        ("https://127.0.0.1:8000", True, False),
        ("https://10.1.2.3", True, False),
        ("https://app.local", True, False),
        ("http://127.0.0.1:8000", False, True),
    ],
)
def test_the_public_url_must_be_https_and_public_in_production(settings, url, production, ok):
    settings.PUBLIC_BASE_URL, settings.PRODUCTION = url, production
    assert health.check_public_base_url().ok is ok


def test_production_needs_a_fal_key_and_not_the_sandbox(settings):
    settings.PRODUCTION, settings.FAL_USE_SANDBOX, settings.FAL_KEY = True, False, ""
    assert not health.check_fal_key().ok
    settings.FAL_KEY = "key-id:secret"
    assert health.check_fal_key().ok
    settings.FAL_USE_SANDBOX = True
    assert not health.check_fal_key().ok


def test_every_catalog_endpoint_is_known():
    check = health.check_catalog()
    assert check.ok and "every endpoint known" in check.detail


def test_fal_check_says_the_configuration_can_work(jwks_server, fal_key, capsys):
    alive()
    call_command("fal_check")
    out = capsys.readouterr().out
    assert "This configuration can work." in out and "FAIL" not in out
    assert "ok    webhook keys: 1 Ed25519 key(s)" in out


def test_fal_check_names_what_fails(jwks_server, capsys):
    with pytest.raises(CommandError, match="not ready: webhook keys, workers, reconciler"):
        call_command("fal_check")
    assert "FAIL  workers: no task worker has ever reported" in capsys.readouterr().out
