"""Staff re-process a recorded webhook delivery: the path a new delivery takes, its
signature aside only when it was verified or staff override it with a reason."""

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.urls import reverse

from audit.models import Action, AuditEntry, Result
from generation.models import Task, TaskStatus, WebhookDelivery, WebhookOutcome
from generation.webhooks import ReprocessRefused, process_delivery, record_delivery, reprocess_delivery
from tests.factories import make_task, make_user
from devtools.signing import sign
from tests.support import queued_tasks, run_admin_action

pytestmark = pytest.mark.django_db

VIDEO = {"video": {"url": "https://v3.fal.media/files/x/video.mp4", "content_type": "video/mp4"}}


def recorded(task, key, *, outcome=None, timestamp=None, request_id="req-1", status="OK", **payload) -> WebhookDelivery:
    """A delivery as the endpoint records it, run through the endpoint's own path;
    `outcome` then overwrites what that path concluded (e.g. a bug that made it fail)."""
    body = json.dumps({"request_id": request_id, "status": status, "payload": payload.get("payload", VIDEO)}).encode()
    headers = sign(key, body, request_id=request_id, timestamp=timestamp)
    headers["Content-Type"] = "application/json"
    query = {"task": str(task.pk), "token": task.webhook_token}
    delivery = record_delivery(headers=headers, body=body, query=query, remote_addr="127.0.0.1")
    process_delivery(delivery, body=body, headers=headers, query=query)
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
