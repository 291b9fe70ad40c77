"""The Generate page: validation against the chosen model, and what a valid press makes."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from generation.models import Job, Task, TaskStatus
from history.models import HistoryItem
from tests.factories import fund, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def png(width=512, height=512, fmt="PNG") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile("input.png", buffer.getvalue(), content_type="image/png")


def post(client, **fields):
    data = {"prompt": "a red fox running through snow", "model": "kling-3-t2v", "duration": "5", "aspect_ratios": "16:9"}
    data.update(fields)
    return client.post(reverse("generation:generate"), {key: value for key, value in data.items() if value is not None})


def test_the_page_needs_a_login(client):
    response = client.get(reverse("generation:generate"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_form_renders_with_defaults(signed_in):
    response = signed_in.get(reverse("generation:generate"))
    assert response.status_code == 200
    assert b'name="prompt"' in response.content and b"Generate" in response.content


def test_a_valid_request_makes_a_job_a_task_a_card_and_queues_the_submit(signed_in):
    response = post(signed_in, negative_prompt="blur", audio="off")
    assert response.status_code == 302 and response["Location"] == reverse("history:gallery")
    job = Job.objects.get()
    task = Task.objects.get()
    assert (job.prompt, job.params["audio"], task.status) == ("a red fox running through snow", False, TaskStatus.PENDING)
    assert task.arguments == {
        "prompt": "a red fox running through snow",
        "duration": "5",
        "aspect_ratio": "16:9",
        "negative_prompt": "blur",
        "generate_audio": False,
    }
    assert HistoryItem.objects.get().task == task
    assert len(queued_tasks("submit_task")) == 1


def test_models_spell_their_arguments_their_own_way(signed_in):
    post(signed_in, model="luma-ray-2", duration="9", aspect_ratios="9:16")
    assert Task.objects.get().arguments == {
        "prompt": "a red fox running through snow", "duration": "9s", "aspect_ratio": "9:16", "resolution": "540p",
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"prompt": ""}, "prompt", "Describe the video you want."),
        ({"prompt": "   "}, "prompt", "Describe the video you want."),
        ({"prompt": "x" * 1001}, "prompt", "Keep the prompt to 1000 characters"),
        ({"duration": "16"}, "duration", "makes videos of 3, 4, 5"),
        ({"model": "luma-ray-2", "duration": "5", "aspect_ratios": "1:1"}, "aspect_ratios", "supports 16:9, 9:16, 4:3, 3:4, 21:9, 9:21"),
        ({"model": "veo-3.1", "duration": "6", "aspect_ratios": "1:1"}, "aspect_ratios", "supports 16:9, 9:16"),
        ({"model": "no-such-model"}, "model", "Select a valid choice"),
        ({"model": "veo-3.1", "duration": "6", "seed": "-1"}, "seed", "from 0 to 2147483647"),
        ({"seed": "42"}, "seed", "takes no seed"),
        ({"model": "luma-ray-2", "duration": "5", "negative_prompt": "blur"}, "negative_prompt", "takes nothing to avoid"),
        ({"model": "luma-ray-2", "duration": "5", "audio": "on"}, "audio", "makes silent videos"),
        ({"model": "luma-ray-2", "duration": "5", "resolution": "4k"}, "resolution", "makes 540p, 720p or 1080p videos"),
        ({"model": "kling-2.1-i2v", "aspect_ratios": None}, "image", "needs an input image"),
        ({"model": "kling-2.1-i2v", "aspect_ratios": "16:9"}, "aspect_ratios", "keeps the shape of your image"),
    ],
)
def test_invalid_requests_show_clear_errors_and_create_nothing(signed_in, fields, field, message):
    response = post(signed_in, **fields)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert Job.objects.count() == 0 and queued_tasks() == []


def test_an_image_to_video_request_keeps_the_image(signed_in):
    response = post(signed_in, model="kling-2.1-i2v", aspect_ratios=None, image=png())
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.input_image.name.startswith("inputs/") and job.input_image.size > 0
    assert "aspect_ratio" not in Task.objects.get().arguments


def test_a_refused_image_to_video_job_leaves_no_stored_image(client, settings):
    broke = make_user()
    fund(broke, 0)
    client.force_login(broke)
    response = post(client, model="kling-2.1-i2v", aspect_ratios=None, image=png())
    assert "Not enough credits" in " ".join(response.context["form"].non_field_errors())
    assert Job.objects.count() == 0
    inputs = Path(settings.MEDIA_ROOT) / "inputs"
    assert not inputs.exists() or not any(p.is_file() for p in inputs.rglob("*"))


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png"), "Upload a valid image"),
        (png(100, 100), "at least 256 px"),
    ],
)
def test_bad_images_are_refused(signed_in, upload, message):
    response = post(signed_in, model="kling-2.1-i2v", aspect_ratios=None, image=upload)
    assert message in " ".join(response.context["form"].errors["image"])
    assert Job.objects.count() == 0


def test_an_image_for_a_text_model_is_refused(signed_in):
    response = post(signed_in, image=png())
    assert "text only" in " ".join(response.context["form"].errors["image"])


def test_regenerate_links_prefill_the_form(signed_in):
    response = signed_in.get(reverse("generation:generate") + "?model=veo-3.1&prompt=a+calm+sea&duration=6")
    form = response.context["form"]
    assert (form.initial["model"], form.initial["prompt"], form.initial["duration"]) == ("veo-3.1", "a calm sea", "6")
