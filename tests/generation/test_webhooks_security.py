"""The webhook endpoint under attack: deliveries signed for someone else's request or
account, replays in disguise, floods of junk, crashes, and bad input that PostgreSQL
cannot store. Deliveries are signed the way fal signs them (tests/signing.py)."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from generation import webhooks
from generation.models import Task, TaskStatus, WebhookDelivery, WebhookOutcome
from tests.factories import make_task
from devtools.signing import sign

pytestmark = pytest.mark.django_db

VIDEO = {"video": {"url": "https://v3.fal.media/files/x/video.mp4", "content_type": "video/mp4"}}
ATTACKER_VIDEO = {"video": {"url": "https://v3.fal.media/files/attacker/video.mp4", "content_type": "video/mp4"}}


def post(client, task, body: bytes, headers: dict, *, token=None, task_id=None, addr="203.0.113.9"):
    query = {"task": str(task_id if task_id is not None else task.pk), "token": token if token is not None else task.webhook_token}
    url = reverse("generation:fal-webhook") + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, data=body, content_type="application/json", headers=headers, REMOTE_ADDR=addr)


def body_for(request_id="req-1", status="OK", **fields) -> bytes:
    return json.dumps({"request_id": request_id, "status": status, "payload": fields.pop("payload", VIDEO), **fields}).encode()


def test_a_delivery_signed_for_another_request_cannot_move_the_task(client, fal_key):
    # The attack: a genuine fal signature (fal signs every customer's
    # webhooks with the same keys) for the attacker's own request, sent with our token.
    task = make_task(status=TaskStatus.QUEUED, request_id="req-ours")
    body = body_for("req-attacker", payload=ATTACKER_VIDEO)
    answer = post(client, task, body, sign(fal_key, body, request_id="req-attacker", user_id="attacker"))
    assert answer.status_code == 409
    task.refresh_from_db()
    assert (task.status, task.result_url) == (TaskStatus.QUEUED, "")
    assert WebhookDelivery.objects.get().outcome == WebhookOutcome.MISMATCHED
    # The genuine one still gets through.
    body = body_for("req-ours")
    assert post(client, task, body, sign(fal_key, body, request_id="req-ours")).status_code == 200
    task.refresh_from_db()
    assert (task.status, task.result_url) == (TaskStatus.DOWNLOADING, VIDEO["video"]["url"])


def test_a_delivery_whose_gateway_request_id_is_the_tasks_is_accepted(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="gw-7")
    body = body_for("req-7", gateway_request_id="gw-7")
    assert post(client, task, body, sign(fal_key, body, request_id="req-7")).status_code == 200
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING


def test_a_configured_fal_account_must_have_signed_the_delivery(client, fal_key, settings):
    settings.FAL_ACCOUNT_USER_ID = "our-account"
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = body_for()
    answer = post(client, task, body, sign(fal_key, body, request_id="req-1", user_id="someone-else"))
    assert answer.status_code == 403 and Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED
    assert WebhookDelivery.objects.get().outcome == WebhookOutcome.MISMATCHED
    assert post(client, task, body, sign(fal_key, body, request_id="req-1", user_id="our-account")).status_code == 200


@pytest.mark.parametrize("disguise", [str.upper, lambda s: " ".join(s[i : i + 2] for i in range(0, len(s), 2))])
def test_a_replay_in_other_letters_is_still_a_replay(client, fal_key, disguise):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = body_for()
    headers = sign(fal_key, body, request_id="req-1")
    assert post(client, task, body, headers).status_code == 200
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.QUEUED)  # even if it could apply again
    replay = {**headers, "X-Fal-Webhook-Signature": disguise(headers["X-Fal-Webhook-Signature"])}
    assert post(client, task, body, replay).status_code == 409
    assert WebhookDelivery.objects.latest("pk").outcome == WebhookOutcome.REPLAY
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED


def test_refused_deliveries_keep_a_preview_size_and_digest_not_the_body(client, fal_key, settings):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    junk = [bytes([65 + n]) * (1024 * 1024) for n in range(10)]
    for body in junk:
        assert post(client, task, body, {}, addr=f"198.51.100.{len(body) % 200}").status_code == 401
    stored = list(WebhookDelivery.objects.order_by("pk"))
    assert len(stored) == 10
    for delivery, body in zip(stored, junk):
        assert len(delivery.body) == settings.FAL_WEBHOOK_PREVIEW_BYTES
        assert delivery.body_size == len(body) and delivery.body_sha256 == hashlib.sha256(body).hexdigest()
    # An accepted one is kept whole (staff may process it again).
    body = body_for(pad="x" * 10000)
    assert post(client, task, body, sign(fal_key, body, request_id="req-1")).status_code == 200
    assert WebhookDelivery.objects.latest("pk").body == body.decode()


def test_an_address_that_keeps_sending_refused_deliveries_is_throttled_unrecorded(client, fal_key, settings):
    settings.FAL_WEBHOOK_REFUSED_RATE = "3/minute"
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    forged = b'{"status": "OK"}'
    for _ in range(3):
        assert post(client, task, forged, {}, addr="192.0.2.50").status_code == 401
    for _ in range(5):
        assert post(client, task, forged, {}, addr="192.0.2.50").status_code == 429
    assert WebhookDelivery.objects.count() == 3  # the throttled ones were not stored
    assert post(client, task, forged, {}, addr="192.0.2.51").status_code == 401  # another address
    # fal's real delivery from the throttled address still goes through...
    body = body_for()
    headers = sign(fal_key, body, request_id="req-1")
    assert post(client, task, body, headers, addr="192.0.2.50").status_code == 200
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING
    # ...but only once: the same signature again is throttled like junk.
    assert post(client, task, body, headers, addr="192.0.2.50").status_code == 429


def test_a_crash_while_applying_is_recorded_and_answered_500_so_fal_retries(client, fal_key, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(webhooks, "apply_provider_outcome", explode)
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = body_for()
    answer = post(client, task, body, sign(fal_key, body, request_id="req-1"))
    assert answer.status_code == 500
    assert "Traceback" not in answer.content.decode()  # the sender is not told our insides
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.http_status, delivery.task_id) == (WebhookOutcome.ERROR, 500, task.pk)
    assert "Traceback" in delivery.detail and "the database went away" in delivery.detail
    assert delivery.body == body.decode() and delivery.processed_at is not None


def test_a_nul_byte_in_the_query_is_a_clear_refusal(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = body_for()
    assert post(client, task, body, sign(fal_key, body), task_id="%00").status_code == 404
    assert post(client, task, body, sign(fal_key, body), token="%00abc").status_code == 403
    assert [d.http_status for d in WebhookDelivery.objects.order_by("pk")] == [404, 403]
    assert "\x00" not in WebhookDelivery.objects.latest("pk").query_string


def test_a_nul_byte_in_an_unsigned_body_is_recorded_and_refused(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    assert post(client, task, b'{"status": "OK\x00"}', {}).status_code == 401
    assert "\x00" not in WebhookDelivery.objects.get().body


def test_a_nul_in_a_signed_error_message_fails_the_task_readably(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = body_for(status="ERROR", payload=None, error="bad\u0000input")
    assert post(client, task, body, sign(fal_key, body)).status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and "bad" in task.error_message and "\x00" not in task.error_message


def test_a_raw_nul_byte_in_a_signed_body_is_malformed(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = b'{"request_id": "req-1", "status": "ERROR", "error": "a\x00b"}'
    assert post(client, task, body, sign(fal_key, body)).status_code == 400
    assert WebhookDelivery.objects.get().outcome == WebhookOutcome.MALFORMED


def test_a_400_digit_timestamp_is_refused_as_unsigned(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = body_for()
    headers = sign(fal_key, body, timestamp="9" * 400)
    assert post(client, task, body, headers).status_code == 401
    assert "timestamp" in WebhookDelivery.objects.get().detail


def test_an_error_that_is_an_object_fails_the_task_with_its_text(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    error = {"detail": [{"loc": ["body", "prompt"], "msg": "too long"}]}
    body = body_for(status="ERROR", payload=None, error=error)
    assert post(client, task, body, sign(fal_key, body)).status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED and "too long" in task.error_message


def test_deeply_nested_signed_json_is_malformed_not_a_crash(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = b"[" * 100000 + b"]" * 100000
    assert post(client, task, body, sign(fal_key, body)).status_code == 400


def test_prune_deliveries_removes_only_those_past_the_retention(client, settings):
    settings.FAL_WEBHOOK_RETENTION_DAYS = 30
    now = timezone.now()
    old = [WebhookDelivery.objects.create(received_at=now - timedelta(days=31, minutes=n)) for n in range(3)]
    kept = WebhookDelivery.objects.create(received_at=now - timedelta(days=29))
    call_command("prune_deliveries")
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not WebhookDelivery.objects.filter(pk__in=[d.pk for d in old]).exists()
