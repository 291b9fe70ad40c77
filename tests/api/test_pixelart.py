"""POST /api/history/{id}/pixel-art/ and GET /api/pixel-art/{id}/: 202, 200, 400 with
field errors, 404 for what is not yours, and files fetched with the API token."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from generation.models import TaskStatus
from pixelart.models import PixelArt
from tests.api.conftest import error_of
from tests.factories import make_task
from tests.pixelart.conftest import completed_video
from tests.support import queued_tasks, run_queued_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(sandbox, user):
    return completed_video(sandbox, user=user)


def test_the_issues_example_answers_202_then_200_with_files(api, video):
    response = api.post(f"/api/history/{video.pk}/pixel-art/", {"size": 64, "colors": 16, "fps": 8, "frames": 12}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert {"id", "status"} <= set(body) and body["status"] == "pending" and body["reused"] is False

    pending = api.get(f"/api/pixel-art/{body['id']}/").json()
    assert pending["status"] == "pending" and pending["sprite_sheet_url"] is None

    run_queued_tasks()
    done = api.get(f"/api/pixel-art/{body['id']}/")
    assert done.status_code == 200
    result = done.json()
    assert {"id", "status", "frame_count", "width", "height", "colors", "sprite_sheet_url", "gif_url", "zip_url", "metadata_url"} <= set(result)
    assert (result["status"], result["frame_count"], result["width"], result["height"]) == ("completed", 12, 64, 64)
    assert 2 <= result["colors"] <= 16
    assert result["frame_durations"] == [130, 120] * 6  # 8 fps in whole hundredths (as GIF keeps time), 1.5 s in all

    sheet = api.get(result["sprite_sheet_url"])
    assert sheet.status_code == 200 and sheet["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(sheet.streaming_content)))
    metadata = json.loads(b"".join(api.get(result["metadata_url"]).streaming_content))
    assert metadata["meta"]["size"] == {"w": image.width, "h": image.height} and len(metadata["frames"]) == 12
    gif = Image.open(io.BytesIO(b"".join(api.get(result["gif_url"]).streaming_content)))
    assert gif.n_frames == 12
    assert b"".join(api.get(result["zip_url"]).streaming_content)[:2] == b"PK"


def test_the_same_options_give_the_same_result(api, video):
    first = api.post(f"/api/history/{video.pk}/pixel-art/", {"size": 16, "frames": 2}, format="json").json()
    run_queued_tasks()
    again = api.post(f"/api/history/{video.pk}/pixel-art/", {"frames": 2, "size": 16, "palette": "adaptive", "colors": 16}, format="json")
    assert again.status_code == 202 and again.json()["id"] == first["id"] and again.json()["reused"] is True
    assert again.json()["status"] == "completed" and not queued_tasks()


BAD_OPTIONS = [
    ({"size": 65}, "size"),
    ({"size": 64, "width": 100}, "width"),
    ({"colors": 1}, "colors"),
    ({"colors": 300}, "colors"),
    ({"palette": "pico-8", "colors": 4}, "colors"),
    ({"palette": "sepia"}, "palette"),
    ({"dither": "ordered"}, "dither"),
    ({"fit": "stretch"}, "fit"),
    ({"fps": 0}, "fps"),
    ({"fps": 60}, "fps"),
    ({"fps": 50, "frames": 300}, "frames"),
    ({"start": 30}, "start"),
    ({"start": 2, "end": 1}, "end"),
    ({"frames": "many"}, "frames"),
    ({"transparent": "sometimes"}, "transparent"),
    ({"colours": 8}, "colours"),
    ({"fps": 10**30}, "fps"),
    ({"start": -1}, "start"),
    ({"width": 8}, "width"),
    ({"size": None, "width": 300}, "width"),
]


def test_bad_options_are_400_with_field_errors(api, video):
    # One finished video for every case (each would otherwise render and download its own).
    for options, field in BAD_OPTIONS:
        response = api.post(f"/api/history/{video.pk}/pixel-art/", options, format="json")
        assert response.status_code == 400, (options, response.content)
        error = error_of(response)
        assert error["code"] == "invalid" and field in error["fields"], (options, error)
    assert not PixelArt.objects.exists()


def test_other_users_videos_and_results_are_404(api, user, other_user, sandbox):
    from rest_framework.test import APIClient

    from api.services import token_for

    theirs = completed_video(sandbox, user=other_user, prompt="frank's video")
    assert api.post(f"/api/history/{theirs.pk}/pixel-art/", {}, format="json").status_code == 404
    frank = APIClient()
    frank.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=other_user)}")
    art_id = frank.post(f"/api/history/{theirs.pk}/pixel-art/", {"size": 16, "frames": 1}, format="json").json()["id"]
    run_queued_tasks()
    for url in (f"/api/pixel-art/{art_id}/", f"/api/pixel-art/{art_id}/files/animation.gif"):
        response = api.get(url)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found", url
        assert frank.get(url).status_code == 200, url
    assert api.get("/api/pixel-art/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_an_unfinished_video_is_a_409(api, user):
    item = make_task(user=user, status=TaskStatus.QUEUED).history_item
    response = api.post(f"/api/history/{item.pk}/pixel-art/", {}, format="json")
    assert response.status_code == 409 and error_of(response)["code"] == "not_completed"


def test_non_finite_numbers_are_400(api, video):
    response = api.post(f"/api/history/{video.pk}/pixel-art/", '{"start": NaN}', content_type="application/json")
    assert response.status_code == 400 and error_of(response)["code"] in ("invalid", "parse_error")
    assert not PixelArt.objects.exists()


def test_not_a_json_object_is_400(api, video):
    response = api.post(f"/api/history/{video.pk}/pixel-art/", [1, 2], format="json")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid"


def test_a_suspended_account_is_403_and_files_go_out_the_way_videos_do(api, user, video, settings):
    from accounts.services import suspend_user
    from tests.factories import make_user

    art_id = api.post(f"/api/history/{video.pk}/pixel-art/", {"size": 16, "frames": 2}, format="json").json()["id"]
    run_queued_tasks()
    settings.MEDIA_X_ACCEL_REDIRECT = "/_protected_media/"
    sheet = api.get(f"/api/pixel-art/{art_id}/files/sprite-sheet.png")
    assert sheet.status_code == 200 and sheet["X-Accel-Redirect"] == f"/_protected_media/{PixelArt.objects.get(pk=art_id).sprite_sheet.name}"

    suspend_user(user=user, by=make_user("boss", is_staff=True), reason="chargeback under review")
    response = api.post(f"/api/history/{video.pk}/pixel-art/", {"size": 16, "frames": 3}, format="json")
    assert response.status_code == 403 and error_of(response)["code"] == "account_suspended"
    assert PixelArt.objects.count() == 1 and not queued_tasks()


def test_errors_and_a_stored_failure_are_said_in_the_requests_language(api, user, video):
    from pixelart.services import SOURCE_MISSING, fail_pixel_art

    url = f"/api/history/{video.pk}/pixel-art/"
    both = {"size": 64, "width": 100, "shade": 1}
    korean = error_of(api.post(url, both, format="json", HTTP_ACCEPT_LANGUAGE="ko"))
    assert korean["fields"] == {"shade": ["없는 옵션입니다."]}
    korean = error_of(api.post(url, {"size": 64, "width": 100}, format="json", HTTP_ACCEPT_LANGUAGE="ko"))
    assert korean["fields"]["width"] == ["정사각형 크기와 너비 중 하나만 선택하세요."]
    english = error_of(api.post(url, {"size": 64, "width": 100}, format="json"))
    assert english["fields"]["width"] == ["Choose a square size or a width, not both."]

    unfinished = make_task(user=user, status=TaskStatus.QUEUED).history_item
    refused = api.post(f"/api/history/{unfinished.pk}/pixel-art/", {}, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert refused.status_code == 409 and error_of(refused)["message"] == "완료된 영상만 픽셀 아트로 만들 수 있습니다."

    # A failure is stored in English and read in the reader's language.
    art_id = api.post(url, {"size": 16, "frames": 1}, format="json").json()["id"]
    assert fail_pixel_art(pixel_art_id=art_id, message=SOURCE_MISSING)
    assert PixelArt.objects.get(pk=art_id).error_message == SOURCE_MISSING
    read = api.get(f"/api/pixel-art/{art_id}/", HTTP_ACCEPT_LANGUAGE="ko").json()
    assert read["status"] == "failed" and read["error_message"].startswith("원본 영상이 더 이상 저장소에 없어")
    assert api.get(f"/api/pixel-art/{art_id}/").json()["error_message"] == SOURCE_MISSING
