"""The periodic repair pass: polls the provider about tasks we have not heard of
lately (lost webhooks, and progress for the gallery), and restarts steps a crashed
worker left behind. Every repair goes through the same claims and transitions as the
normal path, so two reconcilers running at once do no harm."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_noop

from generation import fal, polling
from generation.catalog import endpoints_in_group, group_for_endpoint
from generation.fal import ProviderError
from generation.models import AT_PROVIDER, FINISHED, ErrorKind, Task, TaskStatus, Waiting
from generation.services import apply_provider_failure, apply_provider_outcome, fail_task
from generation.tasks import (
    enqueue_cancel_at_provider,
    enqueue_download_result,
    enqueue_refresh_from_provider,
    enqueue_submit_task,
)
from generation.transitions import try_transition_task, update_progress
from operations import services as guardrails

logger = logging.getLogger(__name__)

BATCH = 200
_PERCENT = re.compile(r"(\d{1,3})\s?%")


def _percent_from(line: str) -> int | None:
    match = _PERCENT.search(line)
    return int(match.group(1)) if match else None


def refresh_from_provider(*, task_id: UUID | str) -> None:
    """Ask the provider where a queued or running task stands and apply the answer."""
    task = Task.objects.filter(pk=task_id, status__in=AT_PROVIDER).exclude(request_id="").first()
    if task is None:
        return
    try:
        _refresh(task)
    finally:
        polling.release_after_call(task.pk)


def _refresh(task: Task) -> None:
    try:
        report = fal.fetch_status(endpoint=task.endpoint, request_id=task.request_id)
        # Completed is fal's word for success and failure alike: the result call
        # answers with the model's output or with its error.
        outcome = fal.fetch_result(endpoint=task.endpoint, request_id=task.request_id) if report.state == "completed" else None
    except ProviderError as error:
        if error.status_code == 404:  # the provider does not know the request (or no longer has its result)
            fail_task(task_id=task.pk, kind=ErrorKind.PROVIDER, message=gettext_noop("The provider lost this request."), detail=error.detail)
        else:
            logger.warning("status of task %s unavailable: %s", task.pk, error.detail)
        return

    last_log = report.logs[-1] if report.logs else None
    if report.state == "queued":
        update_progress(task.pk, queue_position=report.queue_position, last_log=last_log)
    elif report.state == "in_progress":
        try_transition_task(task.pk, TaskStatus.IN_PROGRESS, only_from=[TaskStatus.QUEUED], queue_position=None)
        update_progress(task.pk, progress=_percent_from(last_log or ""), last_log=last_log)
    elif outcome.failure is not None:
        apply_provider_failure(task=task, failure=outcome.failure, detail=outcome.detail)
    else:
        apply_provider_outcome(task=task, request_id=task.request_id, status="OK", payload=outcome.output, error=None)


@dataclass
class ReconcileReport:
    polled: list[str] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    redownloaded: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"polled={len(self.polled)} resubmitted={len(self.resubmitted)} woken={len(self.woken)} "
            f"redownloaded={len(self.redownloaded)} expired={len(self.expired)}"
        )


def _claim(queryset, now) -> list[UUID]:
    """Take tasks for one repair: touching `updated_at` with a conditional update
    means a second reconciler running at the same moment skips them."""
    claimed = []
    for task_id, updated_at in queryset.values_list("pk", "updated_at")[:BATCH]:
        if Task.objects.filter(pk=task_id, updated_at=updated_at).update(updated_at=now):
            claimed.append(task_id)
    return claimed


def reconcile_overdue_tasks(*, now=None, repairs: bool = True) -> ReconcileReport:
    """One repair pass, in order: give up on tasks past their maximum age, ask the
    provider about quiet ones, and restart the steps that lost their worker. With
    `repairs` off, only the provider is asked: the repairs look for what has been
    quiet for a minute or more, so the reconcile command runs them less often
    (`RECONCILE_REPAIR_SECONDS`) than its passes."""
    now = now or timezone.now()
    report = ReconcileReport()
    if repairs:
        _expire_too_old(now, report)
    _poll_due(now, report)
    if repairs:
        _resubmit_lost_pending(now, report)
        _resubmit_expired_submits(now, report)
        _restart_orphaned_downloads(now, report)
    return report


def _expire_too_old(now, report: ReconcileReport) -> None:
    """Past their maximum age: give up, whatever state they are in. The age counts
    from when the task was last sent (`sent_at`; its creation if never): time spent
    waiting for a slot of its provider group or behind its open breaker is not the
    video taking too long -- the user sees it waiting, may cancel it, and the
    oldest-waiting alert tells staff. A task waiting now is never expired."""
    too_old = (
        Task.objects.exclude(status__in=FINISHED)
        .exclude(status=TaskStatus.PENDING, waiting__in=[Waiting.SLOT, Waiting.BREAKER])
        .annotate(clock=Coalesce("sent_at", "created_at"))
        .filter(clock__lt=now - timedelta(seconds=settings.TASK_MAX_AGE_SECONDS))
    )
    for task in too_old[:BATCH]:
        if fail_task(
            task_id=task.pk,
            kind=ErrorKind.TIMEOUT,
            message=gettext_noop("This video took too long and was stopped."),
            detail=f"unfinished after {settings.TASK_MAX_AGE_SECONDS} s in status {task.status}",
        ):
            report.expired.append(str(task.pk))
            if task.request_id:
                enqueue_cancel_at_provider(task.pk)


def _poll_due(now, report: ReconcileReport) -> None:
    """At the provider with its webhook overdue, or its card open: ask (see generation.polling)."""
    for task_id in polling.claim_due_polls(now=now):
        enqueue_refresh_from_provider(task_id)
        report.polled.append(str(task_id))


def _resubmit_lost_pending(now, report: ReconcileReport) -> None:
    """Pending whose submit step was lost (its worker died holding it). A task waiting
    for its group with no step queued (`next_attempt_at` empty) has lost nothing: a
    freed slot wakes it. Should that wake-up itself be lost (a crash between a commit
    and the wake-up after it), its group's queue is woken here once the wait has been
    quiet for a minute -- one wake-up per group, which queues only as many as there
    are free slots, instead of running every waiting task's step again."""
    stale = now - timedelta(seconds=60)
    stale_pending = Task.objects.filter(status=TaskStatus.PENDING, created_at__lt=stale)
    lost = stale_pending.filter(
        Q(next_attempt_at__isnull=True, updated_at__lt=stale, waiting=Waiting.NOT_WAITING) | Q(next_attempt_at__lt=stale)
    )
    for task_id in _claim(lost, now):
        enqueue_submit_task(task_id)
        report.resubmitted.append(str(task_id))
    quiet = stale_pending.filter(next_attempt_at__isnull=True, updated_at__lt=stale).exclude(waiting=Waiting.NOT_WAITING)
    groups = {group_for_endpoint(endpoint) for endpoint in quiet.order_by().values_list("endpoint", flat=True).distinct()}
    for group in sorted(groups):
        # Quiet again in a minute: the next check of this queue is then.
        quiet.filter(endpoint__in=endpoints_in_group(group)).update(updated_at=now)
        report.woken.extend(str(task_id) for task_id in guardrails.wake_waiting(group=group))


def _resubmit_expired_submits(now, report: ReconcileReport) -> None:
    """Submitting with its lease run out: no answer and no webhook came in the grace
    period, so the request never reached the provider; submit it again, or give up
    after the last attempt."""
    for task in Task.objects.filter(status=TaskStatus.SUBMITTING, lease_until__lt=now)[:BATCH]:
        if task.submit_attempts >= settings.SUBMIT_MAX_ATTEMPTS:
            fail_task(
                task_id=task.pk,
                kind=task.error_kind or ErrorKind.NETWORK,
                message=gettext_noop("We could not reach the video service. Please try again."),
                detail=f"gave up after {task.submit_attempts} submit attempts; last: {task.error_detail}",
            )
        elif try_transition_task(task.pk, TaskStatus.PENDING, only_from=[TaskStatus.SUBMITTING], lease_until=None):
            enqueue_submit_task(task.pk)
            report.resubmitted.append(str(task.pk))


def _restart_orphaned_downloads(now, report: ReconcileReport) -> None:
    """Downloading with no worker on it: lease run out, or a retry whose time is past."""
    orphaned = Task.objects.filter(status=TaskStatus.DOWNLOADING).filter(
        Q(lease_until__lt=now)
        | Q(lease_until__isnull=True, next_attempt_at__isnull=True, updated_at__lt=now - timedelta(seconds=60))
        | Q(lease_until__isnull=True, next_attempt_at__lt=now - timedelta(seconds=60))
    )
    for task_id in _claim(orphaned, now):
        Task.objects.filter(pk=task_id, status=TaskStatus.DOWNLOADING, lease_until__lt=now).update(lease_until=None)
        enqueue_download_result(task_id)
        report.redownloaded.append(str(task_id))
