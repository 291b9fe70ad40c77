"""Bringing a finished video home: fetch it from the provider's temporary URL into our
storage, prove it is a video, measure it and give it a poster.

The file is streamed to a temporary file (never held in memory), capped in size while
it streams, and copied into storage under a name made from the task's id, so a second
attempt overwrites the first instead of leaving an orphan beside it."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
import socket
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from uuid import UUID

import av
import requests
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from generation.models import ErrorKind, Task, TaskStatus
from generation.services import fail_task
from generation.submission import retry_delay
from generation.tasks import enqueue_download_result
from generation.transitions import TransitionRefused, transition_task
from history.services import fill_card

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
MAX_REDIRECTS = 3
ACCEPTED_CONTENT_TYPES = ("video/", "application/octet-stream", "binary/octet-stream")


class DownloadError(Exception):
    def __init__(self, message: str, detail: str = "", *, retryable: bool):
        super().__init__(message)
        self.message = message
        self.detail = detail or message
        self.retryable = retryable


@dataclass(frozen=True)
class VideoFacts:
    duration_seconds: float
    width: int
    height: int
    poster_jpeg: bytes


def _host_allowed(host: str) -> bool:
    host = host.lower().rstrip(".")
    for allowed in settings.FAL_MEDIA_HOSTS:
        allowed = allowed.lower()
        if allowed.startswith(".") and host.endswith(allowed):
            return True
        if host == allowed:
            return True
    return False


def _is_sandbox_url(url: str) -> bool:
    sandbox = settings.FAL_SANDBOX_URL
    if not sandbox:
        return False
    a, b = urlsplit(url), urlsplit(sandbox)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def check_source_url(url: str) -> None:
    """Refuse any URL we should not fetch: not https, not one of fal's media hosts
    (or the sandbox, when it is in use), or resolving to a private address."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise DownloadError("The result link is not a valid URL.", f"bad url {url!r}", retryable=False)
    if not _is_sandbox_url(url):
        if parts.scheme != "https":
            raise DownloadError("The result link is not secure (https).", f"refused scheme in {url!r}", retryable=False)
        if not _host_allowed(parts.hostname):
            raise DownloadError("The result came from a host we do not trust.", f"refused host in {url!r}", retryable=False)
    if settings.DOWNLOAD_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise DownloadError("Could not reach the result's host.", f"dns: {exc}", retryable=True) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise DownloadError(
                "The result came from a host we do not trust.", f"{parts.hostname} resolves to {address}", retryable=False
            )


def fetch_to_file(url: str, destination, *, max_bytes: int) -> tuple[int, str, str]:
    """Stream `url` into the open binary file `destination`.
    Returns (size, sha256 hex, content type)."""
    session = requests.Session()
    for _ in range(MAX_REDIRECTS + 1):
        check_source_url(url)
        try:
            response = session.get(
                url, stream=True, allow_redirects=False, timeout=(10, settings.DOWNLOAD_TIMEOUT_SECONDS)
            )
        except requests.RequestException as exc:
            raise DownloadError("Could not download the video.", f"GET {url}: {exc!r}", retryable=True) from exc
        if response.is_redirect and response.headers.get("Location"):
            url = urljoin(url, response.headers["Location"])
            response.close()
            continue
        break
    else:
        raise DownloadError("The result link redirected too many times.", f"last url {url}", retryable=False)

    with response:
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise DownloadError("The provider could not serve the video just now.", f"HTTP {response.status_code} from {url}", retryable=True)
        if response.status_code != 200:
            raise DownloadError("The provider no longer has this video.", f"HTTP {response.status_code} from {url}", retryable=False)
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type and not content_type.startswith(ACCEPTED_CONTENT_TYPES):
            raise DownloadError("The provider sent something that is not a video.", f"Content-Type {content_type!r} from {url}", retryable=True)
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise DownloadError("The video is larger than we accept.", f"Content-Length {declared} > {max_bytes}", retryable=False)

        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadError("The video is larger than we accept.", f"more than {max_bytes} bytes from {url}", retryable=False)
                digest.update(chunk)
                destination.write(chunk)
        except requests.RequestException as exc:
            raise DownloadError("The download was interrupted.", f"after {size} bytes: {exc!r}", retryable=True) from exc
        if declared and declared.isdigit() and size != int(declared):
            raise DownloadError("The download was interrupted.", f"got {size} of {declared} bytes", retryable=True)
    return size, digest.hexdigest(), content_type


def probe_video(path: Path) -> VideoFacts:
    """Open the file with FFmpeg (PyAV): it must hold a decodable video stream."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DownloadError("The file has no video in it.", "no video stream", retryable=False)
            stream = container.streams.video[0]
            if container.duration is not None:
                duration = container.duration / av.time_base
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = 0.0
            first_frame = next(container.decode(stream), None)
            if first_frame is None:
                raise DownloadError("The video has no frames.", "no decodable frame", retryable=False)
            poster = io.BytesIO()
            first_frame.to_image().convert("RGB").save(poster, format="JPEG", quality=85)
            return VideoFacts(
                duration_seconds=round(duration, 3),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                poster_jpeg=poster.getvalue(),
            )
    except av.FFmpegError as exc:
        raise DownloadError("The file is not a playable video.", f"ffmpeg: {exc}", retryable=False) from exc


def storage_names(task: Task) -> tuple[str, str]:
    day = task.created_at.strftime("%Y/%m/%d")
    return f"videos/{day}/{task.pk}.mp4", f"posters/{day}/{task.pk}.jpg"


def _store(name: str, content) -> str:
    # Same task, same name: a leftover from an interrupted attempt is replaced, never
    # kept beside the new file under a suffixed name.
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, content)


def download_result(*, task_id: UUID | str) -> None:
    """The download step. Safe to run twice: a lease lets one run work at a time and a
    finished task is left alone."""
    task = _claim(task_id)
    if task is None:
        return
    try:
        stored = _download_and_store(task)
    except DownloadError as error:
        _after_download_error(task, error)
        return
    _complete(task, stored)


def _claim(task_id: UUID | str) -> Task | None:
    """Take the lease on a downloading task (and count the attempt), or None when
    another run holds it or the task is no longer downloading."""
    now = timezone.now()
    claimed = (
        Task.objects.filter(pk=task_id, status=TaskStatus.DOWNLOADING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_until=now + timedelta(seconds=settings.DOWNLOAD_LEASE_SECONDS),
            download_attempts=F("download_attempts") + 1,
            next_attempt_at=None,
            updated_at=now,
        )
    )
    return Task.objects.get(pk=task_id) if claimed else None


def _after_download_error(task: Task, error: DownloadError) -> None:
    """Try again later with backoff while the error may pass and attempts remain;
    otherwise fail the task with the error's message."""
    logger.warning("download of task %s failed: %s", task.pk, error.detail)
    if error.retryable and task.download_attempts < settings.DOWNLOAD_MAX_ATTEMPTS:
        run_after = timezone.now() + retry_delay(task.download_attempts)
        with transaction.atomic():
            Task.objects.filter(pk=task.pk, status=TaskStatus.DOWNLOADING).update(
                lease_until=None, next_attempt_at=run_after, error_kind=ErrorKind.DOWNLOAD, error_detail=error.detail
            )
            enqueue_download_result(task.pk, run_after=run_after)
        return
    message = f"{error.message} Gave up after {task.download_attempts} attempts." if error.retryable else error.message
    fail_task(task_id=task.pk, kind=ErrorKind.DOWNLOAD, message=message, detail=error.detail)


def _complete(task: Task, stored: StoredVideo) -> None:
    """Finish the task and fill its card in one transaction. If the task finished
    otherwise meanwhile, the files just stored are removed again (unless another run
    completed it, whose card points at the same names)."""
    try:
        with transaction.atomic():
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


def _download_and_store(task: Task) -> StoredVideo:
    video_name, poster_name = storage_names(task)
    with tempfile.NamedTemporaryFile(suffix=".mp4") as temporary:
        size, sha256, _ = fetch_to_file(task.result_url, temporary, max_bytes=settings.DOWNLOAD_MAX_BYTES)
        temporary.flush()
        facts = probe_video(Path(temporary.name))
        temporary.seek(0)
        video_name = _store(video_name, File(temporary))
    try:
        poster_name = _store(poster_name, ContentFile(facts.poster_jpeg))
    except Exception:
        default_storage.delete(video_name)
        raise
    return StoredVideo(video_name=video_name, poster_name=poster_name, facts=facts, size_bytes=size, sha256=sha256)
