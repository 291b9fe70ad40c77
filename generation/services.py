"""Writes of the generation pipeline: start, apply a provider outcome, retry, cancel.

Views, admin actions and background tasks call these; none of them holds a rule of
its own. Slow provider calls run outside any database transaction."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext, gettext_noop, ngettext

from accounts.services import ensure_may_start
from credits.models import EntryKind
from credits.selectors import entries_for_tasks
from credits.services import reserve_for_tasks
from generation.fal_errors import FalFailure, model_failure_message, read_webhook_error
from generation.models import ErrorKind, Job, Task, TaskStatus, Waiting
from generation.planning import SEED_LIMIT, JobMode, plan_job
from generation.request_keys import REQUEST_KEY_MAX_LENGTH, RequestKeyReused, request_digest
from generation.rules import CheckedRequest, RequestRefused, check_input_images, check_request
from generation.tasks import enqueue_cancel_at_provider, enqueue_download_result, enqueue_submit_task
from generation.transitions import TransitionRefused, can_move, new_attempt, transition_task, try_transition_task
from history.models import HistoryItem
from history.services import create_cards, move_card
from operations import services as guardrails
from projects.services import ProjectRefused, place_items

logger = logging.getLogger(__name__)

# The forms admit PNG, JPEG and WebP images only (checked by reading them).
IMAGE_SUFFIXES = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg", ".webp": ".webp"}


def start_generation(
    *,
    user,
    model_key: str,
    prompt: str,
    duration: int | None = None,
    styles: Sequence[str] = (),
    aspect_ratios: Sequence[str] = (),
    aspect_ratio: str = "",
    mode: str = JobMode.SINGLE,
    count: int | None = 1,
    negative_prompt: str = "",
    seed: int | None = None,
    resolution: str = "",
    audio: bool | None = None,
    image: UploadedFile | None = None,
    end_image: UploadedFile | None = None,
    request_key: str = "",
    project=None,
    allow_fallback: bool = True,
) -> Job:
    """Create a job with a task and a gallery card per planned video, hold their
    credits and queue their submission, all in one transaction: either the request is
    fully recorded and will be worked on, or nothing is. The request rules
    (`generation.rules.check_request`) are enforced here, whoever calls: RequestRefused
    names every broken rule by field; CreditRefused says why the credits or the daily
    limit do not allow it, AccountSuspended that staff have suspended the user.
    `aspect_ratio` is shorthand for one ratio.

    With a `request_key`, the key makes one job for this user: a repeat of the same
    request (a double press, a resent API call, two at once) returns the first job,
    marked `replayed`, and changes nothing; the key with a different request raises
    RequestKeyReused (see generation.request_keys). With a `project` (the user's own),
    the new videos go into its first free slots in the same transaction.
    `allow_fallback` lets a video be made with the model's fallback when the model is
    unavailable or fails (generation.fallback); stored with the job."""
    digest = ""
    if request_key:
        if len(request_key) > REQUEST_KEY_MAX_LENGTH:
            raise RequestRefused({"request_key": [gettext("At most %(max)s characters.") % {"max": REQUEST_KEY_MAX_LENGTH}]})
        digest = request_digest(
            model_key=model_key, prompt=prompt, duration=duration, styles=styles, aspect_ratios=aspect_ratios,
            aspect_ratio=aspect_ratio, mode=mode, count=count, negative_prompt=negative_prompt, seed=seed,
            resolution=resolution, audio=audio, image=image, end_image=end_image,
            # Named only when off, so that keys sent before the choice existed still match.
            **({} if allow_fallback else {"allow_fallback": False}),
        )
        earlier = _job_for_key(user=user, request_key=request_key, digest=digest)
        if earlier is not None:
            return earlier
    ensure_may_start(user=user)
    if project is not None and project.user_id != user.pk:
        raise ProjectRefused(gettext("That project is not yours."))
    if aspect_ratio and not aspect_ratios:
        aspect_ratios = [aspect_ratio]
    checked = check_request(
        model_key=model_key, prompt=prompt, duration=duration, styles=styles, aspect_ratios=aspect_ratios,
        mode=mode, count=count, seed=seed, negative_prompt=negative_prompt, resolution=resolution, audio=audio,
        image=image is not None, end_image=end_image is not None,
    )
    spec, plan = checked.spec, checked.plan
    check_input_images(spec=spec, image=image, end_image=end_image)
    if spec.seed and seed is None:
        # Send a seed we chose rather than let the model pick one we never learn: the
        # detail page shows the seed used, and a repeated combination gets a new one.
        plan = plan_job(
            spec=spec, styles=styles, aspect_ratios=aspect_ratios, mode=mode, count=count or 1,
            seed=secrets.randbelow(SEED_LIMIT),
        )
    params = {
        "duration": checked.duration,
        "resolution": checked.resolution,
        "audio": checked.audio,
        "styles": list(plan.styles),
        "aspect_ratios": [ratio for ratio in plan.aspect_ratios if ratio],
        "mode": mode,
        "count": plan.count,
        "negative_prompt": checked.negative_prompt,
        "seed": seed,
    }
    # The uploads go to storage first (with object storage, a slow network write),
    # never while the transaction below holds the user's wallet locked; a refusal
    # or any failure below removes them again.
    stored = {"input_image": "", "input_end_image": ""}
    try:
        if image is not None:
            stored["input_image"] = _store_input_image(image)
        if end_image is not None:
            stored["input_end_image"] = _store_input_image(end_image)
        try:
            job, new_tasks = _record_job(
                user=user, checked=checked, plan=plan, params=params, stored=stored,
                request_key=request_key, digest=digest, project=project, allow_fallback=allow_fallback,
            )
        except IntegrityError:
            # The same key committed by a request running at the same time: ours rolled
            # back whole (nothing reserved, nothing queued); answer with theirs.
            earlier = _job_for_key(user=user, request_key=request_key, digest=digest) if request_key else None
            if earlier is None:
                raise
            _delete_stored(stored)
            return earlier
    except BaseException:
        _delete_stored(stored)
        raise
    logger.info("job %s started: %d task(s) on %s", job.pk, len(new_tasks), spec.endpoint)
    return job


def _delete_stored(stored: dict) -> None:
    for name in stored.values():
        if name:
            default_storage.delete(name)


def _job_for_key(*, user, request_key: str, digest: str) -> Job | None:
    """The job this key already made, if any; RequestKeyReused if it was made for
    another request."""
    job = Job.objects.filter(user=user, request_key=request_key).first()
    if job is None:
        return None
    if job.request_digest != digest:
        raise RequestKeyReused(job)
    job.replayed = True
    logger.info("job %s: request key repeated, no new job", job.pk)
    return job


def _store_input_image(image: UploadedFile) -> str:
    # A random name: the uploader's own file name is neither kept (it may say who
    # they are, and may be longer than the column) nor guessable by anyone else.
    suffix = IMAGE_SUFFIXES.get(Path(image.name or "").suffix.lower(), ".png")
    return default_storage.save(f"inputs/{secrets.token_hex(16)}{suffix}", image)


def _record_job(
    *, user, checked: CheckedRequest, plan, params, stored, request_key: str, digest: str, project, allow_fallback: bool
) -> tuple[Job, list[Task]]:
    spec = checked.spec
    with transaction.atomic():
        # The job row first: a second request with the same key waits here (the
        # unique index) until the first commits, before it has locked or queued anything.
        job = Job.objects.create(
            user=user, model_key=spec.key, prompt=checked.prompt, params=params,
            request_key=request_key, request_digest=digest, allow_fallback=bool(allow_fallback), **stored,
        )
        # Beyond what its provider group can take now, a video starts waiting for a
        # slot and is woken in the queue's order (operations.services.wake_waiting).
        send = guardrails.sendable_at_once(endpoint=spec.endpoint, count=plan.count)
        new_tasks = Task.objects.bulk_create(
            Task(
                job=job,
                endpoint=spec.endpoint,
                variant_index=variant.index,
                style=variant.style,
                aspect_ratio=variant.aspect_ratio,
                seed=variant.seed if spec.seed else None,
                arguments=checked.arguments_for(variant),
                waiting=Waiting.NOT_WAITING if number < send else Waiting.SLOT,
            )
            for number, variant in enumerate(plan.variants)
        )
        reserve_for_tasks(user=user, tasks=new_tasks)
        cards = create_cards(user=user, tasks=new_tasks)
        if project is not None:
            place_items(project=project, items=cards)
        for task in new_tasks[:send]:
            enqueue_submit_task(task.pk)
        if send < len(new_tasks):
            guardrails.note_waiting(endpoint=spec.endpoint)
    return job, new_tasks


def fail_task(*, task_id: UUID | str, kind: ErrorKind, message: str, detail: str = "", seen: Task | None = None) -> bool:
    """Finish a task as failed, unless it has already finished. Returns whether it moved.
    `seen`: the caller's own read of the task, if any (see `transition_task`)."""
    return try_transition_task(
        task_id, TaskStatus.FAILED, seen=seen, error_kind=kind, error_message=message, error_detail=detail
    )


# Where a task may take the provider's result from: a webhook may overtake the submit
# step's own answer (SUBMITTING).
RESULT_ACCEPTED_FROM = (TaskStatus.SUBMITTING, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS)


def accept_result(*, task_id: UUID | str, request_id: str, video_url: str, seen: Task | None = None) -> bool:
    """The provider finished: record where the video is and queue its download.
    Returns False (and changes nothing) when the task is past that point already."""
    # Joins the caller's transaction as it is (the webhook records its delivery in it).
    with transaction.atomic(savepoint=False):
        moved = try_transition_task(
            task_id,
            TaskStatus.DOWNLOADING,
            only_from=RESULT_ACCEPTED_FROM,
            seen=seen,
            result_url=video_url,
            request_id=lambda t: t.request_id or request_id,
            queue_position=None,
            lease_until=None,
            error_kind="",
            error_message="",
        )
        if moved:
            enqueue_download_result(task_id)
    return moved


def _video_url(payload) -> str | None:
    video = payload.get("video") if isinstance(payload, dict) else None
    url = video.get("url") if isinstance(video, dict) else None
    return url if isinstance(url, str) and url else None


def provider_outcome_move(*, task: Task, status: str, payload) -> TaskStatus | None:
    """Where a finished request's outcome (fal's webhook terms) would move the task as
    read, or None when the task is past that point: a duplicate or late outcome, to
    be answered without trying the move."""
    if status == "OK" and _video_url(payload):
        return TaskStatus.DOWNLOADING if task.status in RESULT_ACCEPTED_FROM else None
    return TaskStatus.FAILED if can_move(task.status, TaskStatus.FAILED) else None


def apply_provider_outcome(
    *, task: Task, request_id: str, status: str, payload, error: str | None, payload_error: str | None = None
) -> bool:
    """Apply a finished request's outcome (from a webhook or a status poll) to its
    task (as the caller read it), in fal's webhook terms. Returns whether the task
    changed; False means duplicate or late."""
    if status == "OK":
        url = _video_url(payload)
        if url:
            return accept_result(task_id=task.pk, request_id=request_id, video_url=url, seen=task)
        return fail_task(
            task_id=task.pk,
            seen=task,
            kind=ErrorKind.PROVIDER,
            message=gettext_noop("The model finished but returned no video."),
            detail=f"payload without video url: {str(payload)[:2000]}; payload_error: {payload_error}",
        )
    failure = read_webhook_error(error=error, payload=payload, payload_error=payload_error)
    return apply_provider_failure(
        task=task,
        failure=failure,
        detail=f"provider status {status}: {error}\npayload: {str(payload)[:2000]}\npayload_error: {payload_error}",
    )


def watch_progress(*, task_ids) -> None:
    """Someone has these tasks' cards open: ask the provider about their progress now
    and then while they stay open (generation.polling decides how often)."""
    from generation import polling

    polling.watch(task_ids=task_ids)


def apply_provider_failure(*, task: Task, failure: FalFailure, detail: str) -> bool:
    """The model refused or failed the request: fail the task with fal's reason,
    field by field, and the kind fal's error type says. A provider failure (not a
    refused input) is then made good with the model's fallback if the job allows it:
    the request is finished at fal, so a new one cannot pay twice (generation.fallback)."""
    from generation.fallback import fall_back

    with transaction.atomic():
        failed = fail_task(task_id=task.pk, kind=failure.kind, message=model_failure_message(failure), detail=detail, seen=task)
        if failed:
            fall_back(task_id=task.pk)
    return failed


def retry_task(*, task: Task) -> Task:
    """Start a new attempt of a failed or cancelled task (see
    `generation.transitions.new_attempt`: the old attempt stays on record, and a video
    that was made but could not be downloaded is downloaded again, not generated
    again). The gallery card moves to the new attempt. The new attempt holds credits of
    its own (the old one's came back when it finished), so a retry may be refused with
    CreditRefused (or AccountSuspended) like a new job."""
    with transaction.atomic():
        ensure_may_start(user=task.job.user)
        # The card is what the user would see the new video on: without it (deleted)
        # a retry would charge for a video nobody can see. Locked, so a delete of the
        # card cannot slip in between this check and the move below.
        if not list(HistoryItem.objects.select_for_update().filter(task=task).values_list("pk", flat=True)):
            raise TransitionRefused(task, TaskStatus.PENDING)
        new = new_attempt(task.pk)
        reserve_for_tasks(user=task.job.user, tasks=[new])
        move_card(from_task=task, to_task=new)
        redownload = new.status == TaskStatus.DOWNLOADING
        (enqueue_download_result if redownload else enqueue_submit_task)(new.pk)
    logger.info("task %s retried as %s (%s)", task.pk, new.pk, "download again" if redownload else "generate again")
    return new


def cancel_task(*, task: Task) -> Task:
    """Stop a task that has not finished. If it may be at the provider, ask the
    provider to stop it too (a request, not a guarantee: its webhook is then a no-op)."""
    with transaction.atomic():
        cancelled = transition_task(
            task.pk,
            TaskStatus.CANCELLED,
            error_kind=ErrorKind.CANCELLED,
            error_message=gettext_noop("Cancelled."),
        )
        if cancelled.request_id:  # it reached the provider
            enqueue_cancel_at_provider(cancelled.pk)
    return cancelled


@dataclass(frozen=True)
class JobCancellation:
    """What cancelling a job did, for the page or the API to report."""

    cancelled: int = 0
    asked_provider: int = 0
    saving: int = 0
    finished: int = 0
    credits_released: int = 0

    @property
    def message(self) -> str:
        parts = []
        if self.cancelled:
            videos = ngettext("%(n)s video", "%(n)s videos", self.cancelled) % {"n": self.cancelled}
            if self.credits_released:
                credits = ngettext("%(n)s credit", "%(n)s credits", self.credits_released) % {"n": self.credits_released}
                parts.append(gettext("Cancelled %(videos)s and returned %(credits)s") % {"videos": videos, "credits": credits})
            else:
                parts.append(gettext("Cancelled %(videos)s") % {"videos": videos})
        if self.asked_provider:
            parts.append(gettext("%(count)s had reached the provider, which was asked to stop") % {"count": self.asked_provider})
        if self.finished:
            parts.append(
                ngettext("%(count)s was already finished", "%(count)s were already finished", self.finished) % {"count": self.finished}
            )
        if self.saving:
            parts.append(
                ngettext("%(count)s is being saved and will complete", "%(count)s are being saved and will complete", self.saving)
                % {"count": self.saving}
            )
        if not self.cancelled and not self.saving:
            return gettext("Nothing to cancel: every video of this job has finished.")
        return "; ".join(parts) + "."


def cancel_job(*, job: Job) -> JobCancellation:
    """Cancel every unfinished video of a job (its current attempts; older attempts
    finished long ago). A video being saved cannot be stopped and will complete; the
    settlement in `transition_task` returns the credits of the cancelled ones."""
    counts = {"asked_provider": 0, "saving": 0, "finished": 0}
    cancelled_ids = []
    for task in job.tasks.current().order_by("variant_index"):
        try:
            cancelled = cancel_task(task=task)
        except TransitionRefused as refused:
            counts["saving" if refused.current == TaskStatus.DOWNLOADING else "finished"] += 1
            continue
        cancelled_ids.append(cancelled.pk)
        if cancelled.request_id:
            counts["asked_provider"] += 1
    released = entries_for_tasks(cancelled_ids, kind=EntryKind.RELEASE)
    logger.info("job %s cancelled: %d task(s), %d credit(s) released", job.pk, len(cancelled_ids), released)
    return JobCancellation(cancelled=len(cancelled_ids), credits_released=released, **counts)
