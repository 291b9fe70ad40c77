"""Bringing a finished video home: fetch it from the provider's temporary URL into our
storage, prove it is a video, measure it and give it a poster.

The file is streamed to a temporary file (never held in memory), capped in size and
hashed while it streams, and handed to storage under a name made from the task's id,
so a second attempt overwrites the first instead of leaving an orphan beside it. Local
storage moves the temporary file into place (a rename when FILE_UPLOAD_TEMP_DIR is on
the same file system as MEDIA_ROOT, a copy otherwise); object storage reads it once,
streaming it up."""

from __future__ import annotations

import io
from collections.abc import Callable
import logging
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import av
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext_noop
from django.db.models import F, Q
from django.utils import timezone

from generation.fetch import DownloadError, LeaseLost, Target, check_url, checked_addresses, fetch_to_file
from generation.models import ErrorKind, Task, TaskStatus
from generation.services import fail_task
from generation.submission import retry_delay
from generation.tasks import enqueue_download_result
from generation.transitions import TransitionRefused, transition_task
from generation.said import said
from history.services import fill_card

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class VideoFacts:
    duration_seconds: float
    width: int
    height: int
    poster_jpeg: bytes


def check_source_url(url: str) -> Target:
    """The gate every hop of a download passes: the URL (see generation.fetch) and
    the addresses its host resolves to."""
    target = check_url(url)
    checked_addresses(target)
    return target


def probe_video(path: Path) -> VideoFacts:
    """Open the file with FFmpeg (PyAV): it must hold a decodable video stream."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DownloadError(gettext_noop("The file has no video in it."), "no video stream", retryable=False)
            stream = container.streams.video[0]
            if container.duration is not None:
                duration = container.duration / av.time_base
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = 0.0
            first_frame = next(container.decode(stream), None)
            if first_frame is None:
                raise DownloadError(gettext_noop("The video has no frames."), "no decodable frame", retryable=False)
            poster = io.BytesIO()
            first_frame.to_image().convert("RGB").save(poster, format="JPEG", quality=85)
            return VideoFacts(
                duration_seconds=round(duration, 3),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                poster_jpeg=poster.getvalue(),
            )
    except av.FFmpegError as exc:
        raise DownloadError(gettext_noop("The file is not a playable video."), f"ffmpeg: {exc}", retryable=False) from exc


def storage_names(task: Task, *, version: str = "") -> tuple[str, str]:
    """Where a task's video and poster are stored. A `version` gives a second pair of
    names beside the first, for a copy that replaces it only once complete."""
    day = task.created_at.strftime("%Y/%m/%d")
    stem = f"{task.pk}-{version}" if version else str(task.pk)
    return f"videos/{day}/{stem}.mp4", f"posters/{day}/{stem}.jpg"


class _TemporaryVideo(File):
    """The downloaded temporary file as storage sees it: like one of Django's
    uploads, it names its path, so that FileSystemStorage moves it into place instead
    of copying it (other storages read it as any file)."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _store(name: str, content) -> str:
    # Same task, same name: a leftover from an interrupted attempt is replaced, never
    # kept beside the new file under a suffixed name.
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, content)


def download_result(*, task_id: UUID | str) -> None:
    """The download step. Safe to run twice: a lease lets one run work at a time and a
    finished task is left alone.

    The lease's expiry time is also this run's claim ticket: it is renewed while bytes
    flow only if it is still the value this run wrote, and the task completes (or
    fails) only under the same condition. A run that stalls past its lease (frozen,
    paused) finds another worker's ticket there and stops without touching the task,
    so two workers never both save the same task's video."""
    holder = _claim(task_id)
    if holder is None:
        return
    task = Task.objects.get(pk=task_id)
    try:
        stored = _download_and_store(task, holder)
    except LeaseLost:
        logger.warning("download of task %s stopped: another worker holds it now", task.pk)
        return
    except DownloadError as error:
        _after_download_error(task, error, holder)
        return
    _complete(task, stored, holder)


class _LeaseHolder:
    """This run's hold on a download (see download_result)."""

    def __init__(self, *, task_id, lease):
        self.task_id = task_id
        self.lease = lease

    def still_ours(self, *, lock: bool = False) -> bool:
        rows = Task.objects.filter(pk=self.task_id, status=TaskStatus.DOWNLOADING, lease_until=self.lease)
        if lock:
            rows = rows.select_for_update()
        return rows.exists()

    def renew(self, _bytes_so_far: int = 0) -> None:
        now = timezone.now()
        renewed = now + timedelta(seconds=settings.DOWNLOAD_LEASE_SECONDS)
        moved = Task.objects.filter(pk=self.task_id, status=TaskStatus.DOWNLOADING, lease_until=self.lease).update(
            lease_until=renewed, updated_at=now
        )
        if not moved:
            raise LeaseLost()
        self.lease = renewed


def _claim(task_id: UUID | str) -> _LeaseHolder | None:
    """Take the lease on a downloading task (and count the attempt), or None when
    another run holds it or the task is no longer downloading."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.DOWNLOAD_LEASE_SECONDS)
    claimed = (
        Task.objects.filter(pk=task_id, status=TaskStatus.DOWNLOADING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_until=lease,
            download_attempts=F("download_attempts") + 1,
            next_attempt_at=None,
            updated_at=now,
        )
    )
    return _LeaseHolder(task_id=task_id, lease=lease) if claimed else None


def _after_download_error(task: Task, error: DownloadError, holder: _LeaseHolder) -> None:
    """Try again later with backoff while the error may pass and attempts remain;
    otherwise fail the task with the error's message. Either only while the lease is
    still this run's."""
    logger.warning("download of task %s failed: %s", task.pk, error.detail)
    if error.retryable and task.download_attempts < settings.DOWNLOAD_MAX_ATTEMPTS:
        run_after = timezone.now() + retry_delay(task.download_attempts)
        with transaction.atomic():
            released = Task.objects.filter(pk=task.pk, status=TaskStatus.DOWNLOADING, lease_until=holder.lease).update(
                lease_until=None, next_attempt_at=run_after, error_kind=ErrorKind.DOWNLOAD, error_detail=error.detail
            )
            if released:
                enqueue_download_result(task.pk, run_after=run_after)
        return
    message = error.message
    if error.retryable:
        message = said(
            gettext_noop("%(reason)s Gave up after %(attempts)s attempts."), reason=error.message, attempts=task.download_attempts
        )
    with transaction.atomic():
        if holder.still_ours(lock=True):
            fail_task(task_id=task.pk, kind=ErrorKind.DOWNLOAD, message=message, detail=error.detail)


def _complete(task: Task, stored: StoredVideo, holder: _LeaseHolder) -> None:
    """Finish the task and fill its card in one transaction. If the task finished
    otherwise meanwhile, the files just stored are removed again (unless another run
    completed it, whose card points at the same names); if another run holds the
    lease now, its files (under the same names) are left to it."""
    try:
        with transaction.atomic():
            if not holder.still_ours(lock=True):
                raise LeaseLost()
            transition_task(
                task.pk, TaskStatus.COMPLETED, only_from=[TaskStatus.DOWNLOADING], error_kind="", error_message=""
            )
            fill_card(
                task_id=task.pk,
                video=stored.video_name,
                poster=stored.poster_name,
                content_type="video/mp4",
                duration_seconds=stored.facts.duration_seconds,
                width=stored.facts.width,
                height=stored.facts.height,
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
            )
    except LeaseLost:
        logger.warning("task %s: lease lost before completing; the new holder finishes it", task.pk)
        return
    except TransitionRefused as refused:
        if refused.current != TaskStatus.COMPLETED:
            default_storage.delete(stored.video_name)
            default_storage.delete(stored.poster_name)
        return
    logger.info("task %s completed: %s (%d bytes)", task.pk, stored.video_name, stored.size_bytes)


@dataclass(frozen=True)
class StoredVideo:
    video_name: str
    poster_name: str
    facts: VideoFacts
    size_bytes: int
    sha256: str


def _download_and_store(task: Task, holder: _LeaseHolder) -> StoredVideo:
    return fetch_and_store(task, url=task.result_url, on_progress=holder.renew)


def fetch_and_store(
    task: Task, *, url: str, version: str = "", on_progress: Callable[[int], None] | None = None
) -> StoredVideo:
    """Fetch `url` with every check of the download step, prove it is a video, and
    store it and its poster under the task's names (see `storage_names`). Raises
    DownloadError. `on_progress` is called while bytes flow and once more before
    anything is written to storage (the download step renews its lease there)."""
    video_name, poster_name = storage_names(task, version=version)
    # Deleted when closed unless storage has moved it away (the deletion then finds
    # nothing, which tempfile accepts).
    with tempfile.NamedTemporaryFile(suffix=".mp4", dir=settings.FILE_UPLOAD_TEMP_DIR) as temporary:
        fetched = fetch_to_file(url, temporary, max_bytes=settings.DOWNLOAD_MAX_BYTES, on_progress=on_progress)
        size, sha256 = fetched.size, fetched.sha256
        temporary.flush()
        facts = probe_video(Path(temporary.name))  # reads the header and the first frame, not the whole file
        if on_progress is not None:
            on_progress(size)  # about to write into storage: make sure the task is still ours
        temporary.seek(0)
        video_name = _store(video_name, _TemporaryVideo(temporary, name=temporary.name))
    try:
        poster_name = _store(poster_name, ContentFile(facts.poster_jpeg))
    except Exception:
        default_storage.delete(video_name)
        raise
    return StoredVideo(video_name=video_name, poster_name=poster_name, facts=facts, size_bytes=size, sha256=sha256)
