"""Asking for pixel art and the background step that makes it, on a real sandbox
video: the result and its files, reuse of an earlier identical request, and sources
that are gone or damaged."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from accounts.services import AccountSuspended, reinstate_user, suspend_user
from generation.models import TaskStatus
from pixelart.models import PixelArt, PixelArtStatus
from pixelart.render import Options
from pixelart.models import LastFrame
from pixelart.selectors import input_frame
from pixelart.services import (
    SOURCE_MISSING,
    PixelArtRefused,
    make_pixel_art,
    request_last_frame,
    request_pixel_art,
    take_last_frame,
)
from tests.factories import make_task, make_user
from tests.support import queued_tasks, run_queued_tasks

pytestmark = pytest.mark.django_db


def test_a_request_runs_in_the_background_and_stores_every_file(video, user):
    art, reused = request_pixel_art(user=user, source=video, options=Options(size=32, frames=6, colors=8))
    assert not reused and art.status == PixelArtStatus.PENDING
    assert [t.task_result.args for t in queued_tasks("make_pixel_art")] == [[str(art.pk)]]

    assert run_queued_tasks() == 1
    art.refresh_from_db()
    assert (art.status, art.progress, art.attempts) == (PixelArtStatus.COMPLETED, 100, 1)
    assert (art.frame_count, art.width, art.height) == (6, 32, 32) and 2 <= art.colors <= 8
    sheet = Image.open(default_storage.open(art.sprite_sheet.name))
    description = json.loads(default_storage.open(art.sheet_json.name).read())
    assert description["meta"]["size"] == {"w": sheet.width, "h": sheet.height} == {"w": 96, "h": 64}
    assert Image.open(default_storage.open(art.gif.name)).n_frames == 6
    assert default_storage.open(art.frames_zip.name).read(2) == b"PK"
    assert art.sprite_sheet.name == f"pixelart/{video.pk}/{art.pk}/sprite-sheet.png"


def test_the_same_settings_on_the_same_video_reuse_the_result(video, user):
    first, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    run_queued_tasks()
    again, reused = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    assert reused and again.pk == first.pk and again.status == PixelArtStatus.COMPLETED
    assert queued_tasks() == []  # nothing made twice
    other, reused = request_pixel_art(user=user, source=video, options=Options(size=16, frames=3))
    assert not reused and other.pk != first.pk
    assert PixelArt.objects.filter(source=video).count() == 2


def test_running_the_step_twice_makes_the_files_once(video, user, settings):
    art, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    run_queued_tasks()
    names = sorted(f.name for f in PixelArt.objects.get(pk=art.pk).files())
    make_pixel_art(pixel_art_id=art.pk)  # a duplicate delivery of the step: a no-op
    art.refresh_from_db()
    assert art.attempts == 1 and sorted(f.name for f in art.files()) == names
    stored = sorted(str(p.relative_to(settings.MEDIA_ROOT)) for p in (settings.MEDIA_ROOT / "pixelart").rglob("*") if p.is_file())
    assert stored == names


def test_a_deleted_source_fails_with_a_clear_message_and_a_new_request_tries_again(video, user):
    art, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    default_storage.delete(video.video.name)
    run_queued_tasks()
    art.refresh_from_db()
    assert art.status == PixelArtStatus.FAILED and art.error_message == SOURCE_MISSING
    assert not art.files()
    again, reused = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    assert not reused and again.pk != art.pk  # a failure is not reused


def test_a_corrupt_source_fails_with_a_clear_message(video, user):
    with default_storage.open(video.video.name, "rb") as stored:
        head = stored.read(64)
    default_storage.delete(video.video.name)
    default_storage.save(video.video.name, io.BytesIO(head + b"\x00garbage" * 4000))
    art, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    run_queued_tasks()
    art.refresh_from_db()
    assert art.status == PixelArtStatus.FAILED
    assert "could not be read" in art.error_message and "damaged" in art.error_message
    assert art.error_detail  # the decoder's own words, for staff


def test_an_unfinished_video_is_refused(user):
    task = make_task(user=user, status=TaskStatus.IN_PROGRESS)
    with pytest.raises(PixelArtRefused, match="finished video"):
        request_pixel_art(user=user, source=task.history_item, options=Options())
    assert not PixelArt.objects.exists()


def test_an_abandoned_render_is_taken_over(video, user, settings):
    """A worker that died mid-way leaves the row RUNNING; asking again once it has been
    quiet past the limit starts it again, and the new worker may claim it."""
    from datetime import timedelta

    from django.utils import timezone

    art, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    queued_tasks()[0].delete()
    PixelArt.objects.filter(pk=art.pk).update(status=PixelArtStatus.RUNNING, updated_at=timezone.now() - timedelta(hours=1))
    again, reused = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    assert reused and again.pk == art.pk
    assert run_queued_tasks() == 1
    art.refresh_from_db()
    assert art.status == PixelArtStatus.COMPLETED and art.attempts == 1
    make_pixel_art(pixel_art_id=art.pk)  # the dead worker's step, delivered late: a no-op
    assert PixelArt.objects.get(pk=art.pk).attempts == 1


def test_the_reconciler_restarts_abandoned_pixel_art_once(video, user):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    quiet, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    busy, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=3))
    for result in queued_tasks():
        result.delete()  # their worker was killed
    PixelArt.objects.filter(pk=quiet.pk).update(status=PixelArtStatus.RUNNING, attempts=1, updated_at=timezone.now() - timedelta(hours=1))
    PixelArt.objects.filter(pk=busy.pk).update(status=PixelArtStatus.RUNNING, attempts=1)  # still working: left alone

    call_command("reconcile")
    call_command("reconcile")  # a second pass right after queues nothing more
    assert [r.task_result.args for r in queued_tasks("make_pixel_art")] == [[str(quiet.pk)]]
    run_queued_tasks()
    quiet.refresh_from_db()
    busy.refresh_from_db()
    assert (quiet.status, quiet.attempts) == (PixelArtStatus.COMPLETED, 2)
    assert busy.status == PixelArtStatus.RUNNING


def test_an_unexpected_error_fails_the_pixel_art_with_a_plain_message(video, user, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr("pixelart.services.render", broken)
    art, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    with pytest.raises(ZeroDivisionError):
        run_queued_tasks()  # the worker hears of it too
    art.refresh_from_db()
    assert art.status == PixelArtStatus.FAILED
    assert art.error_message == "Something went wrong on our side. Please try again."
    assert "ZeroDivisionError: a bug of ours" in art.error_detail  # the traceback, for staff


def test_a_suspended_user_gets_earlier_results_but_starts_no_new_pixel_art(video, user):
    earlier, _ = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    run_queued_tasks()
    assert suspend_user(user=user, by=make_user("boss", is_staff=True), reason="chargeback under review")

    again, reused = request_pixel_art(user=user, source=video, options=Options(size=16, frames=2))
    assert reused and again.pk == earlier.pk
    with pytest.raises(AccountSuspended) as refused:
        request_pixel_art(user=user, source=video, options=Options(size=16, frames=3))
    assert refused.value.code == "account_suspended" and "pixel art" in refused.value.message
    assert PixelArt.objects.filter(source=video).count() == 1 and queued_tasks() == []

    reinstate_user(user=user)
    _, reused = request_pixel_art(user=user, source=video, options=Options(size=16, frames=3))
    assert not reused and len(queued_tasks("make_pixel_art")) == 1


def decoded_last_frame(item) -> Image.Image:
    """The video's last frame the slow, sure way: every frame decoded."""
    import av

    with default_storage.open(item.video.name, "rb") as stored, av.open(stored) as container:
        return [frame for frame in container.decode(video=0)][-1].to_image()


def test_the_last_frame_is_taken_by_a_worker_once_per_video_file(video, user):
    frame = request_last_frame(user=user, source=video)
    assert frame.status == PixelArtStatus.PENDING and not frame.image
    assert input_frame(user, f"video:{video.pk}") is None  # not decoded in the asking request
    assert request_last_frame(user=user, source=video).pk == frame.pk
    assert [t.task_result.args for t in queued_tasks("take_last_frame")] == [[str(frame.pk)]]

    assert run_queued_tasks() == 1
    frame.refresh_from_db()
    assert frame.status == PixelArtStatus.COMPLETED
    attached = input_frame(user, f"video:{video.pk}")
    image = Image.open(io.BytesIO(attached.png)).convert("RGB")
    assert min(image.size) >= 256 and image.width / image.height == pytest.approx(video.width / video.height, rel=0.01)
    expected = decoded_last_frame(video).convert("RGB").resize(image.size)
    difference = sum(abs(a - b) for a, b in zip(image.tobytes(), expected.tobytes())) / len(expected.tobytes())
    assert difference < 2  # the same picture (rescaling aside), not an earlier frame

    take_last_frame(last_frame_id=frame.pk)  # a duplicate delivery of the step: a no-op
    assert request_last_frame(user=user, source=video).pk == frame.pk and not queued_tasks()


def test_a_last_frame_of_a_corrupt_video_fails_clearly_and_is_tried_again(video, user):
    with default_storage.open(video.video.name, "rb") as stored:
        head = stored.read(64)
    default_storage.delete(video.video.name)
    default_storage.save(video.video.name, io.BytesIO(head + b"\x00garbage" * 4000))
    frame = request_last_frame(user=user, source=video)
    run_queued_tasks()
    frame.refresh_from_db()
    assert frame.status == PixelArtStatus.FAILED and "could not be read" in frame.error_message
    assert input_frame(user, f"video:{video.pk}") is None
    assert request_last_frame(user=user, source=video).status == PixelArtStatus.PENDING
    assert len(queued_tasks("take_last_frame")) == 1
    assert LastFrame.objects.count() == 1
