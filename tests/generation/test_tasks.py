"""The background steps: queued in one place, and a bug in any step fails its task as
an internal error (kept for staff, plain for the user) instead of leaving it to the
reconciler forever."""

import pytest
from django.db import transaction
from django.tasks import task_backends
from django.tasks.backends.dummy import DummyBackend
from django.tasks.backends.immediate import ImmediateBackend
from django_tasks_db.models import DBTaskResult

from generation import fal, fetch, tasks
from generation.models import ErrorKind, Task, TaskStatus
from tests.factories import make_task
from tests.support import queued_tasks, run_queued_tasks

pytestmark = pytest.mark.django_db


def _bug(*args, **kwargs):
    raise ZeroDivisionError("a bug of ours")


@pytest.mark.parametrize(
    ("status", "enqueue", "broken"),
    [
        (TaskStatus.PENDING, tasks.enqueue_submit_task, (fal, "submit")),
        (TaskStatus.DOWNLOADING, tasks.enqueue_download_result, (fetch, "check_url")),
        (TaskStatus.QUEUED, tasks.enqueue_refresh_from_provider, (fal, "fetch_status")),
    ],
    ids=["submit_task", "download_result", "refresh_from_provider"],
)
def test_an_unexpected_error_fails_the_task_as_internal(monkeypatch, status, enqueue, broken):
    task = make_task(status=status, request_id="req-1", result_url="https://v3.fal.media/files/x.mp4")
    enqueue(task.pk)
    monkeypatch.setattr(*broken, _bug)

    with pytest.raises(ZeroDivisionError):
        run_queued_tasks()

    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.FAILED, ErrorKind.INTERNAL)
    assert task.error_message == tasks.INTERNAL_MESSAGE
    assert "ZeroDivisionError: a bug of ours" in task.error_detail  # the traceback, for staff
    assert DBTaskResult.objects.get().status == "FAILED"  # and the worker recorded it too


def test_an_unexpected_error_asking_the_provider_to_stop_leaves_the_cancelled_task_alone(monkeypatch):
    task = make_task(status=TaskStatus.CANCELLED, request_id="req-1", error_kind=ErrorKind.CANCELLED)
    tasks.enqueue_cancel_at_provider(task.pk)
    monkeypatch.setattr(fal, "cancel", _bug)

    with pytest.raises(ZeroDivisionError):
        run_queued_tasks()

    task.refresh_from_db()
    assert (task.status, task.error_kind) == (TaskStatus.CANCELLED, ErrorKind.CANCELLED)
    assert DBTaskResult.objects.get().status == "FAILED"


def test_each_step_is_queued_under_the_name_of_the_service_it_runs():
    task = make_task(status=TaskStatus.QUEUED)
    tasks.enqueue_submit_task(task.pk)
    tasks.enqueue_download_result(task.pk)
    tasks.enqueue_cancel_at_provider(task.pk, attempt=2)
    tasks.enqueue_refresh_from_provider(task.pk)
    queued = {r.task_path: r.args_kwargs["args"] for r in queued_tasks()}
    assert queued == {
        "generation.tasks.submit_task": [str(task.pk)],
        "generation.tasks.download_result": [str(task.pk)],
        "generation.tasks.cancel_at_provider": [str(task.pk), 2],
        "generation.tasks.refresh_from_provider": [str(task.pk)],
    }


def test_a_step_queued_in_a_transaction_that_rolls_back_is_gone():
    task = make_task()
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.enqueue_submit_task(task.pk)
        assert len(queued_tasks("submit_task")) == 1  # in the database, with the caller's writes
        raise RuntimeError("the caller fails")
    assert queued_tasks("submit_task") == []


def test_only_the_database_backend_counts_as_enqueueing_inside_the_transaction():
    assert tasks.enqueues_in_transaction(task_backends["default"])
    assert not tasks.enqueues_in_transaction(DummyBackend(alias="x", params={}))
    assert not tasks.enqueues_in_transaction(ImmediateBackend(alias="x", params={}))


@pytest.fixture
def outside_backend():
    """The default task backend swapped for one that keeps its queue outside the database."""
    original = task_backends["default"]
    backend = DummyBackend(alias="default", params={})
    task_backends["default"] = backend
    yield backend
    task_backends["default"] = original


def test_with_a_backend_outside_the_database_a_step_is_queued_only_once_the_caller_commits(
    outside_backend, django_capture_on_commit_callbacks
):
    task = make_task()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            tasks.enqueue_submit_task(task.pk)
            assert outside_backend.results == []  # not while the task's rows may still roll back
        with pytest.raises(RuntimeError), transaction.atomic():
            tasks.enqueue_download_result(task.pk)
            raise RuntimeError("rolled back")
    assert [(r.task.name, r.args) for r in outside_backend.results] == [("submit_task", [str(task.pk)])]
    assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING
