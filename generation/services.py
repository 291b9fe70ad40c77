"""Writes of the generation pipeline: start, apply a provider outcome, retry, cancel.

Views, admin actions and background tasks call these; none of them holds a rule of
its own. Slow provider calls run outside any database transaction."""

from __future__ import annotations

import logging
from uuid import UUID

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from generation.catalog import get_model
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


