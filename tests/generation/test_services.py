"""The pipeline's services: cancelling tasks and jobs, applying a provider's outcome,
and retrying."""

import pytest

from generation.models import ErrorKind, Task, TaskStatus
from generation.services import apply_provider_outcome, cancel_task
from generation.submission import submit_task
from generation.transitions import TransitionRefused
from tests.factories import make_task
from tests.support import queued_tasks, run_queued_tasks

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
