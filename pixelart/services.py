"""Pixel art from a finished video: asking for it (or finding the same request's
result), and the background step that makes it. Also the video's last frame, taken
by a worker for "Use the last frame as input image"."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from datetime import timedelta
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from PIL import Image as PILImage

from accounts.services import ensure_may_start
from generation.tasks import enqueue_make_pixel_art, enqueue_take_last_frame
from generation.transitions import TaskStatus
from history.models import HistoryItem
from pixelart.models import LastFrame, PixelArt, PixelArtStatus
from pixelart.render import Options, RenderError, Result, last_frame, render
from pixelart.selectors import INPUT_MIN_SIDE, video_key

logger = logging.getLogger(__name__)

# Stored with a failed result in English, translated when shown (PixelArt.error_text).
SOURCE_MISSING = gettext_noop(
    "The source video is no longer in storage (it may have been deleted), so no frames can be made from it."
)

OUTPUT_NAMES = {
    "sprite_sheet": "sprite-sheet.png",
    "sheet_json": "sprite-sheet.json",
    "gif": "animation.gif",
    "frames_zip": "frames.zip",
}


class PixelArtRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def settings_key(*, source: HistoryItem, options: Options) -> str:
    """Names the settings and the exact file they apply to."""
    identity = {"options": options.as_dict(), "video": video_key(source)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _stale_before():
    return timezone.now() - timedelta(seconds=settings.PIXELART_STALE_SECONDS)


def request_pixel_art(*, user, source: HistoryItem, options: Options) -> tuple[PixelArt, bool]:
    """The pixel art for these settings of this video, and whether it existed already.

    The same settings on the same video give the earlier result (finished or still
    being made) instead of a second one; one whose worker died is started again.
    A suspended user gets earlier results but starts nothing new (AccountSuspended)."""
    if source.user_id != user.pk:
        raise PixelArtRefused(_("Not your video."))
    check_source(source)
    key = settings_key(source=source, options=options)
    existing = _live(source, key)
    if existing is not None:
        _restart_if_abandoned(existing)
        return existing, True
    ensure_may_start(user=user)
    try:
        with transaction.atomic():
            art = PixelArt.objects.create(user=user, source=source, options=options.as_dict(), settings_key=key)
            enqueue_make_pixel_art(art.pk)
    except IntegrityError:
        # The same request, a moment earlier, from another tab or process.
        existing = _live(source, key)
        if existing is None:
            raise
        return existing, True
    logger.info("pixel art %s requested for history item %s", art.pk, source.pk)
    return art, False


def check_source(source: HistoryItem) -> None:
    """Raise PixelArtRefused unless `source` is a finished video (callers may check
    before validating settings that depend on the video)."""
    if source.task.status != TaskStatus.COMPLETED or not source.video:
        raise PixelArtRefused(_("Only a finished video can be turned into pixel art."))


def _live(source: HistoryItem, key: str) -> PixelArt | None:
    return PixelArt.objects.filter(source=source, settings_key=key).exclude(status=PixelArtStatus.FAILED).first()


def _restart_if_abandoned(art: PixelArt) -> None:
    if not art.is_finished and art.updated_at < _stale_before():
        restart_pixel_art(pixel_art_id=art.pk)


def restart_pixel_art(*, pixel_art_id: UUID | str) -> bool:
    """Queue again a pixel art whose worker has said nothing for PIXELART_STALE_SECONDS
    (killed, or its machine gone): back to waiting, so the next worker claims it. A
    worker that was only slow and finishes after all finds the row moved on and its
    result is not recorded twice."""
    with transaction.atomic():
        active = Q(status__in=[PixelArtStatus.PENDING, PixelArtStatus.RUNNING], updated_at__lt=_stale_before())
        if not _move(pixel_art_id, to=PixelArtStatus.PENDING, only_from=active, progress=0):
            return False
        enqueue_make_pixel_art(pixel_art_id)
    logger.warning("pixel art %s was abandoned by its worker: queued again", pixel_art_id)
    return True


def restart_abandoned_pixel_art() -> int:
    """The reconciler's pass: restart every abandoned pixel art; how many were."""
    quiet = PixelArt.objects.filter(
        status__in=[PixelArtStatus.PENDING, PixelArtStatus.RUNNING], updated_at__lt=_stale_before()
    ).values_list("pk", flat=True)
    return sum(restart_pixel_art(pixel_art_id=pk) for pk in list(quiet[:500]))


def _move(pixel_art_id, *, to: str, only_from: Q, **changes) -> bool:
    """The one way a pixel art's status changes: a conditional update, so two workers
    cannot both claim or finish it. False when the row was not in an allowed state."""
    now = timezone.now()
    if to in (PixelArtStatus.COMPLETED, PixelArtStatus.FAILED):
        changes.setdefault("finished_at", now)
    return PixelArt.objects.filter(only_from, pk=pixel_art_id).update(status=to, updated_at=now, **changes) == 1


def make_pixel_art(*, pixel_art_id: UUID | str) -> None:
    """The background step. Safe to run twice: only a waiting row is claimed (one
    abandoned by a dead worker is put back to waiting by `restart_pixel_art`); the
    files are written under names of the row's own."""
    claimable = Q(status=PixelArtStatus.PENDING)
    if not _move(pixel_art_id, to=PixelArtStatus.RUNNING, only_from=claimable, progress=0, attempts=F("attempts") + 1):
        return
    art = PixelArt.objects.select_related("source").get(pk=pixel_art_id)
    source = art.source
    if not source.video or not source.video.storage.exists(source.video.name):
        fail_pixel_art(pixel_art_id=art.pk, message=SOURCE_MISSING, detail=f"missing file: {source.video.name!r}")
        return
    options = Options(**art.options)

    def report(percent: int) -> None:
        PixelArt.objects.filter(pk=art.pk, status=PixelArtStatus.RUNNING).update(progress=min(percent, 99), updated_at=timezone.now())

    try:
        with source.video.storage.open(source.video.name, "rb") as video:
            result = render(
                video, options, duration=source.duration_seconds or 0.0, on_progress=report,
                sheet_name=art.download_name(OUTPUT_NAMES["sprite_sheet"]),
            )
    except RenderError as error:
        fail_pixel_art(pixel_art_id=art.pk, message=str(error), detail=repr(error.__cause__ or error))
        return
    except FileNotFoundError as error:
        fail_pixel_art(pixel_art_id=art.pk, message=SOURCE_MISSING, detail=repr(error))
        return
    names = _store(art, result)
    done = _move(
        art.pk,
        to=PixelArtStatus.COMPLETED,
        only_from=Q(status=PixelArtStatus.RUNNING),
        progress=100,
        frame_count=result.frame_count,
        width=result.width,
        height=result.height,
        colors=len(result.colours),
        frame_durations=result.durations_ms,
        error_message="",
        error_detail="",
        **names,
    )
    logger.info("pixel art %s %s: %d frames of %dx%d", art.pk, "done" if done else "finished elsewhere", result.frame_count, result.width, result.height)


def fail_pixel_art(*, pixel_art_id: UUID | str, message: str, detail: str = "") -> bool:
    moved = _move(
        pixel_art_id,
        to=PixelArtStatus.FAILED,
        only_from=Q(status__in=[PixelArtStatus.PENDING, PixelArtStatus.RUNNING]),
        error_message=message[:500],
        error_detail=detail or message,
    )
    if moved:
        logger.warning("pixel art %s failed: %s", pixel_art_id, detail or message)
    return moved


def _store(art: PixelArt, result: Result) -> dict[str, str]:
    contents = {
        "sprite_sheet": result.sheet_png,
        "sheet_json": result.sheet_json,
        "gif": result.gif,
        "frames_zip": result.zip,
    }
    stored = {}
    for field, content in contents.items():
        file_field = getattr(art, field)
        name = f"pixelart/{art.source_id}/{art.pk}/{OUTPUT_NAMES[field]}"
        # A second run writes the same names again rather than leaving a copy beside them.
        file_field.storage.delete(name)
        stored[field] = file_field.storage.save(name, ContentFile(content))
    return stored



# --- the last frame, for "Use the last frame as input image" ----------------------

def request_last_frame(*, user, source: HistoryItem) -> LastFrame:
    """The last frame of this video file: the one taken before, or one a worker is
    asked to take now (again, when the earlier attempt failed or its worker died)."""
    if source.user_id != user.pk:
        raise PixelArtRefused(_("Not your video."))
    check_source(source)
    with transaction.atomic():
        frame, created = LastFrame.objects.get_or_create(source=source, video_key=video_key(source))
        if created:
            enqueue_take_last_frame(frame.pk)
            return frame
        abandoned = Q(status__in=[PixelArtStatus.PENDING, PixelArtStatus.RUNNING], updated_at__lt=_stale_before())
        retry = Q(status=PixelArtStatus.FAILED) | abandoned
        if LastFrame.objects.filter(retry, pk=frame.pk).update(status=PixelArtStatus.PENDING, updated_at=timezone.now(), error_message=""):
            enqueue_take_last_frame(frame.pk)
            frame.refresh_from_db()
    return frame


def last_frame_of(source: HistoryItem) -> LastFrame | None:
    """The last frame taken from the video file the card shows now, if any."""
    return LastFrame.objects.filter(source=source, video_key=video_key(source)).first()


def take_last_frame(*, last_frame_id: UUID | str) -> None:
    """The background step: decode the end of the video, keep its last frame as a
    PNG (enlarged to the size image-to-video models accept). Safe to run twice."""
    claimed = LastFrame.objects.filter(pk=last_frame_id, status=PixelArtStatus.PENDING).update(
        status=PixelArtStatus.RUNNING, updated_at=timezone.now()
    )
    if not claimed:
        return  # taken already, or being taken by another worker
    frame = LastFrame.objects.select_related("source").get(pk=last_frame_id)
    source = frame.source
    try:
        with source.video.storage.open(source.video.name, "rb") as video:
            image = last_frame(video, duration=source.duration_seconds or 0.0)
    except RenderError as error:
        fail_last_frame(last_frame_id=frame.pk, message=str(error), detail=repr(error.__cause__ or error))
        return
    except (FileNotFoundError, ValueError) as error:
        fail_last_frame(last_frame_id=frame.pk, message=SOURCE_MISSING, detail=repr(error))
        return
    if min(image.size) < INPUT_MIN_SIDE:
        scale = INPUT_MIN_SIDE / min(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), PILImage.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG")
    name = f"pixelart/{source.pk}/last-frame-{frame.pk}.png"
    frame.image.storage.delete(name)
    stored = frame.image.storage.save(name, ContentFile(out.getvalue()))
    LastFrame.objects.filter(pk=frame.pk, status=PixelArtStatus.RUNNING).update(
        status=PixelArtStatus.COMPLETED, image=stored, updated_at=timezone.now(), error_message="", error_detail=""
    )
    logger.info("last frame %s of history item %s taken: %dx%d", frame.pk, source.pk, *image.size)


def fail_last_frame(*, last_frame_id: UUID | str, message: str, detail: str = "") -> bool:
    moved = LastFrame.objects.filter(pk=last_frame_id, status__in=[PixelArtStatus.PENDING, PixelArtStatus.RUNNING]).update(
        status=PixelArtStatus.FAILED, error_message=message[:500], error_detail=detail or message, updated_at=timezone.now()
    )
    if moved:
        logger.warning("last frame %s failed: %s", last_frame_id, detail or message)
    return bool(moved)
