"""The background steps, and the one place that queues them.

Each step has one name from end to end: the background task `submit_task` runs the
service `generation.submission.submit_task`, and is queued by `enqueue_submit_task`.
Every step is a thin, idempotent wrapper around its service: it may run twice, or
after a crash, with the same result (see the services for how).

A step that raises something no service expected is a bug of ours: its task fails
with the INTERNAL kind (traceback kept for staff, a plain message for the user) rather
than being retried forever by the reconciler, and the exception still propagates so
the worker records it too.

The services import this module to queue their next step, so the steps are looked up
by their dotted path when they run rather than imported here.

Queueing happens inside the caller's transaction when the task backend keeps its
queue in our database (django-tasks-db): the step is queued if and only if the
caller's writes commit. With any other backend the step is queued once the caller's
transaction commits (`transaction.on_commit`), so that a worker never sees a step
whose rows are not there yet.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime
from functools import partial
from uuid import UUID

from django.db import transaction
from django.tasks import task
from django.tasks.backends.base import BaseTaskBackend
from django.tasks.base import Task
from django.utils.module_loading import import_string
from django.utils.translation import gettext_noop
from django_tasks_db import DatabaseBackend

from generation.models import ErrorKind
from generation.transitions import TaskStatus, try_transition_task

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = gettext_noop("Something went wrong on our side. Please try again.")


def _run_step(path: str, task_id: str, **kwargs) -> None:
    step = import_string(path)
    try:
        step(task_id=task_id, **kwargs)
    except Exception:
        failed = try_transition_task(
            task_id,
            TaskStatus.FAILED,
            error_kind=ErrorKind.INTERNAL,
            error_message=INTERNAL_MESSAGE,
            error_detail=traceback.format_exc(),
        )
        logger.exception("step %s of task %s raised%s", path.rsplit(".", 1)[1], task_id, "; task failed" if failed else "")
        raise


@task()
def submit_task(task_id: str) -> None:
    _run_step("generation.submission.submit_task", task_id)


@task()
def download_result(task_id: str) -> None:
    _run_step("generation.downloads.download_result", task_id)


@task()
def cancel_at_provider(task_id: str, attempt: int = 1) -> None:
    _run_step("generation.submission.cancel_at_provider", task_id, attempt=attempt)


@task()
def refresh_from_provider(task_id: str) -> None:
    _run_step("generation.reconcile.refresh_from_provider", task_id)


@task()
def make_pixel_art(pixel_art_id: str) -> None:
    # Not a video task: an unexpected error fails the pixel art instead, the same way.
    step = import_string("pixelart.services.make_pixel_art")
    try:
        step(pixel_art_id=pixel_art_id)
    except Exception:
        fail = import_string("pixelart.services.fail_pixel_art")
        failed = fail(pixel_art_id=pixel_art_id, message=INTERNAL_MESSAGE, detail=traceback.format_exc())
        logger.exception("step make_pixel_art of pixel art %s raised%s", pixel_art_id, "; it failed" if failed else "")
        raise


@task()
def take_last_frame(last_frame_id: str) -> None:
    step = import_string("pixelart.services.take_last_frame")
    try:
        step(last_frame_id=last_frame_id)
    except Exception:
        fail = import_string("pixelart.services.fail_last_frame")
        fail(last_frame_id=last_frame_id, message=INTERNAL_MESSAGE, detail=traceback.format_exc())
        logger.exception("step take_last_frame of last frame %s raised", last_frame_id)
        raise


@task()
def redownload_video(task_id: str, audit_entry_id: int | None = None) -> None:
    # A failure here cannot fail the task: it is complete, and finished states are final.
    _run_step("generation.repairs.run_redownload", task_id, audit_entry_id=audit_entry_id)


def enqueues_in_transaction(backend: BaseTaskBackend) -> bool:
    """Whether `backend` writes its queue in our database, inside the caller's
    transaction."""
    return isinstance(backend, DatabaseBackend)


def _enqueue(step: Task, *args, run_after: datetime | None = None) -> None:
    if run_after is not None:
        step = step.using(run_after=run_after)
    if enqueues_in_transaction(step.get_backend()):
        step.enqueue(*args)
    else:
        transaction.on_commit(partial(step.enqueue, *args))


def enqueue_submit_task(task_id: UUID | str, *, run_after: datetime | None = None) -> None:
    _enqueue(submit_task, str(task_id), run_after=run_after)


def enqueue_download_result(task_id: UUID | str, *, run_after: datetime | None = None) -> None:
    _enqueue(download_result, str(task_id), run_after=run_after)


def enqueue_cancel_at_provider(task_id: UUID | str, *, attempt: int = 1, run_after: datetime | None = None) -> None:
    _enqueue(cancel_at_provider, str(task_id), attempt, run_after=run_after)


def enqueue_refresh_from_provider(task_id: UUID | str) -> None:
    _enqueue(refresh_from_provider, str(task_id))


def enqueue_make_pixel_art(pixel_art_id: UUID | str) -> None:
    _enqueue(make_pixel_art, str(pixel_art_id))


def enqueue_take_last_frame(last_frame_id: UUID | str) -> None:
    _enqueue(take_last_frame, str(last_frame_id))


def enqueue_redownload_video(task_id: UUID | str, *, audit_entry_id: int | None = None) -> None:
    _enqueue(redownload_video, str(task_id), audit_entry_id)
