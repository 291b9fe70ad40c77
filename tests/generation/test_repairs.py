"""Staff re-download of a completed video: from its result URL, else through the
request id; the file and poster are replaced together and nobody is charged again."""

import hashlib
import uuid
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from audit.models import Action, AuditEntry, Result
from credits.models import LedgerEntry, Wallet
from generation.downloads import download_result
from generation.models import Task, TaskStatus
from generation.reconcile import refresh_from_provider
from generation.repairs import RedownloadOutcome, RepairRefused, queue_redownload, redownload_video
from generation.services import start_generation
from generation.submission import submit_task
from history.models import HistoryItem
from tests.factories import fund, make_task, make_user
from tests.support import queued_tasks, run_admin_action, run_queued_tasks, wait_until_rendered

pytestmark = pytest.mark.django_db


def completed_video(sandbox, prompt="a kite over the dunes") -> Task:
    """A video made, paid for and stored the normal way: start, submit, provider
    finishes, status poll, download."""
    user = make_user()
    fund(user, 5)
    job = start_generation(user=user, model_key="kling-3-t2v", prompt=prompt, duration=5)
    task = job.tasks.get()
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    wait_until_rendered(sandbox, task.request_id)
    refresh_from_provider(task_id=task.pk)
    download_result(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    return task


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.parts[-2:][0] == "inputs")


def money(task: Task) -> tuple:
    wallet = Wallet.objects.get(user=task.job.user)
    return wallet.balance, wallet.reserved, LedgerEntry.objects.filter(wallet=wallet).count()


def test_a_lost_file_is_fetched_again_from_its_result_url_and_nobody_pays_again(sandbox, settings, django_capture_on_commit_callbacks):
    task = completed_video(sandbox)
    item = HistoryItem.objects.get(task=task)
    old_video, old_poster, old_sha = item.video.name, item.poster.name, item.sha256
    default_storage.delete(old_video)  # lost from storage
    paid = money(task)

    with django_capture_on_commit_callbacks(execute=True):
        done = redownload_video(task_id=task.pk)

    assert done.outcome == RedownloadOutcome.REDOWNLOADED and done.source == "the result URL"
    item.refresh_from_db()
    assert item.video.name != old_video and item.poster.name != old_poster
    stored = Path(default_storage.path(item.video.name))
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == item.sha256 == old_sha
    assert default_storage.open(item.poster.name).read(3) == b"\xff\xd8\xff"
    assert not default_storage.exists(old_poster)  # the replaced pair is gone
    assert media_files(settings) == sorted([stored, Path(default_storage.path(item.poster.name))])
    assert money(task) == paid
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED


def test_an_expired_url_is_fetched_through_the_request_id_when_the_provider_gives_a_new_link(
    sandbox, settings, django_capture_on_commit_callbacks
):
    task = completed_video(sandbox)
    old_url = task.result_url
    new_url = sandbox.expire(task.request_id, reissue=True)["url"]
    paid = money(task)

    with django_capture_on_commit_callbacks(execute=True):
        done = redownload_video(task_id=task.pk)

    assert (done.outcome, done.source) == (RedownloadOutcome.REDOWNLOADED, "a new link from the provider")
    task.refresh_from_db()
    assert task.result_url == new_url != old_url
    assert len(media_files(settings)) == 2
    assert money(task) == paid


def test_an_expired_url_the_provider_cannot_renew_is_reported_and_the_files_stay(sandbox, settings):
    task = completed_video(sandbox)
    item = HistoryItem.objects.get(task=task)
    before = (item.video.name, item.poster.name, item.sha256)
    files_before = media_files(settings)
    sandbox.expire(task.request_id)

    done = redownload_video(task_id=task.pk)

    assert done.outcome == RedownloadOutcome.URL_EXPIRED
    assert "expired" in done.message
    item.refresh_from_db()
    assert (item.video.name, item.poster.name, item.sha256) == before
    assert media_files(settings) == files_before  # nothing half-stored left behind


def test_a_request_the_provider_no_longer_has_is_not_found(sandbox, settings):
    task = completed_video(sandbox)
    sandbox.expire(task.request_id)
    Task.objects.filter(pk=task.pk).update(request_id=str(uuid.uuid4()))

    done = redownload_video(task_id=task.pk)

    assert done.outcome == RedownloadOutcome.NOT_FOUND
    assert "no longer has request" in done.message


def test_only_a_completed_video_with_its_card_can_be_redownloaded():
    failed = make_task(status=TaskStatus.FAILED)
    with pytest.raises(RepairRefused, match="Only a completed video"):
        queue_redownload(task=failed)
    deleted = make_task(status=TaskStatus.COMPLETED)
    HistoryItem.objects.filter(task=deleted).delete()
    with pytest.raises(RepairRefused, match="card was deleted"):
        queue_redownload(task=deleted)
    assert queued_tasks("redownload_video") == []


def test_staff_redownload_from_the_admin_reports_each_task_in_the_audit_log(sandbox, client, settings):
    boss = make_user("boss", is_staff=True, is_superuser=True)
    client.force_login(boss)
    good = completed_video(sandbox, prompt="a tram in the rain")
    expired = completed_video(sandbox, prompt="a tram in the snow")
    sandbox.expire(expired.request_id)
    running = make_task(status=TaskStatus.QUEUED)

    page = run_admin_action(
        client, reverse("admin:generation_task_changelist"), "redownload_selected", [good, expired, running],
        reason="files lost in the storage migration",
    ).content.decode()

    assert page.count("Queued for re-download") == 2
    assert "Only a completed video can be re-downloaded; this one is queued." in page
    assert len(queued_tasks("redownload_video")) == 2
    run_queued_tasks()
    entries = {entry.target_id: entry for entry in AuditEntry.objects.filter(action=Action.REDOWNLOAD)}
    assert (entries[str(good.pk)].result, entries[str(good.pk)].outcome) == (Result.DONE, "redownloaded")
    assert (entries[str(expired.pk)].result, entries[str(expired.pk)].outcome) == (Result.FAILED, "url_expired")
    assert (entries[str(running.pk)].result, entries[str(running.pk)].outcome) == (Result.REFUSED, "refused")
    for entry in entries.values():
        assert (entry.actor, entry.reason) == (boss, "files lost in the storage migration")
        assert entry.finished_at is not None
    log = client.get(reverse("admin:audit_auditentry_changelist")).content.decode()
    assert "files lost in the storage migration" in log and "The result URL has expired" in log
