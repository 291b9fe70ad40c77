"""The JSON API's views (api/views.py), endpoint by endpoint: jobs (the Generate page's
rules and credits, as JSON), tasks, history, me, and tokens."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from credits.models import Tier, Wallet
from generation.models import Job, Task, TaskStatus
from generation.services import start_generation
from tests.api.conftest import error_of
from tests.factories import fund, make_task
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db

# POST/GET /api/jobs/ and cancel.

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


def test_a_resent_request_with_its_idempotency_key_answers_with_the_first_job(api, user):
    first = api.post(JOBS, VALID, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    again = api.post(JOBS, VALID, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Job.objects.count() == 1 and len(queued_tasks("submit_task")) == 1


def test_an_idempotency_key_reused_for_another_body_is_422(api):
    api.post(JOBS, VALID, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    response = api.post(JOBS, {**VALID, "prompt": "a blue fox"}, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert response.status_code == 422 and error_of(response)["code"] == "idempotency_key_reused"
    assert Job.objects.count() == 1


def test_an_overlong_idempotency_key_is_refused(api):
    response = api.post(JOBS, VALID, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400 and "request_key" in error_of(response)["fields"]
    assert Job.objects.count() == 0


@pytest.mark.parametrize(("sent", "stored"), [({}, True), ({"allow_fallback": False}, False), ({"allow_fallback": "no"}, False)])
def test_a_job_allows_a_fallback_unless_the_client_says_not(api, sent, stored):
    response = create(api, **sent)
    assert response.status_code == 201, response.json()
    assert response.json()["allow_fallback"] is stored and Job.objects.get().allow_fallback is stored


def test_a_fallback_choice_that_is_not_a_boolean_is_refused(api):
    response = create(api, allow_fallback="perhaps")
    assert response.status_code == 400
    assert "allow_fallback" in error_of(response)["fields"] and not Job.objects.exists()


def test_a_multipart_job_allows_a_fallback_unless_it_says_not(api):
    assert api.post(JOBS, VALID, format="multipart").json()["allow_fallback"] is True
    assert api.post(JOBS, {**VALID, "allow_fallback": "false"}, format="multipart").json()["allow_fallback"] is False


# GET /api/tasks/{id}/ and POST /api/tasks/{id}/retry/.


def test_a_task_says_why_it_waits_and_which_model_made_it(api, user):
    waiting = make_task(user=user, waiting="breaker")
    body = api.get(f"/api/tasks/{waiting.pk}/").json()
    assert (body["status"], body["waiting"], body["made_with"]) == ("pending", "breaker", None)
    made = make_task(user=user, status=TaskStatus.QUEUED, made_with="veo-3.1")
    body = api.get(f"/api/tasks/{made.pk}/").json()
    assert (body["waiting"], body["made_with"]) == ("", "veo-3.1")


def test_a_task_shows_its_status_progress_and_error(api, user):
    task = make_task(user=user, status=TaskStatus.IN_PROGRESS, progress=40, last_log="Rendering frame 48/120")
    body = api.get(f"/api/tasks/{task.pk}/").json()
    assert (body["id"], body["job"], body["status"], body["progress"], body["last_log"]) == (
        str(task.pk), str(task.job_id), "in_progress", 40, "Rendering frame 48/120",
    )
    assert body["result"] is None and body["retried_from"] is None


def test_retrying_a_failed_task_makes_a_new_attempt_that_holds_a_credit(api, user):
    old = make_task(user=user, status=TaskStatus.FAILED, error_message="boom")
    response = api.post(f"/api/tasks/{old.pk}/retry/")
    assert response.status_code == 201
    body = response.json()
    assert body["retried_from"] == str(old.pk) and body["status"] == "pending" and body["job"] == str(old.job_id)
    assert len(queued_tasks("submit_task")) == 1
    assert Wallet.objects.get(user=user).reserved == 1


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.COMPLETED])
def test_only_failed_or_cancelled_tasks_can_be_retried(api, user, status):
    task = make_task(user=user, status=status)
    response = api.post(f"/api/tasks/{task.pk}/retry/")
    assert response.status_code == 409 and error_of(response)["code"] == "not_retryable"
    assert Task.objects.count() == 1


def test_a_task_is_retried_once(api, user):
    old = make_task(user=user, status=TaskStatus.CANCELLED)
    assert api.post(f"/api/tasks/{old.pk}/retry/").status_code == 201
    assert api.post(f"/api/tasks/{old.pk}/retry/").status_code == 409


def test_a_retry_without_credits_is_402(api, user):
    task = make_task(user=user, status=TaskStatus.FAILED)
    fund(user, 0)
    response = api.post(f"/api/tasks/{task.pk}/retry/")
    assert response.status_code == 402 and error_of(response)["code"] == "insufficient_credits"
    assert Task.objects.count() == 1


def test_retries_are_throttled_with_job_creation(api, user, settings):
    settings.API_JOB_CREATE_RATE = "1/minute"
    first, second = (make_task(user=user, status=TaskStatus.FAILED) for _ in range(2))
    assert api.post(f"/api/tasks/{first.pk}/retry/").status_code == 201
    assert error_of(api.post(f"/api/tasks/{second.pk}/retry/"))["code"] == "throttled"


def test_another_users_task_is_404(api, other_user):
    task = make_task(user=other_user, status=TaskStatus.FAILED)
    assert error_of(api.get(f"/api/tasks/{task.pk}/"))["code"] == "not_found"
    assert api.post(f"/api/tasks/{task.pk}/retry/").status_code == 404
    assert Task.objects.count() == 1


def test_only_post_retries(api, user):
    task = make_task(user=user, status=TaskStatus.FAILED)
    response = api.get(f"/api/tasks/{task.pk}/retry/")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


# GET /api/history/: the gallery as JSON, paginated and filtered.


def test_history_lists_my_items_newest_first_in_pages(api, user, other_user):
    for n in range(3):
        make_task(user=user, status=TaskStatus.COMPLETED, prompt=f"video {n}")
    make_task(user=other_user, prompt="frank's")
    body = api.get("/api/history/", {"page_size": 2}).json()
    assert "count" not in body and [item["prompt"] for item in body["results"]] == ["video 2", "video 1"]
    item = body["results"][0]
    assert set(item) == {"id", "created_at", "job", "prompt", "model", "task"}
    assert item["task"]["status"] == "completed"
    older = api.get(body["next"]).json()
    assert [i["prompt"] for i in older["results"]] == ["video 0"] and older["next"] is None
    assert [i["prompt"] for i in api.get(older["previous"]).json()["results"]] == ["video 2", "video 1"]


def test_history_filters_by_status_and_model(api, user):
    make_task(user=user, status=TaskStatus.FAILED, prompt="a failed one")
    make_task(user=user, status=TaskStatus.QUEUED, prompt="a queued veo", model_key="veo-3.1")
    assert [i["prompt"] for i in api.get("/api/history/", {"status": "failed"}).json()["results"]] == ["a failed one"]
    assert [i["prompt"] for i in api.get("/api/history/", {"model": "veo-3.1"}).json()["results"]] == ["a queued veo"]
    both = api.get("/api/history/", {"model": "veo-3.1", "status": "failed"}).json()
    assert both["results"] == [] and both["next"] is None


@pytest.mark.parametrize(("query", "field"), [({"status": "sleeping"}, "status"), ({"model": "sora"}, "model")])
def test_a_bad_filter_is_400(api, query, field):
    response = api.get("/api/history/", query)
    assert response.status_code == 400 and field in error_of(response)["fields"]


# GET /api/me/: balance and what is left of today's limit.


def test_me_shows_balance_and_quota(api, user, settings):
    settings.DAILY_VIDEO_LIMITS = {"free": 5, "pro": 50}
    start_generation(user=user, model_key="kling-3-t2v", prompt="a fox", duration=5, styles=["anime", "noir"])
    assert api.get("/api/me/").json() == {
        "username": "erin", "tier": "free", "balance": 48, "reserved": 2, "daily_limit": 5, "used_today": 2, "remaining_today": 3,
    }
    fund(user, 48, tier=Tier.PRO)
    assert api.get("/api/me/").json()["remaining_today"] == 48


def test_me_needs_a_login(client):
    assert client.get("/api/me/").status_code == 401


# Getting a token, and using the API with a session (the browsable API).


def test_a_token_for_a_username_and_password(user):
    client = APIClient()
    response = client.post("/api/auth/token/", {"username": "erin", "password": "pw"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert client.post("/api/auth/token/", {"username": "erin", "password": "pw"}, format="json").json()["token"] == token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/me/").json()["username"] == "erin"


@pytest.mark.parametrize("body", [{"username": "erin", "password": "wrong"}, {"username": "erin"}, ["erin", "pw"]])
def test_bad_credentials_are_400(user, body):
    response = APIClient().post("/api/auth/token/", body, format="json")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid"


def test_token_requests_are_throttled(user, settings):
    settings.API_TOKEN_RATE = "2/minute"
    client = APIClient()
    codes = [client.post("/api/auth/token/", {"username": "erin", "password": "wrong"}, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]


def test_a_session_works_and_needs_the_csrf_token(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/jobs/").status_code == 200
    response = client.post("/api/jobs/", {"prompt": "a fox", "model": "kling-3-t2v", "duration": 5}, format="json")
    assert response.status_code == 403 and "CSRF" in error_of(response)["message"]


def test_the_browsable_api_renders(user, client):
    client.force_login(user)
    response = client.get("/api/jobs/", headers={"Accept": "text/html"})
    assert response.status_code == 200 and b"Job List" in response.content


def test_not_enough_credits_is_said_in_the_requests_language(api, user):
    fund(user, 1)
    korean = api.post(JOBS, {"prompt": "a fox", "model": "kling-3-t2v", "styles": ["anime", "noir"]}, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    assert korean.status_code == 402
    error = error_of(korean)
    assert error["code"] == "insufficient_credits"
    assert error["message"] == "크레딧이 부족합니다. 2 크레딧이 필요하지만 잔액은 1입니다. 영상 수를 줄이거나 크레딧을 더 요청하세요."
    english = api.post(JOBS, {"prompt": "a fox", "model": "kling-3-t2v", "styles": ["anime", "noir"]}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 402 and error_of(english)["message"].startswith("Not enough credits: this needs 2 credits")
    assert not Job.objects.exists()


def test_our_own_error_messages_follow_the_requests_language(api):
    response = api.post(JOBS, {"prompt": "a fox", "model": "kling-3-t2v", "colour": "red"}, format="json", HTTP_ACCEPT_LANGUAGE="ko")
    error = error_of(response)
    assert response.status_code == 400 and error["message"] == "일부 필드가 올바르지 않습니다. `fields`를 확인하세요."
    assert error["fields"]["colour"][0].startswith("알 수 없는 필드입니다.")
    missing = api.get("/api/jobs/00000000-0000-0000-0000-000000000000/", HTTP_ACCEPT_LANGUAGE="ko")
    assert missing.status_code == 404 and error_of(missing)["message"] == "찾을 수 없습니다."
