"""Staff repairs of finished work: fetching a completed video again.

The fetching, checking and storing are the download step's own (`generation.downloads`),
the provider call is `generation.fal`'s, and the card is rewritten by
`history.services`; this module only decides which source to try and what to say
about it. A re-download never moves the task or its credits: the video was charged
once, when it completed, and stays so."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from uuid import UUID

from django.core.files.storage import default_storage
from django.db import models

from audit.models import Result
from audit.services import Outcome, finish_staff_action
from generation import fal
from generation.downloads import DownloadError, StoredVideo, fetch_and_store
from generation.fal import ProviderError
from generation.models import ErrorKind, Task, TaskStatus
from generation.tasks import enqueue_redownload_video
from history.models import HistoryItem
from history.services import replace_video

logger = logging.getLogger(__name__)


class RepairRefused(Exception):
    """The object is not in a state this repair applies to; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class RedownloadOutcome(models.TextChoices):
    REDOWNLOADED = "redownloaded", "Re-downloaded"
    URL_EXPIRED = "url_expired", "URL expired"
    NOT_FOUND = "not_found", "Not found"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused"


@dataclass(frozen=True)
class Redownload:
    outcome: RedownloadOutcome
    message: str
    source: str = ""


def ensure_redownloadable(*, task: Task) -> None:
    if task.status != TaskStatus.COMPLETED:
        raise RepairRefused(f"Only a completed video can be re-downloaded; this one is {task.get_status_display().lower()}.")
    if not HistoryItem.objects.filter(task=task).exists():
        raise RepairRefused("Its card was deleted, so there is nothing to put the video back into.")


def queue_redownload(*, task: Task, audit_entry_id: int | None = None) -> None:
    """Check that the task can be re-downloaded (RepairRefused if not) and queue the
    slow part for a worker (`run_redownload`); its outcome goes to the audit entry,
    when there is one."""
    ensure_redownloadable(task=task)
    enqueue_redownload_video(task.pk, audit_entry_id=audit_entry_id)


_AUDIT_RESULTS = {RedownloadOutcome.REDOWNLOADED: Result.DONE, RedownloadOutcome.REFUSED: Result.REFUSED}


def run_redownload(*, task_id: UUID | str, audit_entry_id: int | None = None) -> Redownload:
    """The background step: re-download, and record the outcome in the audit log
    (an unexpected error too, before it propagates)."""
    try:
        done = redownload_video(task_id=task_id)
    except Exception as exc:
        if audit_entry_id is not None:
            failed = Outcome(Result.FAILED, f"Something went wrong: {type(exc).__name__}: {exc}", "error")
            finish_staff_action(entry_id=audit_entry_id, outcome=failed)
        raise
    if audit_entry_id is not None:
        outcome = Outcome(_AUDIT_RESULTS.get(done.outcome, Result.FAILED), done.message, str(done.outcome))
        finish_staff_action(entry_id=audit_entry_id, outcome=outcome)
    return done


def redownload_video(*, task_id: UUID | str) -> Redownload:
    """Fetch a completed task's video again and replace the stored file and poster
    with it. Tries the result URL we were given first; when the media host says that
    link is gone, asks the provider for the result again by request id and tries the
    link it gives. Safe to run twice: each run stores a complete new pair, swaps it
    in, and removes the pair it replaced."""
    task = Task.objects.select_related("job").get(pk=task_id)
    try:
        ensure_redownloadable(task=task)
    except RepairRefused as refused:
        return Redownload(RedownloadOutcome.REFUSED, refused.message)

    if task.result_url:
        stored, error = _fetch(task, task.result_url)
        if stored is not None:
            return _swap_in(task, stored, source="the result URL")
        if not error.link_gone:
            return Redownload(RedownloadOutcome.FAILED, f"The result URL did not give a usable video: {error.message}")
    return _ask_provider_again(task)


def _ask_provider_again(task: Task) -> Redownload:
    if not task.request_id:
        if task.result_url:
            return Redownload(RedownloadOutcome.URL_EXPIRED, "The result URL has expired, and there is no request id to ask the provider with.")
        return Redownload(RedownloadOutcome.NOT_FOUND, "There is neither a result URL nor a request id for this video.")
    try:
        report = fal.fetch_result(endpoint=task.endpoint, request_id=task.request_id)
    except ProviderError as error:
        if getattr(error, "status_code", None) == 404 or error.kind == ErrorKind.VALIDATION:
            # The provider does not know the request (any more).
            return Redownload(RedownloadOutcome.NOT_FOUND, f"The provider no longer has request {task.request_id}.")
        return Redownload(RedownloadOutcome.FAILED, f"Could not ask the provider for the result: {error.message}")
    if report.failure is not None or not isinstance(report.output, dict):
        return Redownload(RedownloadOutcome.NOT_FOUND, "The provider has no video result for this request.")
    video = report.output.get("video")
    url = video.get("url") if isinstance(video, dict) else None
    if not isinstance(url, str) or not url:
        return Redownload(RedownloadOutcome.NOT_FOUND, "The provider's result for this request has no video.")
    if url == task.result_url:
        return Redownload(RedownloadOutcome.URL_EXPIRED, "The result URL has expired, and the provider gives the same link again.")
    stored, error = _fetch(task, url)
    if stored is None:
        if error.link_gone:
            return Redownload(RedownloadOutcome.URL_EXPIRED, "The link the provider gave has expired too.")
        return Redownload(RedownloadOutcome.FAILED, f"The provider's link did not give a usable video: {error.message}")
    # Keep the working link, for the next repair. Not a status change: a plain update.
    Task.objects.filter(pk=task.pk).update(result_url=url)
    return _swap_in(task, stored, source="a new link from the provider")


def _fetch(task: Task, url: str) -> tuple[StoredVideo | None, DownloadError | None]:
    try:
        return fetch_and_store(task, url=url, version=secrets.token_hex(4)), None
    except DownloadError as error:
        logger.warning("re-download of task %s from %s failed: %s", task.pk, url, error.detail)
        return None, error


def _swap_in(task: Task, stored: StoredVideo, *, source: str) -> Redownload:
    video_name, poster_name, facts, size, sha256 = (
        stored.video_name, stored.poster_name, stored.facts, stored.size_bytes, stored.sha256
    )
    replaced = replace_video(
        task_id=task.pk,
        video=video_name,
        poster=poster_name,
        content_type="video/mp4",
        duration_seconds=facts.duration_seconds,
        width=facts.width,
        height=facts.height,
        size_bytes=size,
        sha256=sha256,
    )
    if not replaced:
        default_storage.delete(video_name)
        default_storage.delete(poster_name)
        return Redownload(RedownloadOutcome.FAILED, "Its card was deleted while the video was being fetched.")
    logger.info("task %s re-downloaded from %s: %s", task.pk, source, video_name)
    return Redownload(
        RedownloadOutcome.REDOWNLOADED, f"Re-downloaded from {source} ({size} bytes, {facts.width}×{facts.height}).", source
    )
