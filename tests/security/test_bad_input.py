"""Hostile or careless input on the pages and the API: a clear 4xx every time, nothing
stored or charged, never a server error. Runs on PostgreSQL in CI, which is the one
that refuses NUL bytes and long names."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from api.services import token_for
from credits.models import LedgerEntry
from generation.models import Job, Task, TaskStatus
from generation.services import retry_task
from generation.transitions import TransitionRefused
from history.models import HistoryItem
from tests.api.conftest import error_of
from tests.factories import fund, make_task, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.fixture
def user():
    user = make_user()
    fund(user, 50)
    return user


@pytest.fixture
def page(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=user)}")
    return client


def png(name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), (20, 90, 200)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_an_upload_with_a_very_long_file_name_is_stored_under_a_short_random_name(page):
    name = "a" * 240 + ".png"
    response = page.post(
        reverse("generation:generate"),
        {"prompt": "a lighthouse", "model": "kling-2.1-i2v", "duration": "5", "image": png(name)},
    )
    assert response.status_code == 302
    stored = Job.objects.get().input_image.name
    assert stored.startswith("inputs/") and "aaaa" not in stored and len(stored) < 100


def test_uploads_never_keep_the_uploaders_file_name(api):
    first = api.post("/api/jobs/", {"prompt": "a", "model": "kling-2.1-i2v", "duration": 5, "image": png("holiday.png")}, format="multipart")
    second = api.post("/api/jobs/", {"prompt": "b", "model": "kling-2.1-i2v", "duration": 5, "image": png("holiday.png")}, format="multipart")
    assert first.status_code == second.status_code == 201
    names = [job.input_image.name for job in Job.objects.all()]
    assert all("holiday" not in name and name.endswith(".png") for name in names)
    assert len(set(names)) == 2


@pytest.mark.parametrize("query", ["model=%00", "model=kling%00", "status=%00", "page=%00", "model=" + "x" * 5000])
def test_gallery_filters_with_nul_bytes_or_junk_are_ignored(page, query):
    make_task()  # someone else's card, so the filters have rows to read
    response = page.get(f"/history/?{query}")
    assert response.status_code == 200


def test_api_history_filter_with_a_nul_byte_is_a_400(api):
    response = api.get("/api/history/?model=%00")
    assert response.status_code == 400 and error_of(response)["code"] == "invalid"


@pytest.mark.parametrize("prompt", [ZERO_WIDTH, " \u200b \u2060 ", "\u200b\u00a0\u3000\u180e"])
def test_a_prompt_of_invisible_characters_is_refused_and_not_charged_on_the_page(page, user, prompt):
    response = page.post(reverse("generation:generate"), {"prompt": prompt, "model": "kling-2.1-t2v", "duration": "5"})
    assert response.status_code == 200
    assert "Describe the video" in " ".join(response.context["form"].errors["prompt"])
    user.wallet.refresh_from_db()
    assert Job.objects.count() == 0 and (user.wallet.balance, user.wallet.reserved) == (50, 0)


def test_a_prompt_of_invisible_characters_is_refused_on_the_api(api):
    response = api.post("/api/jobs/", {"prompt": ZERO_WIDTH, "model": "kling-2.1-t2v", "duration": 5}, format="json")
    assert response.status_code == 400 and "prompt" in error_of(response)["fields"]
    assert Job.objects.count() == 0 and queued_tasks() == []


def test_start_generation_itself_refuses_an_invisible_prompt(user):
    from generation.rules import RequestRefused
    from generation.services import start_generation

    with pytest.raises(RequestRefused):
        start_generation(user=user, model_key="kling-2.1-t2v", prompt=ZERO_WIDTH, duration=5)
    assert Job.objects.count() == 0


@pytest.mark.parametrize("value", [123, 1.5, True, ["a fox"], {"text": "a fox"}])
def test_a_prompt_that_is_not_a_string_is_a_400(api, value):
    response = api.post("/api/jobs/", {"prompt": value, "model": "kling-2.1-t2v", "duration": 5}, format="json")
    assert response.status_code == 400 and "prompt" in error_of(response)["fields"]
    assert Job.objects.count() == 0


@pytest.mark.parametrize("field", ["model", "negative_prompt", "mode"])
def test_other_text_fields_must_be_strings_too(api, field):
    response = api.post("/api/jobs/", {"prompt": "a fox", "model": "kling-2.1-t2v", "duration": 5, field: 7}, format="json")
    assert response.status_code == 400 and field in error_of(response)["fields"]


def test_deeply_nested_json_is_a_400(api):
    body = "[" * 20_000 + "]" * 20_000
    response = api.generic("POST", "/api/jobs/", body, content_type="application/json")
    assert response.status_code == 400 and error_of(response)["code"] == "parse_error"


def test_a_huge_json_body_is_refused_with_413(api):
    body = json.dumps({"prompt": "x" * (2_500_000), "model": "kling-2.1-t2v", "duration": 5})
    response = api.generic("POST", "/api/jobs/", body, content_type="application/json")
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"
    assert Job.objects.count() == 0


def test_a_huge_token_request_is_refused_with_413():
    body = json.dumps({"username": "x" * 3_000_000, "password": "y"})
    response = APIClient().generic("POST", "/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"


@pytest.mark.parametrize(
    "path", ["/api/nothing-here/", "/api/jobs/not-a-uuid/", "/api/tasks/123/", "/api/tasks/../../etc/", "/api/jobs/%00/"]
)
def test_unknown_api_urls_and_bad_ids_answer_the_json_error_shape(api, path):
    response = api.get(path)
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert error_of(response)["code"] == "not_found"


def test_unknown_api_urls_answer_json_without_a_login_too():
    response = APIClient().get("/api/nothing-here/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_non_uuid_ids_in_actions_answer_the_json_error_shape(api):
    response = api.post("/api/tasks/not-a-uuid/retry/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_a_retry_of_a_task_whose_card_was_deleted_is_refused_without_charge(api, user):
    task = make_task(user=user, status=TaskStatus.FAILED)
    HistoryItem.objects.filter(task=task).delete()
    entries = LedgerEntry.objects.count()
    response = api.post(f"/api/tasks/{task.pk}/retry/")
    assert response.status_code == 409 and error_of(response)["code"] == "not_retryable"
    assert Task.objects.count() == 1 and LedgerEntry.objects.count() == entries and queued_tasks() == []
    user.wallet.refresh_from_db()
    assert (user.wallet.balance, user.wallet.reserved) == (50, 0)


def test_the_retry_service_refuses_a_task_without_its_card(user):
    task = make_task(user=user, status=TaskStatus.CANCELLED)
    HistoryItem.objects.filter(task=task).delete()
    with pytest.raises(TransitionRefused):
        retry_task(task=task)
    assert Task.objects.count() == 1


@pytest.mark.parametrize("frame", ["input:%00", "input:" + "9" * 400, "video:not-an-id", "pixelart:abc:1", "pixelart::"])
def test_a_frame_reference_that_is_no_id_opens_the_generate_page_without_it(page, frame):
    response = page.get(f"{reverse('generation:generate')}?model=kling-2.1-i2v&frame={frame}")
    assert response.status_code == 200
