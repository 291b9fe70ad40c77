"""Sending a task to the provider, and asking it to stop one.

The submit step claims its task (PENDING -> SUBMITTING) before calling the provider,
so however often it runs, one request is sent per claim; failures are classified and
met with a retry, a wait, or a clear failure (see `_after_submit_error`)."""

from __future__ import annotations

import logging
import mimetypes
import os
import random
import time
from datetime import timedelta
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from generation import fal, fallback, polling
from generation.fal import ProviderError
from generation.models import Job, Task, TaskStatus, Waiting
from generation.said import said
from generation.tasks import enqueue_cancel_at_provider, enqueue_submit_task
from generation.transitions import TransitionRefused, mark_waiting, transition_task, try_transition_task
from operations import services as guardrails

logger = logging.getLogger(__name__)


def webhook_url_for(task: Task) -> str:
    query = urlencode({"task": str(task.pk), "token": task.webhook_token})
    return f"{settings.PUBLIC_BASE_URL}{reverse('generation:fal-webhook')}?{query}"


def _provider_arguments(task: Task) -> dict:
    """The stored arguments plus the input images under the model's own field names,
    by the URLs fal's storage gave them."""
    arguments = dict(task.arguments)
    job = task.job
    arguments.update(
        task.model_spec.image_arguments(
            image_url=_provider_file_url(job, job.input_image) if job.input_image else None,
            end_image_url=_provider_file_url(job, job.input_end_image) if job.input_end_image else None,
        )
    )
    return arguments


# fal does not document how long an uploaded file is kept: one upload serves a job's
# tasks for an hour, and a retry later than that uploads again.
UPLOAD_REUSE_SECONDS = 3600


def _provider_file_url(job: Job, stored) -> str:
    """fal's endpoints take input files by URL (data: URIs only "some models"): put the
    file on fal's storage through fal-client's upload, once per job and file -- the
    tasks of one job share it."""
    uploaded = (job.params or {}).get("provider_files") or {}
    known = uploaded.get(stored.name)
    if known and time.time() - known.get("at", 0) < UPLOAD_REUSE_SECONDS:
        return known["url"]
    with stored.open("rb") as handle:
        data = handle.read()
    content_type = mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    url = fal.upload_input(data=data, content_type=content_type, file_name=os.path.basename(stored.name))
    params = {**(job.params or {}), "provider_files": {**uploaded, stored.name: {"url": url, "at": time.time()}}}
    Job.objects.filter(pk=job.pk).update(params=params)
    job.params = params
    return url


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with full jitter: spreads a burst of retries out in time."""
    ceiling = settings.RETRY_BASE_SECONDS * (2 ** max(attempt - 1, 0))
    return timedelta(seconds=min(ceiling, 300) * random.uniform(0.5, 1.0))


def submit_task(*, task_id: UUID | str) -> None:
    """Send a pending task to the provider. Safe to run twice: only the run that
    claims the task (PENDING -> SUBMITTING) calls the provider, and it claims it only
    with a slot of its provider group (see operations.services.take_slot); otherwise
    the task waits, and is queued again when a slot frees or its wait is over."""
    now = timezone.now()
    with transaction.atomic():
        # Task row first, then its group's (the order every guardrail takes them in).
        pending = Task.objects.select_for_update().filter(pk=task_id, status=TaskStatus.PENDING).first()
        if pending is None:
            return
        decision = guardrails.take_slot(task=pending, now=now)
        if not decision.granted:
            mark_waiting(pending.pk, reason=decision.reason, until=decision.retry_at)
            if decision.retry_at is not None:
                enqueue_submit_task(pending.pk, run_after=decision.retry_at)
        else:
            task = transition_task(
                pending.pk,
                TaskStatus.SUBMITTING,
                only_from=[TaskStatus.PENDING],
                submit_attempts=lambda t: t.submit_attempts + 1,
                lease_until=now + timedelta(seconds=settings.SUBMIT_GRACE_SECONDS),
                next_attempt_at=None,
                # Its maximum age counts from here: the time it waited does not count.
                sent_at=now,
            )
    if not decision.granted:
        if decision.reason == Waiting.BREAKER:
            # Its model is unavailable: made with its fallback instead, if allowed
            # (after the commit: the group's lock is not held while planning).
            fallback.fall_back(task_id=pending.pk)
        return

    try:
        request_id = fal.submit(
            endpoint=task.endpoint, arguments=_provider_arguments(task), webhook_url=webhook_url_for(task)
        )
    except ProviderError as error:
        _after_submit_error(task, error)
        return

    guardrails.record_provider_success(endpoint=task.endpoint)
    submitted_at = timezone.now()
    try:
        transition_task(
            task.pk,
            TaskStatus.QUEUED,
            only_from=[TaskStatus.SUBMITTING],
            request_id=request_id,
            submitted_at=submitted_at,
            poll_after=polling.first_check(endpoint=task.endpoint, submitted_at=submitted_at),
            status_polls=0,
            lease_until=None,
            error_kind="",
            error_message="",
        )
    except TransitionRefused as refused:
        # The webhook got here first, or the user cancelled meanwhile. Keep the id.
        Task.objects.filter(pk=task.pk, request_id="").update(request_id=request_id)
        if refused.current == TaskStatus.CANCELLED:
            enqueue_cancel_at_provider(task.pk)


def _after_submit_error(task: Task, error: ProviderError) -> None:
    logger.warning("submit of task %s failed (%s): %s", task.pk, error.kind, error.detail)
    group = None
    if guardrails.is_provider_side(kind=error.kind, status_code=error.status_code):
        group = guardrails.record_provider_failure(endpoint=task.endpoint, status_code=error.status_code, detail=error.detail)
    if error.request_may_exist:
        # The request may have reached the provider: resubmitting now could pay for
        # it twice. Stay SUBMITTING; its webhook (the URL names the task) claims it,
        # or the reconciler decides once the lease runs out.
        Task.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(
            error_kind=error.kind, error_detail=error.detail, updated_at=timezone.now()
        )
        return
    fields = {"error_kind": error.kind, "error_message": error.message, "error_detail": error.detail}
    if group is not None and not group.is_closed:
        # The model is unavailable: the task waits for it instead of failing, and
        # starts again from its first attempt once the breaker lets it through.
        with transaction.atomic():
            if try_transition_task(
                task.pk,
                TaskStatus.PENDING,
                only_from=[TaskStatus.SUBMITTING],
                waiting=Waiting.BREAKER,
                submit_attempts=0,
                next_attempt_at=group.probe_after,
                lease_until=None,
                **fields,
            ):
                guardrails.note_waiting(endpoint=task.endpoint)
                if group.probe_after is not None:
                    enqueue_submit_task(task.pk, run_after=group.probe_after)
        fallback.fall_back(task_id=task.pk)
        return
    # A refused move below means the task was cancelled or claimed by a webhook meanwhile.
    if error.retryable and task.submit_attempts < settings.SUBMIT_MAX_ATTEMPTS:
        run_after = timezone.now() + retry_delay(task.submit_attempts)
        with transaction.atomic():
            if try_transition_task(
                task.pk,
                TaskStatus.PENDING,
                only_from=[TaskStatus.SUBMITTING],
                next_attempt_at=run_after,
                lease_until=None,
                **fields,
            ):
                enqueue_submit_task(task.pk, run_after=run_after)
        return
    if error.retryable:
        if error.short:
            gave_up = gettext_noop("%(reason)s. Gave up after %(attempts)s attempts.")
        else:
            gave_up = gettext_noop("%(reason)s Gave up after %(attempts)s attempts.")
        fields["error_message"] = said(gave_up, reason=error.short or error.message, attempts=task.submit_attempts)
    with transaction.atomic():
        # No request of it reached the provider: a provider failure may be made good
        # with the model's fallback (never a refused input: see generation.fallback).
        if try_transition_task(task.pk, TaskStatus.FAILED, only_from=[TaskStatus.SUBMITTING], **fields):
            fallback.fall_back(task_id=task.pk)


def cancel_at_provider(*, task_id: UUID | str, attempt: int = 1) -> None:
    """Ask the provider to stop a cancelled task's request. Failures are retried a few
    times with backoff; the task is cancelled on our side whatever the provider says,
    and a result that still arrives is recorded and ignored."""
    task = Task.objects.get(pk=task_id)
    if not task.request_id:
        return
    try:
        fal.cancel(endpoint=task.endpoint, request_id=task.request_id)
    except ProviderError as error:
        if error.retryable and attempt < settings.CANCEL_MAX_ATTEMPTS:
            run_after = timezone.now() + retry_delay(attempt)
            enqueue_cancel_at_provider(task.pk, attempt=attempt + 1, run_after=run_after)
            logger.warning("provider cancel of task %s failed (attempt %d), will retry: %s", task.pk, attempt, error.detail)
        else:
            logger.error("provider cancel of task %s failed for good: %s", task.pk, error.detail)
        return
    logger.info("provider cancel requested for task %s (request %s)", task.pk, task.request_id)
