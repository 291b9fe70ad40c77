"""The pixel-art pages: the form from a video's detail page, the section that shows
progress and then the frames, owner-only files, and "Use as input image" opening the
Generate form with the frame attached."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.urls import reverse
from PIL import Image

from accounts.services import suspend_user
from generation.models import Job, TaskStatus
from pixelart.models import LastFrame, PixelArt, PixelArtStatus
from pixelart.render import Options
from pixelart.services import request_pixel_art
from tests.factories import fund, make_task, make_user
from tests.support import queued_tasks, run_queued_tasks

pytestmark = pytest.mark.django_db


def finished_art(user, video, **options) -> PixelArt:
    art, _ = request_pixel_art(user=user, source=video, options=Options(**options))
    run_queued_tasks()
    art.refresh_from_db()
    assert art.status == PixelArtStatus.COMPLETED
    return art


def test_the_detail_page_of_a_finished_video_offers_pixel_art(signed_in, video):
    page = signed_in.get(reverse("history:detail", args=[video.pk])).content.decode()
    assert reverse("pixelart:new", args=[video.pk]) in page
    form = signed_in.get(reverse("pixelart:new", args=[video.pk])).content.decode()
    for name in ("size", "width", "fit", "start", "end", "fps", "frames", "palette", "colors", "dither", "transparent"):
        assert f'name="{name}"' in form, name
    assert 'value="pico-8"' in form and 'value="game-boy"' in form and 'value="floyd-steinberg"' in form


def test_an_unfinished_video_has_no_pixel_art_form(signed_in, user):
    item = make_task(user=user, status=TaskStatus.IN_PROGRESS).history_item
    page = signed_in.get(reverse("history:detail", args=[item.pk])).content.decode()
    assert reverse("pixelart:new", args=[item.pk]) not in page
    assert signed_in.get(reverse("pixelart:new", args=[item.pk])).status_code == 302


def test_submitting_the_form_starts_it_and_the_section_shows_progress_then_frames(signed_in, video):
    url = reverse("pixelart:new", args=[video.pk])
    data = {"size": "32", "fit": "pad", "frames": "4", "palette": "game-boy", "dither": "floyd-steinberg", "transparent": "on"}
    response = signed_in.post(url, data)
    assert response.status_code == 302 and response["Location"].endswith("#pixel-art")
    art = PixelArt.objects.get(source=video)
    assert art.options["palette"] == "game-boy" and art.options["transparent"] is True and art.options["fit"] == "pad"

    section_url = reverse("pixelart:section", args=[video.pk])
    waiting = signed_in.get(section_url).content.decode()
    assert 'data-watching="true"' in waiting and "<progress" in waiting

    run_queued_tasks()
    done = signed_in.get(section_url).content.decode()
    assert "data-watching" not in done  # the poller stops once nothing is unfinished
    assert done.count("Use as input image") == 4
    for name in ("sprite-sheet.png", "sprite-sheet.json", "animation.gif", "frames.zip"):
        assert reverse("pixelart:output", args=[art.pk, name]) in done

    again = signed_in.post(url, data)  # the same settings: the earlier result, not a second one
    assert again.status_code == 302 and PixelArt.objects.filter(source=video).count() == 1


def test_bad_settings_are_shown_on_the_form(signed_in, video):
    response = signed_in.post(reverse("pixelart:new", args=[video.pk]), {"size": "64", "width": "100", "colors": "1", "start": "99"})
    page = response.content.decode()
    assert response.status_code == 200 and not PixelArt.objects.exists()
    assert "Ensure this value is greater than or equal to 2" in page


def test_a_suspended_user_is_told_on_the_form_and_nothing_starts(signed_in, user, video):
    suspend_user(user=user, by=make_user("boss", is_staff=True), reason="chargeback under review")
    response = signed_in.post(reverse("pixelart:new", args=[video.pk]), {"size": "16", "frames": "2"})
    assert response.status_code == 200 and "Your account is suspended" in response.content.decode()
    assert not PixelArt.objects.exists() and not queued_tasks()


def test_the_downloaded_json_names_the_downloaded_sheet(signed_in, user, video):
    """Aseprite-style importers (TexturePacker, Phaser, Godot and Unity plug-ins) open
    the image the JSON's meta.image names, next to the JSON: it must be the name the
    sheet is downloaded under."""
    art = finished_art(user, video, size=16, frames=3)
    sheet = signed_in.get(reverse("pixelart:output", args=[art.pk, "sprite-sheet.png"]))
    described = signed_in.get(reverse("pixelart:output", args=[art.pk, "sprite-sheet.json"]))
    sheet_file = re.search(r'filename="([^"]+)"', sheet["Content-Disposition"]).group(1)
    assert sheet_file == f"pixel-art-{str(art.pk)[:8]}-sprite-sheet.png"
    meta = json.loads(b"".join(described.streaming_content))["meta"]
    assert meta["image"] == sheet_file
    assert re.search(r'filename="([^"]+)"', described["Content-Disposition"]).group(1) == f"pixel-art-{str(art.pk)[:8]}-sprite-sheet.json"


def test_files_go_out_the_way_videos_do(signed_in, user, video, settings):
    """Through `serve_private_file`: behind nginx the web server sends the file, and a
    player or downloader may ask for part of it."""
    art = finished_art(user, video, size=16, frames=3)
    ranged = signed_in.get(reverse("pixelart:output", args=[art.pk, "frames.zip"]), HTTP_RANGE="bytes=0-1")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"PK"
    assert ranged["Content-Disposition"].startswith("attachment;") and ranged["Cache-Control"].startswith("private")
    settings.MEDIA_X_ACCEL_REDIRECT = "/_protected_media/"
    handed_off = signed_in.get(reverse("pixelart:output", args=[art.pk, "animation.gif"]))
    assert handed_off.status_code == 200 and handed_off.content == b""
    assert handed_off["X-Accel-Redirect"] == f"/_protected_media/{art.gif.name}"
    assert handed_off["Content-Type"] == "image/gif" and handed_off["Content-Disposition"].startswith("inline;")


def test_files_and_frames_are_served_to_their_owner_only(client, signed_in, user, video):
    art = finished_art(user, video, size=16, frames=3, transparent=True)
    gif = signed_in.get(reverse("pixelart:output", args=[art.pk, "animation.gif"]))
    assert gif.status_code == 200 and gif["Content-Type"] == "image/gif"
    assert Image.open(io.BytesIO(b"".join(gif.streaming_content))).n_frames == 3
    frame = signed_in.get(reverse("pixelart:frame", args=[art.pk, 2]))
    assert frame.status_code == 200 and Image.open(io.BytesIO(frame.content)).size == (16, 16)
    assert signed_in.get(reverse("pixelart:frame", args=[art.pk, 3])).status_code == 404
    assert signed_in.get(reverse("pixelart:output", args=[art.pk, "passwords.txt"])).status_code == 404

    client.force_login(make_user("quinn"))
    for url in (
        reverse("pixelart:output", args=[art.pk, "animation.gif"]),
        reverse("pixelart:output", args=[art.pk, "sprite-sheet.png"]),
        reverse("pixelart:frame", args=[art.pk, 0]),
        reverse("pixelart:new", args=[video.pk]),
        reverse("pixelart:section", args=[video.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("pixelart:new", args=[video.pk]), {"size": "16"}).status_code == 404
    assert PixelArt.objects.count() == 1
    client.logout()
    assert client.get(reverse("pixelart:output", args=[art.pk, "animation.gif"])).status_code == 302  # to the login


def test_use_as_input_image_opens_generate_with_the_frame_attached(signed_in, user, video):
    fund(user, 20)
    art = finished_art(user, video, size=16, frames=2)
    page = signed_in.get(reverse("generation:generate"), {"frame": f"pixelart:{art.pk}:1"}).content.decode()
    assert f'name="frame" value="pixelart:{art.pk}:1"' in page
    assert re.search(r'<option value="([^"]+)" selected', page).group(1) == "kling-2.1-i2v"  # an image-to-video model

    response = signed_in.post(reverse("generation:generate"), {
        "frame": f"pixelart:{art.pk}:1", "prompt": "the knight starts to run", "model": "kling-2.1-i2v", "duration": "5",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get(prompt="the knight starts to run")
    with job.input_image.open("rb") as stored:
        attached = Image.open(stored)
        attached.load()
    assert attached.size == (256, 256)  # 16×16 enlarged 16 times, hard edges
    assert len(attached.getcolors(1 << 16)) <= art.colors


def test_a_frame_is_not_sent_to_a_text_only_model(signed_in, user, video):
    fund(user, 20)
    signed_in.post(reverse("pixelart:last_frame", args=[video.pk]))
    run_queued_tasks()
    response = signed_in.post(reverse("generation:generate"), {
        "frame": f"video:{video.pk}", "prompt": "just text after all", "model": "kling-2.1-t2v", "duration": "5",
    })
    assert response.status_code == 302
    assert not Job.objects.get(prompt="just text after all").input_image


def test_the_last_frame_is_taken_in_the_background_then_opens_generate_with_it(signed_in, user, video):
    fund(user, 20)
    detail = signed_in.get(reverse("history:detail", args=[video.pk])).content.decode()
    url = reverse("pixelart:last_frame", args=[video.pk])
    assert f'action="{url}"' in detail
    asked = signed_in.post(url)
    assert asked.status_code == 302 and asked["Location"] == url
    assert len(queued_tasks("take_last_frame")) == 1
    waiting = signed_in.get(url)
    assert waiting.status_code == 200 and 'http-equiv="refresh"' in waiting.content.decode()

    run_queued_tasks()
    ready = signed_in.get(url)
    generate = reverse("generation:generate") + f"?frame=video:{video.pk}"
    assert ready.status_code == 302 and ready["Location"] == generate
    page = signed_in.get(generate).content.decode()
    assert f'value="video:{video.pk}"' in page and "the last frame of your video" in page
    response = signed_in.post(reverse("generation:generate"), {
        "frame": f"video:{video.pk}", "prompt": "what happens next", "model": "kling-2.1-i2v", "duration": "5",
    })
    assert response.status_code == 302
    with Job.objects.get(prompt="what happens next").input_image.open("rb") as stored:
        attached = Image.open(stored)
        attached.load()
    assert min(attached.size) >= 256 and attached.width / attached.height == pytest.approx(video.width / video.height, rel=0.01)

    assert signed_in.post(url).status_code == 302 and not queued_tasks("take_last_frame")  # taken once


def test_someone_elses_last_frame_is_neither_taken_nor_attached(client, user, video):
    client.force_login(make_user("quinn"))
    assert client.post(reverse("pixelart:last_frame", args=[video.pk])).status_code == 404
    assert not queued_tasks()


def test_someone_elses_frame_is_not_attached(client, user, video):
    art = finished_art(user, video, size=16, frames=1)
    client.force_login(make_user("quinn"))
    page = client.get(reverse("generation:generate"), {"frame": f"pixelart:{art.pk}:0"}).content.decode()
    assert 'name="frame"' not in page and "not available" in page
    assert not queued_tasks()


def test_deleting_the_video_deletes_its_pixel_art_and_files(signed_in, user, video, settings, django_capture_on_commit_callbacks):
    art = finished_art(user, video, size=16, frames=2)
    signed_in.post(reverse("pixelart:last_frame", args=[video.pk]))
    run_queued_tasks()
    names = [f.name for f in art.files()] + [LastFrame.objects.get(source=video).image.name]
    assert len(names) == 5 and all((settings.MEDIA_ROOT / name).exists() for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        assert signed_in.post(reverse("history:delete", args=[video.pk])).status_code == 302
    assert not PixelArt.objects.exists() and not LastFrame.objects.exists()
    assert not any((settings.MEDIA_ROOT / name).exists() for name in names)


def test_the_pixel_art_pages_in_korean(signed_in, user, video):
    from pixelart.services import SOURCE_MISSING, fail_pixel_art

    form = signed_in.get(reverse("pixelart:new", args=[video.pk]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "이 영상으로 픽셀 아트 만들기" in form and "픽셀 아트 만들기</button>" in form
    assert "초당 프레임 수" in form and "적응형 (영상에서 추출)" in form and "가운데를 잘라내기" in form
    assert "Frames per second" not in form and "Make pixel art" not in form

    refused = signed_in.post(
        reverse("pixelart:new", args=[video.pk]), {"size": "64", "width": "100"}, HTTP_ACCEPT_LANGUAGE="ko"
    ).content.decode()
    assert "정사각형 크기와 너비 중 하나만 선택하세요." in refused

    done = finished_art(user, video, size=16, frames=2, palette="game-boy")
    failed, _ = request_pixel_art(user=user, source=video, options=Options(size=24, frames=1))
    fail_pixel_art(pixel_art_id=failed.pk, message=SOURCE_MISSING)
    section = signed_in.get(reverse("pixelart:section", args=[video.pk]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "스프라이트 시트 (PNG)" in section and "입력 이미지로 사용" in section
    assert f"16×16 프레임 {done.frame_count}개" in section and "프레임 2개" in section
    assert "원본 영상이 더 이상 저장소에 없어" in section and SOURCE_MISSING not in section
    english = signed_in.get(reverse("pixelart:section", args=[video.pk])).content.decode()
    assert f"{done.frame_count} frames of 16×16" in english and SOURCE_MISSING in english
