"""POST/GET /api/jobs/ and cancel: the Generate page's rules and credits, as JSON."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from credits.models import Wallet
from generation.models import Job, Task, TaskStatus
from generation.services import start_generation
from tests.api.conftest import error_of
from tests.factories import fund
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db

JOBS = "/api/jobs/"
VALID = {"prompt": "a red fox", "model": "kling-3-t2v", "duration": 5}


def create(api, **fields):
    return api.post(JOBS, {**VALID, **fields}, format="json")


def test_creating_a_job_returns_it_with_its_tasks(api, user):
    response = create(api, styles=["anime", "noir"], aspect_ratios=["16:9", "9:16"])
    assert response.status_code == 201, response.json()
    body = response.json()
    job = Job.objects.get()
    assert body["id"] == str(job.pk) and body["model"] == "kling-3-t2v"
    assert body["settings"] == {
        "duration": 5, "styles": ["anime", "noir"], "aspect_ratios": ["16:9", "9:16"], "mode": "single", "count": 4,
        "negative_prompt": "", "seed": None, "resolution": "", "audio": True,
    }
    assert body["progress"] == {
        "total": 4, "completed": 0, "failed": 0, "cancelled": 0, "active": 4, "is_finished": False, "label": "0 of 4 done",
    }
    assert [(t["style"], t["aspect_ratio"], t["status"], t["result"]) for t in body["tasks"]] == [
        ("anime", "16:9", "pending", None), ("anime", "9:16", "pending", None),
        ("noir", "16:9", "pending", None), ("noir", "9:16", "pending", None),
    ]
    assert len(queued_tasks("submit_task")) == 4
    assert Wallet.objects.get(user=user).balance == 46


def test_batch_mode_through_the_api(api):
    response = create(api, styles=["anime", "noir", "cinematic"], aspect_ratios=["16:9", "9:16"], mode="batch", count=5)
    assert response.status_code == 201
    assert [(t["style"], t["aspect_ratio"]) for t in response.json()["tasks"]] == [
        ("anime", "16:9"), ("anime", "9:16"), ("noir", "16:9"), ("noir", "9:16"), ("cinematic", "16:9"),
    ]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"prompt": ""}, "prompt", "Describe the video you want."),
        ({"prompt": None}, "prompt", "Describe the video you want."),
        ({"duration": 16}, "duration", "makes videos of 3, 4, 5"),
        ({"model": "luma-ray-2", "duration": 5, "aspect_ratios": ["1:1"]}, "aspect_ratios", "supports 16:9, 9:16, 4:3"),
        ({"model": "luma-ray-2", "duration": 5, "audio": True}, "audio", "makes silent videos"),
        ({"model": "luma-ray-2", "duration": 5, "resolution": "4k"}, "resolution", "makes 540p, 720p or 1080p videos"),
        ({"model": "luma-ray-2", "duration": 5, "negative_prompt": "blur"}, "negative_prompt", "takes nothing to avoid"),
        ({"model": "no-such-model"}, "model", "Select a valid choice"),
        ({"model": "veo-3.1", "duration": 4, "aspect_ratios": ["1:1"]}, "aspect_ratios", "supports 16:9, 9:16"),
        ({"styles": ["glitter"]}, "styles", "Select a valid choice"),
        ({"mode": "batch", "count": 21}, "count", "Select a valid choice"),
        ({"model": "veo-3.1", "duration": 4, "seed": -1}, "seed", "from 0 to 2147483647"),
        ({"seed": 7}, "seed", "takes no seed"),
        ({"model": "kling-2.1-i2v"}, "image", "needs an input image"),
        # Wrong JSON types are refused, not coerced into something else.
        ({"prompt": {"text": "a fox"}}, "prompt", "Not a valid string."),
        ({"styles": "anime"}, "styles", 'Expected a list of items but got type "str".'),
        ({"styles": [{"key": "anime"}]}, "styles", "Not a valid string."),
        ({"duration": "five"}, "duration", "A valid integer is required."),
        ({"count": 2.5}, "count", "A valid integer is required."),
        ({"seed": True}, "seed", "A valid integer is required."),
    ],
)
def test_invalid_input_is_400_with_field_errors_and_makes_nothing(api, user, fields, field, message):
    response = create(api, **fields)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert any(message in text for text in error["fields"][field]), error
    assert not Job.objects.exists() and Wallet.objects.get(user=user).balance == 50


def test_too_many_videos_is_a_general_error(api):
    styles = ["none", "anime", "noir", "cinematic", "watercolour", "claymation", "documentary"]
    error = error_of(create(api, styles=styles, aspect_ratios=["16:9", "9:16", "1:1"]))
    assert error["code"] == "invalid" and "at most 20 videos" in error["message"] and error["fields"] == {}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("[1, 2]", "application/json"), ('"a fox"', "application/json"), ("{not json", "application/json")],
)
def test_a_body_that_is_not_an_object_is_400(api, body, content_type):
    response = api.post(JOBS, body, content_type=content_type)
    assert response.status_code == 400
    assert error_of(response)["code"] in ("invalid", "parse_error")
    assert not Job.objects.exists()


def test_an_unsupported_media_type_is_415(api):
    response = api.post(JOBS, "prompt=a fox", content_type="text/plain")
    assert response.status_code == 415 and error_of(response)["code"] == "unsupported_media_type"


def test_an_image_to_video_job_takes_a_multipart_upload(api):
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), (10, 120, 200)).save(buffer, format="PNG")
    upload = SimpleUploadedFile("cat.png", buffer.getvalue(), content_type="image/png")
    response = api.post(
        JOBS, {"prompt": "a cat", "model": "kling-2.1-i2v", "duration": "5", "styles": ["anime", "noir"], "image": upload},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    job = Job.objects.get()
    assert job.input_image.name.startswith("inputs/") and job.tasks.count() == 2


def test_not_enough_credits_is_402(api, user):
    fund(user, 1)
    response = create(api, styles=["anime", "noir"])
    assert response.status_code == 402
    error = error_of(response)
    assert error["code"] == "insufficient_credits" and "needs 2 credits and you have 1" in error["message"]
    assert not Job.objects.exists()


def test_the_daily_limit_is_403(api, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 1, "pro": 1}
    assert create(api).status_code == 201
    response = create(api)
    assert response.status_code == 403 and error_of(response)["code"] == "daily_limit_reached"


def test_job_creation_is_throttled_per_user(api, other_user, settings):
    settings.API_JOB_CREATE_RATE = "2/minute"
    assert [create(api).status_code for _ in range(3)] == [201, 201, 429]
    response = create(api)
    assert error_of(response)["code"] == "throttled" and int(response["Retry-After"]) > 0
    assert api.get(JOBS).status_code == 200  # reading is not throttled
    other = APIClient()
    other.force_authenticate(other_user)
    assert other.post(JOBS, VALID, format="json").status_code == 201  # another user has their own allowance


def test_listing_shows_only_my_jobs_newest_first_with_pages(api, user, other_user):
    for prompt in ("first", "second", "third"):
        start_generation(user=user, model_key="kling-3-t2v", prompt=prompt, duration=5)
    start_generation(user=other_user, model_key="kling-3-t2v", prompt="frank's", duration=5)
    body = api.get(JOBS, {"page_size": 2}).json()
    assert "count" not in body and [j["prompt"] for j in body["results"]] == ["third", "second"]
    assert body["next"] and api.get(body["next"]).json()["results"][0]["prompt"] == "first"
    assert api.get(JOBS, {"cursor": "not-a-cursor"}).status_code == 404


def test_a_job_shows_its_results_and_progress(api, user):
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir"])
    done, failed = job.tasks.order_by("variant_index")
    Task.objects.filter(pk=failed.pk).update(status=TaskStatus.FAILED, error_message="The model could not make this video: boom")
    Task.objects.filter(pk=done.pk).update(status=TaskStatus.COMPLETED, progress=100)
    item = done.history_item
    item.video.name, item.poster.name = "videos/a.mp4", "posters/a.jpg"
    item.duration_seconds, item.width, item.height, item.size_bytes = 5.0, 480, 270, 1234
    item.save()
    body = api.get(f"{JOBS}{job.pk}/").json()
    assert body["progress"]["label"] == "1 of 2 done, 1 failed"
    first, second = body["tasks"]
    assert first["result"] == {
        # Links to the view that checks who asks, never to the stored file.
        "video_url": f"http://testserver/history/{item.pk}/video/", "poster_url": f"http://testserver/history/{item.pk}/poster/",
        "content_type": "", "duration_seconds": 5.0, "width": 480, "height": 270, "size_bytes": 1234, "sha256": "",
    }
    assert (second["status"], second["error_message"], second["result"]) == ("failed", "The model could not make this video: boom", None)


@pytest.mark.parametrize("path", ["{pk}/", "{pk}/cancel/"])
def test_another_users_job_is_404(api, other_user, path):
    job = start_generation(user=other_user, model_key="kling-3-t2v", prompt="frank's", duration=5)
    url = JOBS + path.format(pk=job.pk)
    response = api.post(url) if "cancel" in path else api.get(url)
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert not job.tasks.filter(status=TaskStatus.CANCELLED).exists()


@pytest.mark.parametrize("pk", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_or_malformed_ids_are_404(api, pk):
    assert error_of(api.get(f"{JOBS}{pk}/"))["code"] == "not_found"


def test_cancel_reports_what_happened_and_returns_the_job(api, user):
    job = start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir", "cinematic"])
    first, second, _ = job.tasks.order_by("variant_index")
    Task.objects.filter(pk=first.pk).update(status=TaskStatus.DOWNLOADING)
    Task.objects.filter(pk=second.pk).update(status=TaskStatus.QUEUED, request_id="req-2")
    response = api.post(f"{JOBS}{job.pk}/cancel/")
    assert response.status_code == 200
    body = response.json()
    assert (body["cancelled"], body["asked_provider"], body["saving"], body["finished"], body["credits_released"]) == (2, 1, 1, 0, 2)
    assert body["message"].startswith("Cancelled 2 videos and returned 2 credits")
    assert [t["status"] for t in body["job"]["tasks"]] == ["downloading", "cancelled", "cancelled"]
    assert Wallet.objects.get(user=user).balance == 49


def test_the_api_needs_authentication():
    client = APIClient()
    response = client.get(JOBS)
    assert response.status_code == 401 and error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")
    assert client.post(JOBS, VALID, format="json").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token nope")
    assert error_of(bad.get(JOBS))["code"] == "authentication_failed"


def test_a_field_the_api_does_not_know_is_refused_not_dropped(api):
    response = create(api, resolutoin="1080p")
    assert response.status_code == 400
    error = error_of(response)
    assert "Unknown field" in " ".join(error["fields"]["resolutoin"])
    assert Job.objects.count() == 0
