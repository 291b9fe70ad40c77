"""One set of request rules, enforced by start_generation itself whoever calls it."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation.models import Job
from generation.rules import NON_FIELD, RequestRefused, check_request
from generation.services import start_generation
from tests.factories import fund, make_user
from tests.support import queued_tasks

pytestmark = pytest.mark.django_db


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), (10, 120, 200)).save(buffer, format="PNG")
    return SimpleUploadedFile("frame.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def user():
    user = make_user()
    fund(user, 100)
    return user


@pytest.mark.parametrize(
    ("request_", "field", "message"),
    [
        ({"mode": "batch", "count": 50}, "count", "between 1 and 20"),
        ({"duration": 7}, "duration", "makes videos of 5 or 9 seconds"),
        ({"aspect_ratios": ["1:1"]}, "aspect_ratios", "supports 16:9, 9:16, 4:3, 3:4, 21:9, 9:21"),
        ({"resolution": "4k"}, "resolution", "makes 540p, 720p or 1080p videos"),
        ({"audio": True}, "audio", "makes silent videos"),
        ({"seed": 5}, "seed", "takes no seed"),
        ({"negative_prompt": "blur"}, "negative_prompt", "takes nothing to avoid"),
        ({"prompt": "   "}, "prompt", "Describe the video you want."),
        ({"prompt": "x" * 1001}, "prompt", "Keep the prompt to 1000 characters"),
        ({"prompt": "x" * 990, "styles": ["cinematic"]}, "prompt", "With the chosen styles"),
        ({"styles": ["vaporwave"]}, "styles", "Unknown style vaporwave"),
        ({"mode": "all"}, "mode", "Choose single or batch"),
        ({"model_key": "sora-9"}, "model", "Choose one of the models"),
        ({"styles": ["none", "anime", "noir", "cinematic"], "aspect_ratios": ["16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]},
         NON_FIELD, "at most 20 videos"),
    ],
)
def test_start_generation_refuses_what_the_rules_forbid_and_makes_nothing(user, request_, field, message):
    arguments = {"model_key": "luma-ray-2", "prompt": "a fox", "duration": 5, **request_}
    with pytest.raises(RequestRefused) as refused:
        start_generation(user=user, **arguments)
    assert message in " ".join(refused.value.errors[field])
    assert Job.objects.count() == 0 and queued_tasks() == []


def test_every_broken_rule_is_named_at_once():
    with pytest.raises(RequestRefused) as refused:
        check_request(model_key="luma-ray-2", prompt="", duration=7, seed=1, audio=True)
    assert set(refused.value.errors) == {"prompt", "duration", "seed", "audio"}


def test_images_required_forbidden_and_the_last_frame(user):
    with pytest.raises(RequestRefused) as refused:
        start_generation(user=user, model_key="kling-2.1-i2v", prompt="a fox", duration=5)
    assert "needs an input image" in refused.value.errors["image"][0]
    with pytest.raises(RequestRefused) as refused:
        start_generation(user=user, model_key="luma-ray-2", prompt="a fox", duration=5, image=png())
    assert "text only" in refused.value.errors["image"][0]
    with pytest.raises(RequestRefused) as refused:
        start_generation(user=user, model_key="kling-2.1-i2v", prompt="a fox", duration=5, image=png(), end_image=png())
    assert "no last-frame image" in refused.value.errors["end_image"][0]
    assert Job.objects.count() == 0


def test_defaults_are_the_model_own():
    checked = check_request(model_key="veo-3.1", prompt="  a   calm sea ")
    assert (checked.prompt, checked.duration, checked.resolution, checked.audio) == ("a calm sea", 8, "720p", True)
    assert check_request(model_key="luma-ray-2", prompt="p").audio is None  # no sound switch at all


def test_a_model_with_a_seed_always_gets_one_and_the_task_records_it(user):
    job = start_generation(user=user, model_key="veo-3.1", prompt="a calm sea", duration=4, audio=False)
    task = job.tasks.get()
    assert job.params["seed"] is None  # the user gave none ...
    assert task.seed is not None and task.arguments["seed"] == task.seed  # ... and the one sent is on record
    given = start_generation(user=user, model_key="veo-3.1", prompt="a calm sea", duration=4, seed=42).tasks.get()
    assert given.arguments["seed"] == 42
