"""The periodic repair pass: lost webhooks, crashed workers, expired tasks."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from generation.models import ErrorKind, Task, TaskStatus, Waiting
from generation.reconcile import reconcile_overdue_tasks, refresh_from_provider
from generation.submission import submit_task
from operations.models import AlertIncident, Heartbeat, ProcessKind
from tests.factories import make_task
from tests.support import queued_tasks, run_queued_tasks, wait_for, wait_until_rendered

pytestmark = pytest.mark.django_db


def age(task, **delta):
    """Pretend the task was last touched this long ago (and its webhook is overdue)."""
    then = timezone.now() - timedelta(**delta)
    Task.objects.filter(pk=task.pk).update(updated_at=then, poll_after=then)


def test_a_lost_webhook_is_recovered_by_polling_and_the_video_completes(sandbox):
    task = make_task(prompt="a kite over the dunes #fault:no_webhook")
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    wait_until_rendered(sandbox, task.request_id)
    age(task, minutes=1)
    report = reconcile_overdue_tasks()
    assert report.polled == [str(task.pk)]
    run_queued_tasks()  # refresh -> downloading -> download
    task.refresh_from_db()
    assert task.status == TaskStatus.COMPLETED
    assert task.history_item.video.name.endswith(f"{task.pk}.mp4")


def test_polling_a_running_task_records_its_progress(sandbox, settings):
    task = make_task(prompt="slow clouds")
    submit_task(task_id=task.pk)
    task.refresh_from_db()

    def polled_in_progress():
        refresh_from_provider(task_id=task.pk)
        task.refresh_from_db()
        return task.status == TaskStatus.IN_PROGRESS and task.progress is not None

    wait_for(polled_in_progress, "a poll to find the task rendering, with its progress", timeout=20, every=0.05)
    assert task.status == TaskStatus.IN_PROGRESS
    assert 0 <= task.progress <= 99 and "%" in task.last_log


def test_a_recent_task_is_not_polled():
    make_task(status=TaskStatus.QUEUED, request_id="r-1")
    assert reconcile_overdue_tasks().polled == []


def test_two_reconcilers_do_not_poll_the_same_task_twice():
    task = make_task(status=TaskStatus.QUEUED, request_id="r-1")
    age(task, minutes=1)
    first, second = reconcile_overdue_tasks(), reconcile_overdue_tasks()
    assert (len(first.polled), len(second.polled)) == (1, 0)
    assert len(queued_tasks("refresh_from_provider")) == 1


def test_a_provider_error_found_by_polling_fails_the_task(sandbox):
    task = make_task(prompt="doomed #fault:error #fault:no_webhook")
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    wait_until_rendered(sandbox, task.request_id)
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.PROVIDER)
    assert "fault injected" in task.error_message


def test_a_request_the_provider_does_not_know_fails(sandbox):
    task = make_task(status=TaskStatus.QUEUED, request_id="00000000-0000-4000-8000-000000000000")
    refresh_from_provider(task_id=task.pk)
    task.refresh_from_db()
    assert (task.status, task.error_message) == (TaskStatus.FAILED, "The provider lost this request.")


def test_a_pending_task_whose_step_was_lost_is_queued_again():
    task = make_task(status=TaskStatus.PENDING, created_at=timezone.now() - timedelta(minutes=5))
    age(task, minutes=5)
    assert reconcile_overdue_tasks().resubmitted == [str(task.pk)]
    assert len(queued_tasks("submit_task")) == 1


def test_a_task_waiting_for_a_slot_is_not_sent_again_but_its_quiet_queue_is_woken_once(settings):
    """A task waiting for its group has lost no step: the reconciler does not run its
    submit again every minute. If the wake-up of a freed slot was lost, the queue is
    woken once it has been quiet for a minute -- as many as there are free slots."""
    settings.PROVIDER_MAX_IN_FLIGHT = 2
    make_task(status=TaskStatus.QUEUED, request_id="r-busy")
    long_ago = timezone.now() - timedelta(minutes=5)
    first, second = (make_task(status=TaskStatus.PENDING, waiting=Waiting.SLOT, created_at=long_ago) for _ in range(2))
    Task.objects.filter(pk=first.pk).update(created_at=long_ago - timedelta(seconds=1))
    for task in (first, second):
        age(task, minutes=5)

    report = reconcile_overdue_tasks()
    assert report.resubmitted == [] and report.woken == [str(first.pk)]
    assert [r.task_result.args[0] for r in queued_tasks("submit_task")] == [str(first.pk)]
    assert Task.objects.get(pk=first.pk).next_attempt_at is not None  # its step is queued
    # The next pass neither wakes the queue again nor resubmits the woken one.
    report = reconcile_overdue_tasks()
    assert (report.resubmitted, report.woken) == ([], [])
    assert len(queued_tasks("submit_task")) == 1


def test_a_pass_without_repairs_only_asks_the_provider():
    lost = make_task(status=TaskStatus.PENDING, created_at=timezone.now() - timedelta(minutes=5))
    age(lost, minutes=5)
    quiet = make_task(status=TaskStatus.QUEUED, request_id="r-quiet")
    age(quiet, minutes=5)
    report = reconcile_overdue_tasks(repairs=False)
    assert (report.polled, report.resubmitted) == ([str(quiet.pk)], [])
    assert reconcile_overdue_tasks().resubmitted == [str(lost.pk)]


def test_a_woken_task_whose_step_was_lost_is_queued_again():
    task = make_task(status=TaskStatus.PENDING, waiting=Waiting.SLOT, created_at=timezone.now() - timedelta(minutes=5))
    Task.objects.filter(pk=task.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    assert reconcile_overdue_tasks().resubmitted == [str(task.pk)]


def test_a_submitting_task_waits_out_its_grace_period_before_being_sent_again():
    task = make_task(status=TaskStatus.SUBMITTING, submit_attempts=1, lease_until=timezone.now() + timedelta(minutes=5))
    assert reconcile_overdue_tasks().resubmitted == []
    Task.objects.filter(pk=task.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert reconcile_overdue_tasks().resubmitted == [str(task.pk)]
    assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING


def test_a_download_whose_worker_died_is_restarted():
    task = make_task(status=TaskStatus.DOWNLOADING, result_url="https://v3.fal.media/x.mp4", lease_until=timezone.now() - timedelta(seconds=1))
    assert reconcile_overdue_tasks().redownloaded == [str(task.pk)]
    assert Task.objects.get(pk=task.pk).lease_until is None
    assert len(queued_tasks("download_result")) == 1


def test_a_task_past_its_maximum_age_fails_with_a_reason(settings):
    task = make_task(status=TaskStatus.QUEUED, request_id="r-1", created_at=timezone.now() - timedelta(seconds=settings.TASK_MAX_AGE_SECONDS + 1))
    assert reconcile_overdue_tasks().expired == [str(task.pk)]
    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.TIMEOUT)
    assert len(queued_tasks("cancel_at_provider")) == 1


def test_time_spent_waiting_for_a_slot_or_a_breaker_does_not_count_towards_the_maximum_age(settings):
    long_ago = timezone.now() - timedelta(seconds=settings.TASK_MAX_AGE_SECONDS + 60)
    behind_breaker = make_task(status=TaskStatus.PENDING, waiting=Waiting.BREAKER, created_at=long_ago)
    for_a_slot = make_task(status=TaskStatus.PENDING, waiting=Waiting.SLOT, created_at=long_ago)
    # Sent a minute ago after waiting for hours: its clock started when it was sent.
    sent_lately = make_task(
        status=TaskStatus.QUEUED, request_id="r-2", created_at=long_ago, sent_at=timezone.now() - timedelta(minutes=1)
    )
    sent_long_ago = make_task(status=TaskStatus.QUEUED, request_id="r-3", created_at=long_ago, sent_at=long_ago)
    # Never picked up at all (no worker): its age counts from its creation.
    never_sent = make_task(status=TaskStatus.PENDING, created_at=long_ago)
    assert sorted(reconcile_overdue_tasks().expired) == sorted([str(sent_long_ago.pk), str(never_sent.pk)])
    for task in (behind_breaker, for_a_slot, sent_lately):
        task.refresh_from_db()
        assert task.status not in (TaskStatus.FAILED,), task


def test_the_submit_step_starts_the_clock_when_it_sends(sandbox):
    task = make_task(prompt="clock starts now", created_at=timezone.now() - timedelta(hours=2))
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED and timezone.now() - task.sent_at < timedelta(minutes=1)


def test_the_reconcile_command_records_its_pass_and_checks_the_alerts(settings, django_capture_on_commit_callbacks):
    settings.ALERT_BACKLOG = 1
    make_task(status=TaskStatus.QUEUED)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile")
    assert Heartbeat.objects.filter(kind=ProcessKind.RECONCILER).count() == 1
    assert AlertIncident.objects.get().rule == "backlog" and len(mail.outbox) == 1
