"""The webhook endpoint, through Django's test client with deliveries signed the way
fal signs them. Every delivery is recorded; only a valid one changes a task."""

import hashlib
import json
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import Action, AuditEntry, Result
from devtools.signing import sign
from generation import services as generation_services
from generation import webhooks
from generation.models import Task, TaskStatus, WebhookDelivery, WebhookOutcome
from generation.webhooks import ReprocessRefused, receive_delivery, reprocess_delivery
from tests.factories import make_task, make_user
from tests.support import VIDEO_RESULT as VIDEO
from tests.support import deliver_webhook, queued_tasks, run_admin_action

pytestmark = pytest.mark.django_db

def test_a_valid_success_moves_the_task_to_downloading_and_queues_the_download(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    response = deliver_webhook(client, task, fal_key)
    assert response.status_code == 200
    task.refresh_from_db()
    assert (task.status, task.result_url) == (TaskStatus.DOWNLOADING, VIDEO["video"]["url"])
    assert len(queued_tasks("download_result")) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.http_status, delivery.task_id, delivery.request_id) == (WebhookOutcome.APPLIED, 200, task.pk, "req-1")
    assert json.loads(delivery.body)["status"] == "OK"


def test_an_error_fails_the_task_with_a_readable_message(client, fal_key):
    task = make_task(status=TaskStatus.IN_PROGRESS, request_id="req-1")
    response = deliver_webhook(client, task, fal_key, status="ERROR", payload={"detail": []}, error="Prompt flagged by the safety checker")
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert "Prompt flagged by the safety checker" in task.error_message
    assert "payload" in task.error_detail


def test_a_success_without_a_video_fails_the_task(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    deliver_webhook(client, task, fal_key, payload=None)
    task.refresh_from_db()
    assert (task.status, task.error_message) == (TaskStatus.FAILED, "The model finished but returned no video.")


def test_a_duplicate_delivery_answers_200_and_changes_nothing(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    first = deliver_webhook(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1", timestamp=int(time.time()) - 30))
    assert first.status_code == 200
    before = Task.objects.get(pk=task.pk)
    second = deliver_webhook(client, task, fal_key)  # fal's redelivery: signed again, later
    assert second.status_code == 200
    after = Task.objects.get(pk=task.pk)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)
    assert len(queued_tasks("download_result")) == 1
    assert [d.outcome for d in WebhookDelivery.objects.order_by("pk")] == [WebhookOutcome.APPLIED, WebhookOutcome.DUPLICATE]


@pytest.mark.parametrize("final", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_a_late_delivery_for_a_finished_task_is_recorded_and_ignored(client, fal_key, final):
    task = make_task(status=final, request_id="req-1")
    assert deliver_webhook(client, task, fal_key, status="ERROR", error="late").status_code == 200
    task.refresh_from_db()
    assert (task.status, task.error_message) == (final, "")
    assert WebhookDelivery.objects.get().outcome == WebhookOutcome.DUPLICATE


def test_a_webhook_that_overtakes_the_submit_answer_is_applied(client, fal_key):
    task = make_task(status=TaskStatus.SUBMITTING)
    assert deliver_webhook(client, task, fal_key).status_code == 200
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
    refused(client, task, deliver_webhook(client, task, None), 401, WebhookOutcome.BAD_SIGNATURE)


def test_a_forged_signature_is_refused_with_401(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver_webhook(client, task, Ed25519PrivateKey.generate()), 401, WebhookOutcome.BAD_SIGNATURE)


def test_a_tampered_body_is_refused_with_401(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "ERROR", "error": "x"}).encode()
    headers = sign(fal_key, body.replace(b"ERROR", b"OK"), request_id="req-1")
    refused(client, task, deliver_webhook(client, task, None, body=body, headers=headers), 401, WebhookOutcome.BAD_SIGNATURE)


def test_a_stale_timestamp_is_refused_with_401(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    headers = sign(fal_key, body, request_id="req-1", timestamp=int(time.time()) - 600)
    refused(client, task, deliver_webhook(client, task, None, body=body, headers=headers), 401, WebhookOutcome.BAD_SIGNATURE)


def test_an_unknown_task_is_404(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver_webhook(client, task, fal_key, task_id="7d3f4b52-0000-4000-8000-000000000000"), 404, WebhookOutcome.UNKNOWN_TASK)


def test_a_garbage_task_id_is_404(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver_webhook(client, task, fal_key, task_id="not-a-uuid"), 404, WebhookOutcome.UNKNOWN_TASK)


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_a_wrong_or_missing_token_is_refused(client, fal_key, token):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver_webhook(client, task, fal_key, token=token), 403, WebhookOutcome.BAD_TOKEN)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"status": "MAYBE"}', b"\xff\xfe"])
def test_a_malformed_body_is_400(client, fal_key, body):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    refused(client, task, deliver_webhook(client, task, fal_key, body=body), 400, WebhookOutcome.MALFORMED)


def test_a_body_naming_another_request_than_the_signed_one_is_400(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-2", "status": "OK", "payload": VIDEO}).encode()
    refused(client, task, deliver_webhook(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1")), 400, WebhookOutcome.MALFORMED)


def test_an_oversized_body_is_413_and_recorded_truncated(client, fal_key, settings):
    settings.FAL_WEBHOOK_MAX_BYTES = 1000
    settings.FAL_WEBHOOK_PREVIEW_BYTES = 100
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO, "pad": "x" * 5000}).encode()
    refused(client, task, deliver_webhook(client, task, fal_key, body=body), 413, WebhookOutcome.TOO_LARGE)
    delivery = WebhookDelivery.objects.get()
    # Read up to one byte past the cap, and only a preview of that kept.
    assert (len(delivery.body), delivery.body_size) == (100, 1001)


def test_only_post_is_accepted(client):
    assert client.get(reverse("generation:fal-webhook")).status_code == 405


def test_the_token_is_not_stored_with_the_delivery(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    deliver_webhook(client, task, fal_key)
    assert task.webhook_token not in WebhookDelivery.objects.get().query_string


def test_a_replayed_delivery_is_refused_and_recorded(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    headers = sign(fal_key, body, request_id="req-1")
    assert deliver_webhook(client, task, None, body=body, headers=headers).status_code == 200
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.QUEUED)  # even if it could apply again
    replay = deliver_webhook(client, task, None, body=body, headers=headers)
    assert replay.status_code == 409
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED
    assert [d.outcome for d in WebhookDelivery.objects.order_by("pk")] == [WebhookOutcome.APPLIED, WebhookOutcome.REPLAY]


def test_fals_own_retry_with_a_fresh_signature_is_a_harmless_duplicate(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    deliver_webhook(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1", timestamp=int(time.time()) - 5))
    again = deliver_webhook(client, task, None, body=body, headers=sign(fal_key, body, request_id="req-1"))
    assert again.status_code == 200 and WebhookDelivery.objects.latest("pk").outcome == WebhookOutcome.DUPLICATE


def test_a_refused_delivery_does_not_block_the_genuine_one(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    body = json.dumps({"request_id": "req-1", "status": "OK", "payload": VIDEO}).encode()
    headers = sign(fal_key, body, request_id="req-1")
    assert deliver_webhook(client, task, None, body=body, headers=headers, token="wrong").status_code == 403
    assert deliver_webhook(client, task, None, body=body, headers=headers).status_code == 200
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING

# The webhook endpoint under attack: deliveries signed for someone else's request or
# account, replays in disguise, floods of junk, crashes, and bad input that PostgreSQL
# cannot store. Deliveries are signed the way fal signs them (tests/signing.py).

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


def test_behind_a_trusted_proxy_the_throttle_counts_each_sender_not_the_proxy(client, fal_key, settings):
    settings.FAL_WEBHOOK_REFUSED_RATE = "3/minute"
    settings.TRUSTED_PROXY_COUNT = 1
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    forged = b'{"status": "OK"}'
    proxy = "10.0.0.2"

    def from_sender(sender, forged_part=""):
        chain = f"{forged_part}, {sender}" if forged_part else sender
        return client.post(
            reverse("generation:fal-webhook") + f"?task={task.pk}&token=x", data=forged,
            content_type="application/json", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=chain,
        )

    # The attacker writes a new X-Forwarded-For entry every time: the proxy's own
    # entry (the right-most) is what counts, so they are throttled all the same...
    statuses = [from_sender("198.51.100.7", forged_part=f"192.0.2.{n}").status_code for n in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    # ...while everyone else behind the same proxy is not.
    assert from_sender("198.51.100.8").status_code == 401
    assert set(WebhookDelivery.objects.values_list("remote_addr", flat=True)) == {"198.51.100.7", "198.51.100.8"}


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


# Staff re-process a recorded webhook delivery: the path a new delivery takes, its
# signature aside only when it was verified or staff override it with a reason.


def recorded(task, key, *, outcome=None, timestamp=None, request_id="req-1", status="OK", **payload) -> WebhookDelivery:
    """A delivery as the endpoint records it, run through the endpoint's own path;
    `outcome` then overwrites what that path concluded (e.g. a bug that made it fail)."""
    body = json.dumps({"request_id": request_id, "status": status, "payload": payload.get("payload", VIDEO)}).encode()
    headers = sign(key, body, request_id=request_id, timestamp=timestamp)
    headers["Content-Type"] = "application/json"
    query = {"task": str(task.pk), "token": task.webhook_token}
    delivery, _ = receive_delivery(headers=headers, body=body, query=query, remote_addr="127.0.0.1")
    if outcome is not None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(outcome=outcome, http_status=500, detail="crashed")
    delivery.refresh_from_db()
    return delivery


def refused_by_a_bug(task, key, **kwargs) -> WebhookDelivery:
    """A valid delivery that a since-fixed bug made us refuse: the task never moved."""
    delivery = recorded(task, key, outcome=WebhookOutcome.ERROR, **kwargs)
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.QUEUED, result_url="")
    return delivery


def test_a_delivery_refused_by_a_bug_completes_its_task_when_reprocessed(fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    # Signed an hour ago: far outside the five-minute window, which is about new deliveries.
    delivery = refused_by_a_bug(task, fal_key, timestamp=int(time.time()) - 3600)
    downloads_before = len(queued_tasks("download_result"))

    done = reprocess_delivery(delivery)

    assert (done.before, done.answer.outcome, done.changed) == (WebhookOutcome.ERROR, WebhookOutcome.APPLIED, True)
    task.refresh_from_db()
    assert (task.status, task.result_url) == (TaskStatus.DOWNLOADING, VIDEO["video"]["url"])
    assert len(queued_tasks("download_result")) == downloads_before + 1
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.http_status) == (WebhookOutcome.APPLIED, 200)
    assert delivery.detail.startswith("re-processed by staff, was error:")


def test_reprocessing_an_applied_delivery_changes_nothing(fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    delivery = recorded(task, fal_key)
    assert delivery.outcome == WebhookOutcome.APPLIED
    before = Task.objects.get(pk=task.pk)
    record = (delivery.outcome, delivery.http_status, delivery.detail, delivery.processed_at)
    downloads = len(queued_tasks("download_result"))

    for _ in range(2):
        done = reprocess_delivery(delivery)
        assert (done.answer.outcome, done.changed) == (WebhookOutcome.APPLIED, False)

    after = Task.objects.get(pk=task.pk)
    assert (after.status, after.updated_at, after.result_url) == (before.status, before.updated_at, before.result_url)
    assert len(queued_tasks("download_result")) == downloads
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.http_status, delivery.detail, delivery.processed_at) == record


def test_an_unverified_signature_needs_the_staff_override(fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    stranger = Ed25519PrivateKey.generate()  # a key fal never published
    delivery = recorded(task, stranger)
    assert delivery.outcome == WebhookOutcome.BAD_SIGNATURE

    with pytest.raises(ReprocessRefused, match="signature was never verified"):
        reprocess_delivery(delivery)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED

    done = reprocess_delivery(delivery, signature_override=True)
    assert done.changed and Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING
    delivery.refresh_from_db()
    assert "signature overridden" in delivery.detail and delivery.outcome == WebhookOutcome.APPLIED


def test_a_delivery_for_another_request_is_refused_as_the_endpoint_would(fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    delivery = refused_by_a_bug(task, fal_key)
    Task.objects.filter(pk=task.pk).update(request_id="req-2")

    done = reprocess_delivery(delivery)

    assert (done.answer.status, done.answer.outcome, done.changed) == (409, WebhookOutcome.MISMATCHED, False)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED


def test_staff_reprocess_from_the_admin_with_a_reason_and_per_delivery_outcomes(client, fal_key):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    broken = refused_by_a_bug(make_task(status=TaskStatus.QUEUED, request_id="req-1"), fal_key)
    applied = recorded(make_task(status=TaskStatus.QUEUED, request_id="req-1"), fal_key)
    forged_task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    forged = recorded(forged_task, Ed25519PrivateKey.generate())
    url = reverse("admin:generation_webhookdelivery_changelist")

    unexplained = client.post(url, {"action": "reprocess_selected", "_selected_action": [broken.pk], "apply": "yes", "reason": " "})
    assert "Say why" in unexplained.content.decode()
    assert not AuditEntry.objects.exists() and Task.objects.get(pk=broken.task_id).status == TaskStatus.QUEUED

    page = run_admin_action(client, url, "reprocess_selected", [broken, applied, forged], reason="fixed the JSON bug").content.decode()

    assert "Was error; now applied" in page
    assert "Nothing changed" in page
    assert "Not re-processed: Its signature was never verified" in page
    entries = {e.target_id: e for e in AuditEntry.objects.filter(action=Action.REPROCESS_DELIVERY)}
    assert [entries[str(d.pk)].result for d in (broken, applied, forged)] == [Result.DONE, Result.UNCHANGED, Result.REFUSED]
    assert all((e.actor, e.reason, e.details) == (boss, "fixed the JSON bug", {"override_signature": False}) for e in entries.values())
    assert Task.objects.get(pk=forged_task.pk).status == TaskStatus.QUEUED

    run_admin_action(client, url, "reprocess_selected", [forged], reason="fal confirmed it is theirs", override_signature="on")
    assert Task.objects.get(pk=forged_task.pk).status == TaskStatus.DOWNLOADING
    last = AuditEntry.objects.filter(target_id=str(forged.pk)).first()
    assert (last.result, last.details, last.reason) == (Result.DONE, {"override_signature": True}, "fal confirmed it is theirs")


# --- what a delivery costs -----------------------------------------------------------


class Statements:
    """The SQL statements run, and the commits made, while it is open."""

    def __init__(self):
        self.sql, self.commits = [], 0

    def __enter__(self):
        self._wrapper = connection.execute_wrapper(self._record)
        self._wrapper.__enter__()
        self._commit = connection._commit
        connection._commit = self._count_commit
        return self

    def __exit__(self, *exc):
        del connection._commit
        self._wrapper.__exit__(*exc)

    def _count_commit(self, *args, **kwargs):
        self.commits += 1
        return self._commit(*args, **kwargs)

    def _record(self, execute, sql, params, many, context):
        self.sql.append(sql)
        if not connection.in_atomic_block:
            self.commits += 1  # autocommit: the statement is a transaction of its own
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement budget is PostgreSQL's")
def test_an_applied_delivery_is_one_transaction_of_at_most_six_statements(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    deliver_webhook(client, make_task(status=TaskStatus.QUEUED, request_id="req-1"), fal_key)  # the group's row exists
    with Statements() as run:
        assert deliver_webhook(client, task, fal_key).status_code == 200
    assert len(run.sql) <= 6, run.sql
    # The plain read of the task, then one transaction: the task locked once, only the
    # changed columns written, the download queued, the delivery written with its outcome.
    assert run.commits == 2, run.sql
    assert sum("FOR UPDATE" in sql for sql in run.sql) == 1
    assert not any(sql.startswith(("SAVEPOINT", "RELEASE")) for sql in run.sql)
    (update,) = [sql for sql in run.sql if sql.startswith('UPDATE "generation_task"')]
    assert '"arguments"' not in update and '"webhook_token"' not in update
    (write,) = [sql for sql in run.sql if "generation_webhookdelivery" in sql]
    assert write.startswith("INSERT")
    task.refresh_from_db()
    assert task.status == TaskStatus.DOWNLOADING
    assert WebhookDelivery.objects.get(task=task).outcome == WebhookOutcome.APPLIED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the statement budget is PostgreSQL's")
def test_a_duplicate_is_answered_from_one_read_without_trying_a_move(client, fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    deliver_webhook(client, task, fal_key)
    with Statements() as run:
        assert deliver_webhook(client, task, fal_key).status_code == 200
    assert len(run.sql) == 2, run.sql  # the task's read and the delivery's record
    assert not any("FOR UPDATE" in sql for sql in run.sql)
    assert WebhookDelivery.objects.latest("pk").outcome == WebhookOutcome.DUPLICATE


def test_a_crash_after_the_move_undoes_it_and_is_recorded(client, fal_key, monkeypatch):
    def broken_queue(task_id):
        raise RuntimeError("the queue is gone")

    monkeypatch.setattr(generation_services, "enqueue_download_result", broken_queue)
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    assert deliver_webhook(client, task, fal_key).status_code == 500
    # The move and the record commit together or not at all: the task did not move.
    assert Task.objects.get(pk=task.pk).status == TaskStatus.QUEUED
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.task_id) == (WebhookOutcome.ERROR, task.pk)
    assert "the queue is gone" in delivery.detail
    monkeypatch.undo()
    # fal's next try is applied.
    assert deliver_webhook(client, task, fal_key).status_code == 200
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DOWNLOADING


def test_the_database_takes_an_accepted_signature_once(fal_key):
    task = make_task(status=TaskStatus.QUEUED, request_id="req-1")
    first = recorded(task, fal_key)
    again = WebhookDelivery(signature=first.signature, outcome=WebhookOutcome.DUPLICATE, task=task)
    with pytest.raises(IntegrityError), transaction.atomic():
        again.save()
    # Refused ones may share it (a wrong token does not block the genuine delivery).
    WebhookDelivery.objects.create(signature=first.signature, outcome=WebhookOutcome.BAD_TOKEN)
