"""The one way a task's status changes."""

from collections.abc import Iterable
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from credits.services import settle_task
from generation.models import FINISHED, Task, TaskStatus


class TransitionRefused(Exception):
    """The state machine does not allow this move (or the caller's expectation failed)."""

    def __init__(self, task: Task, to: str):
        self.task = task
        self.current = task.status
        self.to = to
        super().__init__(f"task {task.pk}: {task.status} -> {to} is not allowed")


def transition_task(
    task_id: UUID | str,
    to: TaskStatus,
    *,
    only_from: Iterable[TaskStatus] | None = None,
    **changes,
) -> Task:
    """Move a task to `to`, saving `changes` with it, or raise TransitionRefused.

    The row is locked for the check-and-write, so two workers (or a worker and a
    webhook) racing for the same task cannot both move it: the second sees the first's
    result and is refused. `only_from` narrows the allowed origins further for callers
    that own one particular step (e.g. only a SUBMITTING task may become QUEUED by the
    submit step). Run inside the caller's transaction when it has one, so that the
    side effects it writes with the move commit or roll back together.
    """
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task_id)
        if not task.can_move_to(to) or (only_from is not None and task.status not in set(only_from)):
            raise TransitionRefused(task, to)
        now = timezone.now()
        task.status = to
        for name, value in changes.items():
            # A callable computes the new value from the locked row (e.g. a counter).
            setattr(task, name, value(task) if callable(value) else value)
        if to == TaskStatus.IN_PROGRESS and task.started_at is None:
            task.started_at = now
        if to in FINISHED:
            task.finished_at = now
            task.lease_until = None
            task.next_attempt_at = None
            if to == TaskStatus.COMPLETED:
                task.progress = 100
            settle_task(task=task)  # charge or release its credits, in this transaction
        task.save()
    return task


def update_progress(
    task_id: UUID | str,
    *,
    queue_position: int | None = None,
    progress: int | None = None,
    last_log: str | None = None,
) -> bool:
    """Record news about a task still at the provider. A no-op once the task has moved on."""
    changes: dict = {"updated_at": timezone.now()}
    if queue_position is not None:
        changes["queue_position"] = queue_position
    if progress is not None:
        changes["progress"] = max(0, min(progress, 99))
    if last_log is not None:
        changes["last_log"] = last_log[:2000]
    updated = Task.objects.filter(
        pk=task_id, status__in=[TaskStatus.SUBMITTING, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS]
    ).update(**changes)
    return updated == 1
