"""The pipeline's services: cancelling tasks and jobs, applying a provider's outcome,
retrying, and one job per request key."""

import threading

import pytest
from django.db import connection, transaction

from credits.models import Wallet
from generation.models import ErrorKind, Job, Task, TaskStatus
from generation.request_keys import RequestKeyReused
from generation.services import apply_provider_outcome, cancel_task, start_generation
from generation.submission import submit_task
from generation.transitions import TransitionRefused
from tests.factories import make_task
from tests.support import queued_tasks, run_queued_tasks, wait_for

pytestmark = pytest.mark.django_db


def test_a_queued_task_is_cancelled_here_and_at_the_provider(sandbox):
    task = make_task(prompt="a slow sunrise #fault:no_webhook")
    submit_task(task_id=task.pk)
    task.refresh_from_db()
    cancel_task(task=task)
    task.refresh_from_db()
    assert (task.status, task.error_kind, task.finished_at is not None) == (TaskStatus.CANCELLED, ErrorKind.CANCELLED, True)
    run_queued_tasks()
    assert sandbox.request(task.request_id)["cancelled"] is True


def test_a_task_not_yet_at_the_provider_is_cancelled_without_calling_it():
    task = make_task(status=TaskStatus.PENDING)
    cancel_task(task=task)
    assert Task.objects.get(pk=task.pk).status == TaskStatus.CANCELLED
    assert queued_tasks("cancel_at_provider") == []


@pytest.mark.parametrize("status", [TaskStatus.DOWNLOADING, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_saving_and_finished_tasks_cannot_be_cancelled(status):
    task = make_task(status=status)
    with pytest.raises(TransitionRefused):
        cancel_task(task=task)
    assert Task.objects.get(pk=task.pk).status == status


def test_a_result_that_arrives_after_the_cancel_changes_nothing():
    task = make_task(status=TaskStatus.IN_PROGRESS, request_id="r-1")
    cancel_task(task=task)
    changed = apply_provider_outcome(task=task, request_id="r-1", status="OK", payload={"video": {"url": "https://v3.fal.media/v.mp4"}}, error=None)
    task.refresh_from_db()
    assert (changed, task.status, task.result_url) == (False, TaskStatus.CANCELLED, "")


# One request, one job: start_generation with a request key.

KEYED = {"model_key": "kling-3-t2v", "prompt": "a heron in the reeds", "duration": 5, "aspect_ratios": ["16:9"]}


def test_the_same_key_and_request_makes_one_job_and_holds_credits_once(user):
    first = start_generation(user=user, request_key="press-1", **KEYED)
    again = start_generation(user=user, request_key="press-1", **KEYED)
    assert (again.pk, first.replayed, again.replayed) == (first.pk, False, True)
    assert Job.objects.count() == 1 and len(queued_tasks("submit_task")) == 1
    assert Wallet.objects.get(user=user).reserved == first.model_spec.credits_per_video


def test_the_same_key_with_another_request_is_refused_and_makes_nothing(user):
    first = start_generation(user=user, request_key="press-1", **KEYED)
    with pytest.raises(RequestKeyReused) as refused:
        start_generation(user=user, request_key="press-1", **{**KEYED, "prompt": "a heron in the rain"})
    assert refused.value.job == first and Job.objects.count() == 1


def test_keys_are_per_user_and_requests_without_a_key_are_never_merged(user, other_user):
    mine = start_generation(user=user, request_key="press-1", **KEYED)
    theirs = start_generation(user=other_user, request_key="press-1", **KEYED)
    start_generation(user=user, **KEYED)
    start_generation(user=user, **KEYED)
    assert mine.pk != theirs.pk and Job.objects.filter(user=user).count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_one_key_at_the_same_moment_make_one_job(user):
    """The second request reaches the job insert while the first has not committed: it
    waits on the unique key, then answers with the first's job (PostgreSQL's locking)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent transactions")
    first_inside, release = threading.Event(), threading.Event()
    results = {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = start_generation(user=user, request_key="press-1", **KEYED)
                first_inside.set()
                release.wait(60)
        finally:
            connection.close()

    def second():
        try:
            results["second"] = start_generation(user=user, request_key="press-1", **KEYED)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    wait_for(first_inside.is_set, "the first request to record its job")
    threads[1].start()
    wait_for(_a_backend_waits_on_a_lock, "the second request to wait on the first's key")
    release.set()
    for thread in threads:
        thread.join(60)
    assert results["second"].pk == results["first"].pk and results["second"].replayed
    assert Job.objects.count() == 1 and Task.objects.count() == 1
    assert Wallet.objects.get(user=user).reserved == results["first"].model_spec.credits_per_video


def _a_backend_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
