"""Writes of the generation pipeline: start, submit, webhook, retry, cancel.

Views, admin actions and background tasks call these; none of them holds a rule of
its own. Slow provider calls run outside any database transaction."""

from __future__ import annotations

import base64
import logging
import mimetypes
import random
from datetime import timedelta
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from generation import fal
from generation.catalog import get_model
from generation.fal import ProviderError
from generation.models import ErrorKind, Job, Task, TaskStatus
from generation.transitions import TransitionRefused, transition_task
from history.models import HistoryItem

logger = logging.getLogger(__name__)


def start_generation(
    *,
    user,
    model_key: str,
    prompt: str,
    duration: int,
    aspect_ratio: str = "",
    negative_prompt: str = "",
    seed: int | None = None,
    image: UploadedFile | None = None,
) -> Job:
    """Create a job with its task and gallery card and queue the submission, all in one
    transaction: either the user's request is fully recorded and will be worked on, or
    nothing is. Inputs are validated by `generation.forms.GenerationForm`."""
    from generation import tasks  # the task module imports this one

    spec = get_model(model_key)
    params = {
        "duration": duration,
        "aspect_ratio": aspect_ratio,
        "negative_prompt": negative_prompt,
        "seed": seed,
    }
    arguments = spec.build_arguments(
        prompt=prompt,
        duration=duration,
        aspect_ratio=aspect_ratio,
        negative_prompt=negative_prompt,
        seed=seed,
    )
    with transaction.atomic():
        job = Job(user=user, model_key=spec.key, prompt=prompt, params=params)
        if image is not None and spec.takes_image:
            job.input_image.save(image.name, image, save=False)
        job.save()
        task = Task.objects.create(job=job, endpoint=spec.endpoint, arguments=arguments)
        HistoryItem.objects.create(user=user, task=task)
        tasks.submit_generation.enqueue(str(task.pk))
    logger.info("job %s started: task %s on %s", job.pk, task.pk, spec.endpoint)
    return job


def webhook_url_for(task: Task) -> str:
    query = urlencode({"task": str(task.pk), "token": task.webhook_token})
    return f"{settings.PUBLIC_BASE_URL}{reverse('generation:fal-webhook')}?{query}"


def _provider_arguments(task: Task) -> dict:
    """The stored arguments plus the input image, inlined as a data URI (fal accepts
    them, and it spares us a public URL for a private upload)."""
    arguments = dict(task.arguments)
    job = task.job
    if job.input_image and job.model_spec.takes_image:
        with job.input_image.open("rb") as handle:
            data = handle.read()
        mime = mimetypes.guess_type(job.input_image.name)[0] or "image/png"
        arguments["image_url"] = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return arguments


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with full jitter: spreads a burst of retries out in time."""
    ceiling = settings.RETRY_BASE_SECONDS * (2 ** max(attempt - 1, 0))
    return timedelta(seconds=min(ceiling, 300) * random.uniform(0.5, 1.0))


def submit_task(*, task_id: UUID | str) -> None:
    """Send a pending task to the provider. Safe to run twice: only the run that
    claims the task (PENDING -> SUBMITTING) calls the provider."""
    from generation import tasks

    now = timezone.now()
    try:
        task = transition_task(
            task_id,
            TaskStatus.SUBMITTING,
            only_from=[TaskStatus.PENDING],
            submit_attempts=lambda t: t.submit_attempts + 1,
            lease_until=now + timedelta(seconds=settings.SUBMIT_GRACE_SECONDS),
            next_attempt_at=None,
        )
    except (TransitionRefused, Task.DoesNotExist):
        return

    try:
        request_id = fal.submit(
            endpoint=task.endpoint, arguments=_provider_arguments(task), webhook_url=webhook_url_for(task)
        )
    except ProviderError as error:
        _after_submit_error(task, error)
        return

    try:
        transition_task(
            task.pk,
            TaskStatus.QUEUED,
            only_from=[TaskStatus.SUBMITTING],
            request_id=request_id,
            submitted_at=timezone.now(),
            lease_until=None,
            error_kind="",
            error_message="",
        )
    except TransitionRefused as refused:
        # The webhook got here first, or the user cancelled meanwhile. Keep the id.
        Task.objects.filter(pk=task.pk, request_id="").update(request_id=request_id)
        if refused.current == TaskStatus.CANCELLED:
            tasks.cancel_at_provider.enqueue(str(task.pk))


def _after_submit_error(task: Task, error: ProviderError) -> None:
    from generation import tasks

    logger.warning("submit of task %s failed (%s): %s", task.pk, error.kind, error.detail)
    if error.request_may_exist:
        # The request may have reached the provider: resubmitting now could pay for
        # it twice. Stay SUBMITTING; its webhook (the URL names the task) claims it,
        # or the reconciler decides once the lease runs out.
        Task.objects.filter(pk=task.pk, status=TaskStatus.SUBMITTING).update(
            error_kind=error.kind, error_detail=error.detail, updated_at=timezone.now()
        )
        return
    fields = {"error_kind": error.kind, "error_message": error.message, "error_detail": error.detail}
    try:
        if error.retryable and task.submit_attempts < settings.SUBMIT_MAX_ATTEMPTS:
            run_after = timezone.now() + retry_delay(task.submit_attempts)
            with transaction.atomic():
                transition_task(
                    task.pk,
                    TaskStatus.PENDING,
                    only_from=[TaskStatus.SUBMITTING],
                    next_attempt_at=run_after,
                    lease_until=None,
                    **fields,
                )
                tasks.submit_generation.using(run_after=run_after).enqueue(str(task.pk))
        else:
            if error.retryable:
                fields["error_message"] = f"{error.message.split(';')[0]}. Gave up after {task.submit_attempts} attempts."
            transition_task(task.pk, TaskStatus.FAILED, only_from=[TaskStatus.SUBMITTING], **fields)
    except TransitionRefused:
        pass  # cancelled or claimed by a webhook meanwhile


def fail_task(*, task_id: UUID | str, kind: ErrorKind, message: str, detail: str = "") -> bool:
    """Finish a task as failed, unless it has already finished. Returns whether it moved."""
    try:
        transition_task(task_id, TaskStatus.FAILED, error_kind=kind, error_message=message[:500], error_detail=detail)
    except TransitionRefused:
        return False
    return True


def accept_result(*, task_id: UUID | str, request_id: str, video_url: str) -> bool:
    """The provider finished: record where the video is and queue its download.
    Returns False (and changes nothing) when the task is past that point already."""
    from generation import tasks

    try:
        with transaction.atomic():
            task = transition_task(
                task_id,
                TaskStatus.DOWNLOADING,
                only_from=[TaskStatus.SUBMITTING, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS],
                result_url=video_url,
                request_id=lambda t: t.request_id or request_id,
                queue_position=None,
                lease_until=None,
                error_kind="",
                error_message="",
            )
            tasks.download_generation.enqueue(str(task.pk))
    except TransitionRefused:
        return False
    return True


def apply_provider_outcome(*, task: Task, request_id: str, status: str, payload, error: str | None) -> bool:
    """Apply a finished request's outcome (from a webhook or a status poll) to its
    task. Returns whether the task changed; False means duplicate or late."""
    if status == "OK":
        video = (payload or {}).get("video") if isinstance(payload, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        if isinstance(url, str) and url:
            return accept_result(task_id=task.pk, request_id=request_id, video_url=url)
        return fail_task(
            task_id=task.pk,
            kind=ErrorKind.PROVIDER,
            message="The model finished but returned no video.",
            detail=f"payload without video url: {str(payload)[:2000]}",
        )
    reason = (error or "unknown error").strip()
    return fail_task(
        task_id=task.pk,
        kind=ErrorKind.PROVIDER,
        message=f"The model could not make this video: {reason[:300]}",
        detail=f"provider status {status}: {reason}\npayload: {str(payload)[:2000]}",
    )


def retry_task(*, task: Task) -> Task:
    """Start a new attempt of a failed or cancelled task. The old attempt stays on
    record (`retried_from`); the gallery card moves to the new one."""
    from generation import tasks

    with transaction.atomic():
        old = Task.objects.select_for_update().get(pk=task.pk)
        if not old.can_retry:
            raise TransitionRefused(old, TaskStatus.PENDING)
        new = Task.objects.create(job=old.job, retried_from=old, endpoint=old.endpoint, arguments=old.arguments)
        HistoryItem.objects.filter(task=old).update(task=new)
        tasks.submit_generation.enqueue(str(new.pk))
    logger.info("task %s retried as %s", old.pk, new.pk)
    return new


def cancel_task(*, task: Task) -> Task:
    """Stop a task that has not finished. If it may be at the provider, ask the
    provider to stop it too (a request, not a guarantee: its webhook is then a no-op)."""
    from generation import tasks

    with transaction.atomic():
        cancelled = transition_task(
            task.pk,
            TaskStatus.CANCELLED,
            error_kind=ErrorKind.CANCELLED,
            error_message="Cancelled.",
        )
        if cancelled.request_id:  # it reached the provider
            tasks.cancel_at_provider.enqueue(str(cancelled.pk))
    return cancelled


def cancel_at_provider(*, task_id: UUID | str) -> None:
    task = Task.objects.get(pk=task_id)
    if not task.request_id:
        return
    try:
        fal.cancel(endpoint=task.endpoint, request_id=task.request_id)
    except ProviderError as error:
        logger.warning("provider cancel of task %s failed: %s", task.pk, error.detail)
