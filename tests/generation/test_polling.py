"""Polling only where it earns its cost: a task waiting at the provider is asked about
when its webhook is overdue (then with growing intervals), or while its card is open;
never twice at once."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from generation import polling
from generation.models import Task, TaskStatus, WebhookDelivery, WebhookOutcome
from generation.reconcile import reconcile_overdue_tasks
from generation.submission import submit_task
from tests.factories import make_task, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def waiting(*, submitted_ago: float, overdue_in: float, prompt: str = "a heron", user=None) -> Task:
    now = timezone.now()
    return make_task(
        user=user, prompt=prompt, status=TaskStatus.QUEUED, request_id=f"req-{prompt}",
        submitted_at=now - timedelta(seconds=submitted_ago), poll_after=now + timedelta(seconds=overdue_in),
    )


def webhook_applied_for(task: Task, *, seconds_ago: float) -> None:
    Task.objects.filter(pk=task.pk).update(status=TaskStatus.DOWNLOADING, poll_after=None)
    WebhookDelivery.objects.create(
        task=task, outcome=WebhookOutcome.APPLIED, received_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_a_submitted_task_is_first_checked_after_the_models_expected_time(sandbox, settings):
    settings.WEBHOOK_OVERDUE_SECONDS = 0  # the catalog's figure
    task = make_task(prompt="a fox at dawn")
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    assert task.status == TaskStatus.QUEUED
    assert task.poll_after - task.submitted_at == timedelta(seconds=task.job.model_spec.expected_seconds)
    assert reconcile_overdue_tasks().polled == []


def test_an_overdue_task_is_asked_once_then_with_growing_intervals(settings):
    settings.STATUS_POLL_SECONDS, settings.STATUS_POLL_MAX_SECONDS = 10, 35
    task = waiting(submitted_ago=300, overdue_in=-1)
    gaps = []
    now = timezone.now()
    for _ in range(4):
        assert reconcile_overdue_tasks(now=now).polled == [str(task.pk)]
        assert reconcile_overdue_tasks(now=now).polled == []  # one call in flight, never two
        Task.objects.filter(pk=task.pk).update(lease_until=None)  # the call is over
        task.refresh_from_db()
        gaps.append((task.poll_after - now).total_seconds())
        assert reconcile_overdue_tasks(now=now).polled == []  # not due again yet
        now = task.poll_after
    assert gaps == [10, 20, 35, 35] and task.status_polls == 4
    assert len(queued_tasks("refresh_from_provider")) == 4


def test_a_task_behind_older_requests_of_ours_waits_without_a_call():
    older = waiting(submitted_ago=60, overdue_in=100, prompt="older")
    task = waiting(submitted_ago=50, overdue_in=-1, prompt="newer")
    webhook_applied_for(older, seconds_ago=5)  # the provider is working through our queue
    assert reconcile_overdue_tasks().polled == []
    task.refresh_from_db()
    expected = timedelta(seconds=polling.overdue_after(task.endpoint).total_seconds() - 5)
    assert abs(task.poll_after - timezone.now() - expected) < timedelta(seconds=2)
    assert task.status_polls == 0


def test_an_overdue_task_overtaken_by_a_later_request_long_ago_is_due(settings):
    settings.WEBHOOK_OVERDUE_SECONDS = 20
    task = waiting(submitted_ago=90, overdue_in=-1, prompt="lost webhook")
    later = waiting(submitted_ago=80, overdue_in=100, prompt="later")
    webhook_applied_for(later, seconds_ago=40)  # finished two expected times ago
    still_busy = waiting(submitted_ago=70, overdue_in=100, prompt="busy")
    webhook_applied_for(still_busy, seconds_ago=5)  # and the provider is still at work
    assert reconcile_overdue_tasks().polled == [str(task.pk)]


def test_requests_finishing_out_of_order_side_by_side_are_not_polled(settings):
    settings.WEBHOOK_OVERDUE_SECONDS = 20
    task = waiting(submitted_ago=30, overdue_in=-1, prompt="rendering")
    later = waiting(submitted_ago=25, overdue_in=100, prompt="faster")
    webhook_applied_for(later, seconds_ago=3)  # rendered beside it, finished first
    assert reconcile_overdue_tasks().polled == []


def test_a_silent_provider_makes_an_overdue_task_due(settings):
    settings.WEBHOOK_OVERDUE_SECONDS = 20
    older = waiting(submitted_ago=100, overdue_in=100, prompt="older")
    task = waiting(submitted_ago=90, overdue_in=-1, prompt="waiting")
    webhook_applied_for(older, seconds_ago=30)  # longer ago than the expected time
    assert reconcile_overdue_tasks().polled == [str(task.pk)]


def test_an_open_card_is_refreshed_every_few_seconds_one_call_at_a_time(client, settings):
    settings.STATUS_POLL_SECONDS = 3
    user = make_user()
    task = waiting(submitted_ago=5, overdue_in=600, user=user)
    assert reconcile_overdue_tasks().polled == []  # nobody is looking and nothing is overdue
    client.force_login(user)
    assert client.get(reverse("history:updates") + f"?ids={task.history_item.pk}").status_code == 200
    assert reconcile_overdue_tasks().polled == [str(task.pk)]
    assert reconcile_overdue_tasks().polled == []  # its call is in flight
    polling.release_after_call(task.pk)
    assert reconcile_overdue_tasks().polled == []  # at most every STATUS_POLL_SECONDS
    later = timezone.now() + timedelta(seconds=3.5)
    assert reconcile_overdue_tasks(now=later).polled == [str(task.pk)]
    assert reconcile_overdue_tasks(now=later + timedelta(minutes=5)).polled == []  # the card was closed


def test_a_task_that_moved_on_is_not_watched():
    task = make_task(status=TaskStatus.DOWNLOADING)
    assert polling.watch(task_ids=[task.pk]) == 0


def test_with_the_provider_silent_only_our_oldest_waiting_request_is_asked(settings):
    settings.WEBHOOK_OVERDUE_SECONDS = 20
    oldest = waiting(submitted_ago=90, overdue_in=-1, prompt="oldest")
    others = [waiting(submitted_ago=80 - n, overdue_in=-1, prompt=f"behind {n}") for n in range(3)]
    assert reconcile_overdue_tasks().polled == [str(oldest.pk)]
    assert reconcile_overdue_tasks().polled == []  # the others wait for its answer
    assert all(Task.objects.get(pk=task.pk).status_polls == 0 for task in others)
