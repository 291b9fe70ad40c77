"""The gallery's writes: ratings (recorded, replaced, refused when they make no
sense), favourites, and the bulk actions with the streamed ZIP."""

import io
import os
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generation.models import Task, TaskStatus
from history.models import HistoryItem, Rating
from history.services import (
    RatingRefused,
    cancel_items,
    delete_items,
    rate_item,
    set_favourite,
    zip_archive,
)
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def completed_item(user, n, content=b"mp4") -> HistoryItem:
    item = make_task(user=user, status=TaskStatus.COMPLETED, prompt="Same prompt!").history_item
    item.video.save(f"videos/bulk-{item.pk}.mp4", ContentFile(content), save=True)
    return item


def test_a_finished_video_is_rated_and_rating_again_replaces_it(user):
    item = make_task(user=user, status=TaskStatus.COMPLETED).history_item
    rate_item(item=item, stars=2, note="  too dark ")
    rate_item(item=item, stars=5, note="better on a second look")
    assert list(Rating.objects.values_list("item_id", "stars", "note")) == [(item.pk, 5, "better on a second look")]


@pytest.mark.parametrize(("status", "stars"), [(TaskStatus.IN_PROGRESS, 4), (TaskStatus.COMPLETED, 0), (TaskStatus.COMPLETED, 6)])
def test_unfinished_videos_and_stars_outside_one_to_five_are_refused(user, status, stars):
    item = make_task(user=user, status=status).history_item
    with pytest.raises(RatingRefused):
        rate_item(item=item, stars=stars)
    assert not Rating.objects.exists()


def test_a_rating_is_copied_onto_the_card_and_the_cards_stars_keep_the_note(user):
    item = make_task(user=user, status=TaskStatus.COMPLETED).history_item
    rate_item(item=item, stars=3, note="nice light")
    rate_item(item=item, stars=5, note=None)  # from the card: stars only
    item.refresh_from_db()
    assert item.stars == 5 and Rating.objects.get(item=item).note == "nice light"


# Bulk actions and the ZIP.


def test_bulk_delete_removes_finished_cards_and_leaves_running_ones(user, django_capture_on_commit_callbacks):
    done = [completed_item(user, n) for n in range(2)]
    running = make_task(user=user, status=TaskStatus.IN_PROGRESS).history_item
    with django_capture_on_commit_callbacks(execute=True):
        outcome = delete_items(items=[*done, running])
    assert (outcome.done, outcome.skipped) == (2, 1) and "cancel" in outcome.reason
    assert list(HistoryItem.objects.values_list("pk", flat=True)) == [running.pk]
    assert not any(default_storage.exists(item.video.name) for item in done)


def test_bulk_cancel_stops_unfinished_cards_only(user):
    queued = make_task(user=user, status=TaskStatus.PENDING).history_item
    done = completed_item(user, 0)
    outcome = cancel_items(items=[queued, done])
    assert (outcome.done, outcome.skipped) == (1, 1)
    assert Task.objects.get(pk=queued.task_id).status == TaskStatus.CANCELLED
    assert Task.objects.get(pk=done.task_id).status == TaskStatus.COMPLETED


def test_the_zip_streams_each_video_under_a_name_from_its_prompt(user):
    first, second = completed_item(user, 0, b"first video"), completed_item(user, 1, b"second video")
    unfinished = make_task(user=user, status=TaskStatus.FAILED).history_item
    chunks = zip_archive([first, second, unfinished])
    assert not isinstance(chunks, (bytes, list))  # produced while sent, not built first
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == ["same-prompt.mp4", "same-prompt-2.mp4"]  # same prompt, unique names
        assert archive.read(names[0]) == b"first video" and archive.read(names[1]) == b"second video"


def test_favourites_are_set_and_cleared(user):
    item = make_task(user=user).history_item
    set_favourite(item=item, favourite=True)
    assert HistoryItem.objects.get(pk=item.pk).favourite
    set_favourite(item=item, favourite=False)
    assert not HistoryItem.objects.get(pk=item.pk).favourite


def test_the_zip_never_holds_a_whole_video_in_memory(user):
    video = os.urandom(1024 * 1024) * 16  # 16 MB, incompressible blocks
    item = completed_item(user, 0, video)
    tracemalloc.start()
    try:
        sent = 0
        for chunk in zip_archive([item]):
            sent += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sent > len(video)  # the whole video went out, stored
    assert peak < len(video) // 4, f"peak {peak} bytes while streaming a {len(video)}-byte video"
