"""Background steps. Each is a thin, idempotent wrapper around a service: it may run
twice, or after a crash, with the same result (see the services for how).

A step that raises something no service expected is a bug of ours: its task fails
with the INTERNAL kind (traceback kept for staff, a plain message for the user) rather
than being retried forever by the reconciler, and the exception still propagates so
the worker records it too."""

import traceback
from collections.abc import Callable

from django.tasks import task

from generation import downloads, reconcile, submission
from generation.models import ErrorKind
from generation.services import fail_task


def _run_step(step: Callable[..., None], task_id: str) -> None:
    try:
        step(task_id=task_id)
    except Exception:
        fail_task(
            task_id=task_id,
            kind=ErrorKind.INTERNAL,
            message="Something went wrong on our side. Please try again.",
            detail=traceback.format_exc(),
        )
        raise


@task()
def submit_generation(task_id: str) -> None:
    _run_step(submission.submit_task, task_id)


@task()
def download_generation(task_id: str) -> None:
    _run_step(downloads.download_result, task_id)


@task()
def cancel_at_provider(task_id: str, attempt: int = 1) -> None:
    submission.cancel_at_provider(task_id=task_id, attempt=attempt)


@task()
def refresh_from_provider(task_id: str) -> None:
    reconcile.refresh_task(task_id=task_id)
