"""The state machine of a task: its statuses, which are final, the allowed moves, the
one function that moves a task (`transition_task`) and the one that makes a new
attempt of it (`new_attempt`). Nothing else writes `Task.status`.

`generation.models` takes its statuses from here, so this module looks the Task model
up through the app registry instead of importing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from uuid import UUID

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generation.catalog import group_for_endpoint

if TYPE_CHECKING:
    from generation.models import Task


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUBMITTING = "submitting", _("Submitting")
    QUEUED = "queued", _("Queued")
    IN_PROGRESS = "in_progress", _("In progress")
    DOWNLOADING = "downloading", _("Downloading")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Waiting(models.TextChoices):
    """Why a PENDING task is not being sent yet (a sub-state of PENDING; "" otherwise)."""

    NOT_WAITING = "", _("Not waiting")
    SLOT = "slot", _("Waiting for a free slot")
    BREAKER = "breaker", _("Model unavailable")


FINISHED = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
# At the provider, or possibly so: these may cost money and must not be resubmitted.
AT_PROVIDER = frozenset({TaskStatus.QUEUED, TaskStatus.IN_PROGRESS})
# Holding one of its provider group's slots: sent, being sent, or possibly sent.
IN_FLIGHT = frozenset({TaskStatus.SUBMITTING, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS})
# What may be retried: a new attempt is made of it (see `new_attempt`).
RETRYABLE = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})

# The whole state machine. A key's set lists where a task may go from it; finished
# states go nowhere. A webhook may overtake the submit call that caused it (the
# provider can finish before our worker stores the request id), hence the moves
# from SUBMITTING straight to later states.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.SUBMITTING, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.SUBMITTING: frozenset(
        {
            TaskStatus.PENDING,
            TaskStatus.QUEUED,
            TaskStatus.IN_PROGRESS,
            TaskStatus.DOWNLOADING,
            TaskStatus.FAILED,
            TaskStatus.CANCELLED,
        }
    ),
    TaskStatus.QUEUED: frozenset(
        {TaskStatus.IN_PROGRESS, TaskStatus.DOWNLOADING, TaskStatus.FAILED, TaskStatus.CANCELLED}
    ),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.DOWNLOADING, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.DOWNLOADING: frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED}),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}

# Where a task starts life: a new video starts PENDING; a retry of a video that was
# made but could not be brought home starts DOWNLOADING (see `new_attempt`).
ENTRY_STATES = frozenset({TaskStatus.PENDING, TaskStatus.DOWNLOADING})

# Fields a move never takes from its caller: the status is the move itself, and the
# identity and history of the row are not the caller's to change.
_NOT_CHANGEABLE = frozenset({"id", "status", "job", "job_id", "retried_from", "retried_from_id", "created_at"})


def can_move(current: str, to: str) -> bool:
    return to in ALLOWED_TRANSITIONS[current]


class TransitionRefused(Exception):
    """The state machine does not allow this move (or the caller's expectation failed)."""

    def __init__(self, task: Task, to: str):
        self.task = task
        self.current = task.status
        self.to = to
        super().__init__(f"task {task.pk}: {task.status} -> {to} is not allowed")


def _task_model() -> type[Task]:
    return apps.get_model("generation", "Task")


def _store_error_words(changes: dict) -> None:
    """The user's message is kept as English text (for staff) and as its parts, read
    again in the reader's language when the card is shown (generation.said)."""
    from generation.said import Said, said, words_of

    message = changes["error_message"] or ""
    if message and not isinstance(message, Said):
        message = said(message)
    changes["error_words"] = words_of(message)
    changes["error_message"] = str(message)[:500]


def _check_field_names(names: Iterable[str]) -> None:
    """A misspelt field would otherwise be set as a plain attribute and silently not
    saved, while the move itself succeeds."""
    fields = set()
    for field in _task_model()._meta.concrete_fields:
        fields.update({field.name, field.attname})
    unknown = sorted(name for name in names if name not in fields or name in _NOT_CHANGEABLE)
    if unknown:
        raise TypeError(f"transition_task cannot set {', '.join(unknown)}: not a changeable field of Task")


def transition_task(
    task_id: UUID | str,
    to: TaskStatus,
    *,
    only_from: Iterable[TaskStatus] | None = None,
    seen: Task | None = None,
    **changes,
) -> Task:
    """Move a task to `to`, saving `changes` with it, or raise TransitionRefused.
    A name in `changes` that is not a field of the task raises TypeError.

    The row is locked for the check-and-write, so two workers (or a worker and a
    webhook) racing for the same task cannot both move it: the second sees the first's
    result and is refused. `only_from` narrows the allowed origins further for callers
    that own one particular step (e.g. only a SUBMITTING task may become QUEUED by the
    submit step). Run inside the caller's transaction when it has one, so that the
    side effects it writes with the move commit or roll back together: it joins that
    transaction without a savepoint (a refusal is raised once nothing is left to undo)
    and writes only the columns that change.

    `seen` is the caller's own unlocked read of the task, if it has one: when it is at
    the provider and the move takes it away, the statement that locks the row also
    reads whether anyone waits for its provider group's slot (one query, not two).
    """
    # credits imports the models, and the models import this module.
    from credits.services import settle_task
    from operations import services as guardrails

    _check_field_names(changes)
    if "error_message" in changes:
        _store_error_words(changes)
    model = _task_model()
    task, flag_group, has_waiting = None, None, None
    refused = False
    with transaction.atomic(savepoint=False):
        if seen is not None and seen.status in IN_FLIGHT and to not in IN_FLIGHT:
            flag_group = group_for_endpoint(seen.endpoint)
            flag = guardrails.waiting_flag(flag_group)
            if flag is not None:
                # Still at the provider, or no row: then it is locked below as usual.
                task = model.objects.select_for_update().filter(pk=task_id, status__in=IN_FLIGHT).annotate(
                    group_has_waiting=flag
                ).first()
                has_waiting = getattr(task, "group_has_waiting", None)
        if task is None:
            task = model.objects.select_for_update().filter(pk=task_id).first()
        if task is None or not can_move(task.status, to) or (only_from is not None and task.status not in set(only_from)):
            refused = True
        else:
            _move(task, to, changes, settle_task)
            if task.left_flight:
                group = group_for_endpoint(task.endpoint)
                if group != flag_group or seen is None:
                    has_waiting = guardrails.read_waiting_flag(group)
                # Its slot is free the moment this commits; the next waiting task is
                # queued then, if one may be waiting.
                guardrails.slot_freed(endpoint=task.endpoint, has_waiting=has_waiting)
    if task is None:
        raise model.DoesNotExist(f"no task {task_id}")
    if refused:
        raise TransitionRefused(task, to)
    return task


def _move(task: Task, to: TaskStatus, changes: dict, settle_task) -> None:
    """Apply the move to the locked row and save the columns that changed."""
    fields = task._meta.concrete_fields
    before = {field.attname: getattr(task, field.attname) for field in fields}
    now = timezone.now()
    task.left_flight = task.status in IN_FLIGHT and to not in IN_FLIGHT
    task.status = to
    if to != TaskStatus.PENDING:
        task.waiting = Waiting.NOT_WAITING
    for name, value in changes.items():
        # A callable computes the new value from the locked row (e.g. a counter).
        setattr(task, name, value(task) if callable(value) else value)
    if to == TaskStatus.IN_PROGRESS and task.started_at is None:
        task.started_at = now
    if to == TaskStatus.DOWNLOADING and task.downloading_at is None:
        task.downloading_at = now
    if to in FINISHED:
        task.finished_at = now
        task.lease_until = None
        task.next_attempt_at = None
        if to == TaskStatus.COMPLETED:
            task.progress = 100
        settle_task(task=task)  # charge or release its credits, in this transaction
    changed = [field.name for field in fields if getattr(task, field.attname) != before[field.attname]]
    task.save(update_fields=[*changed, "updated_at"])


def mark_waiting(task_id: UUID | str, *, reason: Waiting, until=None) -> bool:
    """Record why a PENDING task is not sent yet (and when it looks again, if known).
    A no-op once the task has left PENDING."""
    updated = (
        _task_model()
        .objects.filter(pk=task_id, status=TaskStatus.PENDING)
        .update(waiting=reason, next_attempt_at=until, updated_at=timezone.now())
    )
    return updated == 1


def try_transition_task(
    task_id: UUID | str,
    to: TaskStatus,
    *,
    only_from: Iterable[TaskStatus] | None = None,
    seen: Task | None = None,
    **changes,
) -> bool:
    """`transition_task` for callers that only need to know whether the task moved:
    True if it did, False if the state machine (or `only_from`) refused."""
    try:
        transition_task(task_id, to, only_from=only_from, seen=seen, **changes)
    except TransitionRefused:
        return False
    return True


def new_attempt(task_id: UUID | str, **replanned) -> Task:
    """Make a new attempt of a failed or cancelled task and return it, or raise
    TransitionRefused (not finished that way, or retried already). The old attempt
    stays on record as the new one's `retried_from`; the caller holds its credits,
    moves its card and queues its first step (by the new attempt's status).

    `replanned` (`made_with`, `endpoint`, `arguments`, `aspect_ratio`, `seed`) makes
    it on another model instead (generation.fallback); it then starts PENDING.

    The new attempt starts PENDING, to be generated again, except when the provider
    already made this video and only bringing it home failed: then it starts
    DOWNLOADING the same result rather than pay for a new one. Once only; if that
    fails too, the next retry generates afresh (the link may have expired)."""
    task_model = _task_model()
    with transaction.atomic():
        # Locked so that two retries of the same attempt cannot both make a new one.
        old = task_model.objects.select_for_update().get(pk=task_id)
        if old.status not in RETRYABLE or task_model.objects.filter(retried_from=old).exists():
            raise TransitionRefused(old, TaskStatus.PENDING)
        unknown = set(replanned) - {"made_with", "endpoint", "arguments", "aspect_ratio", "seed"}
        if unknown:
            raise TypeError(f"new_attempt cannot set {', '.join(sorted(unknown))}")
        redownload = not replanned and old.may_download_again()
        resume = (
            {
                "request_id": old.request_id,
                "result_url": old.result_url,
                "submitted_at": old.submitted_at,
                "downloading_at": timezone.now(),
            }
            if redownload
            else {}
        )
        same = {
            "made_with": old.made_with,
            "endpoint": old.endpoint,
            "arguments": old.arguments,
            "aspect_ratio": old.aspect_ratio,
            "seed": old.seed,
        }
        return task_model.objects.create(
            job_id=old.job_id,
            retried_from=old,
            status=TaskStatus.DOWNLOADING if redownload else TaskStatus.PENDING,
            variant_index=old.variant_index,
            style=old.style,
            **{**same, **replanned},
            **resume,
        )


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
    updated = (
        _task_model()
        .objects.filter(pk=task_id, status__in=[TaskStatus.SUBMITTING, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS])
        .update(**changes)
    )
    return updated == 1
