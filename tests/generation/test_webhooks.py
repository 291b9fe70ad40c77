"""The webhook endpoint, through Django's test client with deliveries signed the way
fal signs them. Every delivery is recorded; only a valid one changes a task."""

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.urls import reverse

from generation.models import Task, TaskStatus, WebhookDelivery, WebhookOutcome
from tests.factories import make_task
from devtools.signing import sign
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db

VIDEO = {"video": {"url": "https://v3.fal.media/files/x/video.mp4", "content_type": "video/mp4"}}


def deliver(client, task, key, *, body=None, status="OK", request_id="req-1", token=None, task_id=None, headers=None, **payload):
    if body is None:
        body = json.dumps({"request_id": request_id, "status": status, "payload": payload.get("payload", VIDEO), "error": payload.get("error")}).encode()
    signed = sign(key, body, request_id=request_id) if key else {}
    signed.update(headers or {})
    query = {"task": str(task_id or task.pk), "token": token if token is not None else task.webhook_token}
    url = reverse("generation:fal-webhook") + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, data=body, content_type="application/json", headers=signed)


def test_a_valid_success_moves_the_task_to_downloading_and_queues_the_download(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    response = deliver(client, task, fal_key)
    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.status, task.result_url) == (TaskStatus.DOWNLOADING, VIDEO["video"]["url"])
    assert len(queued_tasks("download_result")) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.http_status, delivery.task_id, delivery.request_id) == (WebhookOutcome.APPLIED, 200, task.pk, "req-1")
    assert json.loads(delivery.body)["status"] == "OK"


def test_an_error_fails_the_task_with_a_readable_message(client, fal_key):
    task = make_task(status=TaskStatus.IN_PROGRESS, request_id="req-1")
    response = deliver(client, task, fal_key, status="ERROR", payload={"detail": []}, error="Prompt flagged by the safety checker")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert "Prompt flagged by the safety checker" in task.error_message
    assert "payload" in task.error_detail


def test_a_success_without_a_video_fails_the_task(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    deliver(client, task, fal_key, payload=None)
    task.refresh_from_db()
    assert (task.status, task.error_message) == (TaskStatus.FAILED, "The model finished but returned no video.")


def test_a_duplicate_delivery_answers_200_and_changes_nothing(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    first = deliver(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1", timestamp=int(time.time()) - 30))
    assert first.status_code == 200
    before = Task.objects.get(pk=task.pk)
    second = deliver(client, task, fal_key)  # fal's redelivery: signed again, later
    assert second.status_code == 200
    after = Task.objects.get(pk=task.pk)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)
    assert len(queued_tasks("download_result")) == 1
    assert [d.outcome for d in WebhookDelivery.objects.order_by("pk")] == [WebhookOutcome.APPLIED, WebhookOutcome.DUPLICATE]


@pytest.mark.parametrize("final", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_a_late_delivery_for_a_finished_task_is_recorded_and_ignored(client, fal_key, final):
    task = make_task(status=final, request_id="req-1")
    assert deliver(client, task, fal_key, status="ERROR", error="late").status_code == 200
    task.refresh_from_db()
    assert (task.status, task.error_message) == (final, "")
    assert WebhookDelivery.objects.get().outcome == WebhookOutcome.DUPLICATE


def test_a_webhook_that_overtakes_the_submit_answer_is_applied(client, fal_key):
    task = make_task(status=TaskStatus.SUBMITTING)
    assert deliver(client, task, fal_key).status_code == 200
    task.refresh_from_db()
    assert (task.status, task.request_id) == (TaskStatus.DOWNLOADING, "req-1")


def refused(client, task, response, status, outcome):
    assert response.status_code == status
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.http_status) == (outcome, status)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED
    assert queued_tasks("download_result") == []


def test_a_missing_signature_is_refused_with_401(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver(client, task, None), 401, WebhookOutcome.BAD_SIGNATURE)


def test_a_forged_signature_is_refused_with_401(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver(client, task, Ed25519PrivateKey.generate()), 401, WebhookOutcome.BAD_SIGNATURE)


def test_a_tampered_body_is_refused_with_401(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "ERROR", "error": "x"}).encode()
    headers = sign(fal_key, body.replace(b"ERROR", b"OK"), request_id="req-1")
    refused(client, task, deliver(client, task, None, body=body, headers=headers), 401, WebhookOutcome.BAD_SIGNATURE)


def test_a_stale_timestamp_is_refused_with_401(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    headers = sign(fal_key, body, request_id="req-1", timestamp=int(time.time()) - 600)
    refused(client, task, deliver(client, task, None, body=body, headers=headers), 401, WebhookOutcome.BAD_SIGNATURE)


def test_an_unknown_task_is_404(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver(client, task, fal_key, task_id="7d3f4b52-0000-4000-8000-000000000000"), 404, WebhookOutcome.UNKNOWN_TASK)


def test_a_garbage_task_id_is_404(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver(client, task, fal_key, task_id="not-a-uuid"), 404, WebhookOutcome.UNKNOWN_TASK)


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_a_wrong_or_missing_token_is_refused(client, fal_key, token):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver(client, task, fal_key, token=token), 403, WebhookOutcome.BAD_TOKEN)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"status": "MAYBE"}', b"\xff\xfe"])
def test_a_malformed_body_is_400(client, fal_key, body):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver(client, task, fal_key, body=body), 400, WebhookOutcome.MALFORMED)


def test_a_body_naming_another_request_than_the_signed_one_is_400(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-2", "status": "OK", "payload": VIDEO}).encode()
    refused(client, task, deliver(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1")), 400, WebhookOutcome.MALFORMED)


def test_an_oversized_body_is_413_and_recorded_truncated(client, fal_key, settings):
    settings.FAL_WEBHOOK_MAX_BYTES = 1000
    settings.FAL_WEBHOOK_PREVIEW_BYTES = 100
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO, "pad": "x" * 5000}).encode()
    refused(client, task, deliver(client, task, fal_key, body=body), 413, WebhookOutcome.TOO_LARGE)
    delivery = WebhookDelivery.objects.get()
    # Read up to one byte past the cap, and only a preview of that kept.
    assert (len(delivery.body), delivery.body_size) == (100, 1001)


def test_only_post_is_accepted(client):
    assert client.get(reverse("generation:fal-webhook")).status_code == 405


def test_the_token_is_not_stored_with_the_delivery(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    deliver(client, task, fal_key)
    assert task.webhook_token not in WebhookDelivery.objects.get().query_string


def test_a_replayed_delivery_is_refused_and_recorded(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    headers = sign(fal_key, body, request_id="req-1")
    assert deliver(client, task, None, body=body, headers=headers).status_code == 200
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.QUEUED)  # even if it could apply again
    replay = deliver(client, task, None, body=body, headers=headers)
    assert replay.status_code == 409
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED
    assert [d.outcome for d in WebhookDelivery.objects.order_by("pk")] == [WebhookOutcome.APPLIED, WebhookOutcome.REPLAY]


def test_fals_own_retry_with_a_fresh_signature_is_a_harmless_duplicate(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    deliver(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1", timestamp=int(time.time()) - 5))
    again = deliver(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1"))
    assert again.status_code == 200 and WebhookDelivery.objects.latest("pk").outcome == WebhookOutcome.DUPLICATE


def test_a_refused_delivery_does_not_block_the_genuine_one(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    headers = sign(fal_key, body, request_id="req-1")
    assert deliver(client, task, None, body=body, headers=headers, token="wrong").status_code == 403
    assert deliver(client, task, None, body=body, headers=headers).status_code == 200
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING
