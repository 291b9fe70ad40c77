"""Writes of the gallery: every card is created, moved to a new attempt, filled with
its video and deleted here. The pipeline calls these inside its own transactions, so
a card changes together with the task it shows."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from uuid import UUID

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generation.models import Job, Task, TaskStatus
from generation.transitions import TransitionRefused
from history.models import HistoryItem, Rating

logger = logging.getLogger(__name__)


def create_cards(*, user, tasks: Iterable[Task]) -> list[HistoryItem]:
    """A placeholder card per new task: it shows the task's progress until its video
    arrives."""
    return HistoryItem.objects.bulk_create(HistoryItem(user=user, task=task) for task in tasks)


def move_card(*, from_task: Task, to_task: Task) -> None:
    """Point the card at a new attempt of its video, so the card the user pressed Retry
    on is the one that comes back to life."""
    HistoryItem.objects.filter(task=from_task).update(task=to_task)


def fill_card(
    *,
    task_id: UUID | str,
    video: str,
    poster: str,
    content_type: str,
    duration_seconds: float,
    width: int,
    height: int,
    size_bytes: int,
    sha256: str,
) -> None:
    """Record the stored video of a completed task, and what was measured of it, on its card."""
    HistoryItem.objects.filter(task_id=task_id).update(
        video=video,
        poster=poster,
        content_type=content_type,
        duration_seconds=duration_seconds,
        width=width,
        height=height,
        size_bytes=size_bytes,
        sha256=sha256,
    )


def delete_history_item(*, item: HistoryItem) -> None:
    """Remove a finished card and its files. An unfinished one must be cancelled first,
    or its video would arrive with nowhere to go."""
    if not item.task.is_finished:
        raise TransitionRefused(item.task, "deleted")
    files = []
    item_id = item.pk
    job = item.task.job
    with transaction.atomic():
        # Its video, poster and pixel art go with the rows, once this commits
        # (history/signals.py, pixelart/signals.py).
        item.delete()
        # The input images belong to the job: they go with the job's last card (until
        # then another card may still be retried with them).
        inputs = [f for f in (job.input_image, job.input_end_image) if f]
        if inputs and not HistoryItem.objects.filter(task__job=job).exists():
            files.extend(inputs)
            Job.objects.filter(pk=job.pk).update(input_image="", input_end_image="")
        # Files go only once the row is gone for good.
        transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])
    logger.info("history item %s deleted%s", item_id, " with its job's input images" if files else "")


def replace_video(
    *,
    task_id,
    video: str,
    poster: str,
    content_type: str,
    duration_seconds: float,
    width: int,
    height: int,
    size_bytes: int,
    sha256: str,
) -> bool:
    """Point a card at a newly stored video and poster, both at once, and remove the
    files it showed before once that is committed: a viewer sees the old pair or the
    new pair, never half of each. Returns False (and touches nothing) when the card
    is gone; the caller then removes the new files."""
    from django.core.files.storage import default_storage

    with transaction.atomic():
        # Locked so that two replacements of one card cannot both delete the same
        # old files while each keeps its own new ones.
        item = HistoryItem.objects.select_for_update().filter(task_id=task_id).first()
        if item is None:
            return False
        old = [name for name in (item.video.name, item.poster.name) if name and name not in (video, poster)]
        item.video, item.poster = video, poster
        item.content_type, item.duration_seconds = content_type, duration_seconds
        item.width, item.height, item.size_bytes, item.sha256 = width, height, size_bytes, sha256
        item.save(update_fields=["video", "poster", "content_type", "duration_seconds", "width", "height", "size_bytes", "sha256"])
        transaction.on_commit(lambda: [default_storage.delete(name) for name in old])
    logger.info("history item %s now shows %s (replaced %d file(s))", item.pk, video, len(old))
    return True


class RatingRefused(ValueError):
    """The rating cannot be recorded; the message is safe to show."""


def rate_item(*, item: HistoryItem, stars: int, note: str | None = "") -> Rating:
    """Record (or replace) the owner's rating of a finished video; `note` None keeps
    the note given before (the card's stars carry none). The card keeps a copy of the
    stars for the gallery's best-rated order, changed in the same transaction."""
    if item.task.status != TaskStatus.COMPLETED:
        raise RatingRefused(_("Only a finished video can be rated."))
    if not 1 <= stars <= 5:
        raise RatingRefused(_("A rating is 1 to 5 stars."))
    values = {"stars": stars, "updated_at": timezone.now()}
    if note is not None:
        values["note"] = note.strip()[:1000]
    with transaction.atomic():
        rating, created = Rating.objects.update_or_create(item=item, defaults=values)
        HistoryItem.objects.filter(pk=item.pk).update(stars=stars)
    item.stars = stars
    return rating


def set_favourite(*, item: HistoryItem, favourite: bool) -> None:
    """Mark or unmark a card as one of the owner's favourites."""
    HistoryItem.objects.filter(pk=item.pk).update(favourite=favourite)
    item.favourite = favourite


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk action did: how many cards it changed and how many it left as they
    were (with the reason, safe to show)."""

    done: int
    skipped: int = 0
    reason: str = ""


def delete_items(*, items: Iterable[HistoryItem]) -> BulkOutcome:
    """Delete every finished card of `items` with its files; unfinished ones are left
    (they must be cancelled first)."""
    done = skipped = 0
    for item in items:
        try:
            delete_history_item(item=item)
            done += 1
        except TransitionRefused:
            skipped += 1
    return BulkOutcome(done, skipped, _("still being made: cancel them first") if skipped else "")


def cancel_items(*, items: Iterable[HistoryItem]) -> BulkOutcome:
    """Cancel every unfinished card of `items` (their credits come back); finished
    ones, and ones being saved, are left."""
    from generation.services import cancel_task

    done = skipped = 0
    for item in items:
        try:
            cancel_task(task=item.task)
            done += 1
        except TransitionRefused:
            skipped += 1
    return BulkOutcome(done, skipped, _("already finished or being saved") if skipped else "")


ZIP_CHUNK_BYTES = 256 * 1024


def zip_archive(items: Iterable[HistoryItem]) -> Iterator[bytes]:
    """The finished videos of `items` as one ZIP, produced piece by piece while it is
    sent: each file is read from storage in chunks and never held whole, nor is the
    archive (stream-zip writes the sizes and checksums after each file's data). Names
    come from the prompts, made unique. Videos are already compressed, so they are
    stored without deflating them again (level 0)."""
    from stream_zip import ZIP_64, stream_zip

    def chunks(file):
        with file.open("rb") as stored:
            while block := stored.read(ZIP_CHUNK_BYTES):
                yield block

    def members():
        taken: set[str] = set()
        for item in items:
            found = item.private_file("video")
            if found is None:
                continue
            file, name = found
            stem, dot, suffix = name.rpartition(".")
            unique, n = name, 1
            while unique in taken:
                n += 1
                unique = f"{stem}-{n}{dot}{suffix}"
            taken.add(unique)
            yield unique, item.created_at, 0o644, ZIP_64, chunks(file)

    return stream_zip(members(), get_compressobj=lambda: zlib.compressobj(wbits=-zlib.MAX_WBITS, level=0))
