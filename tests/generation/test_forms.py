"""The request rules (generation/forms.py), checked on the forms themselves: what a
valid request becomes for `start_generation`, and which field each refusal names.
The pages and the API show these same errors (see test_views)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from generation.catalog import MODELS, get_model
from generation.forms import GenerationForm, PlanForm
from generation.models import Job
from generation.planning import JobMode
from generation.submission import _provider_arguments
from history.models import HistoryItem
from tests.factories import fund, make_user

pytestmark = pytest.mark.django_db


def generation_form(**fields) -> GenerationForm:
    data = {"prompt": "a red fox running through snow", "model": "kling-2.1-t2v", "duration": "5", "aspect_ratios": ["16:9"]}
    data.update(fields)
    return GenerationForm(data)


def test_a_valid_request_becomes_the_services_arguments():
    form = generation_form(
        model="veo-3.1", duration="6", styles=["anime", "noir"], mode="batch", count="3", seed="42", negative_prompt="blur"
    )
    assert form.is_valid(), form.errors
    arguments = form.generation_kwargs()
    assert {key: arguments[key] for key in ("model_key", "prompt", "duration", "styles", "aspect_ratios", "mode", "count")} == {
        "model_key": "veo-3.1",
        "prompt": "a red fox running through snow",
        "duration": 6,
        "styles": ["anime", "noir"],
        "aspect_ratios": ["16:9"],
        "mode": JobMode.BATCH,
        "count": 3,
    }
    assert (arguments["seed"], arguments["negative_prompt"], arguments["image"]) == (42, "blur", None)
    assert len(form.plan.variants) == 3


def test_single_mode_is_the_default_and_makes_one_video_per_combination():
    form = generation_form(styles=["anime", "noir"], aspect_ratios=["16:9", "9:16"])
    assert form.is_valid(), form.errors
    assert (form.cleaned_data["mode"], len(form.plan.variants)) == (JobMode.SINGLE, 4)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"prompt": "   "}, "prompt", "Describe the video you want."),
        ({"duration": "16"}, "duration", "makes videos of 5 or 10 seconds"),
        ({"model": "veo-3.1", "duration": "6", "aspect_ratios": ["1:1"]}, "aspect_ratios", "supports 16:9, 9:16"),
        ({"model": "kling-2.1-i2v", "aspect_ratios": []}, "image", "needs an input image"),
        ({"mode": "batch", "count": ""}, "count", "Choose how many videos"),
        ({"model": "veo-3.1", "duration": "6", "seed": "-1"}, "seed", "from 0 to 2147483647"),
        ({"seed": "42"}, "seed", "takes no seed"),
    ],
)
def test_each_refusal_names_its_field(fields, field, message):
    form = generation_form(**fields)
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_the_plan_form_alone_checks_what_decides_the_count():
    assert PlanForm({"model": "kling-2.1-t2v", "styles": ["anime"], "mode": "batch", "count": "5"}).is_valid()
    too_many = PlanForm(
        {"model": "kling-2.1-t2v", "styles": ["none", "anime", "noir", "cinematic", "watercolour", "claymation", "documentary",
                                               "retro-neon"], "aspect_ratios": ["16:9", "9:16", "1:1"]}
    )
    assert not too_many.is_valid()
    assert "a job makes at most 20 videos" in " ".join(too_many.errors["__all__"])

# The Generate page and the API follow the chosen model.


@pytest.fixture
def user_client(client):
    user = make_user()
    fund(user, 50)
    client.force_login(user)
    return client


def png(colour=(200, 80, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), colour).save(buffer, format="PNG")
    return SimpleUploadedFile("input.png", buffer.getvalue(), content_type="image/png")


def options(client, **query):
    return client.get(reverse("generation:plan"), {"part": "options", **query})


def test_choosing_a_model_answers_its_own_choices(user_client):
    html = options(user_client, model="veo-3.1").content.decode()
    assert 'id="model-fields"' in html
    assert '<option value="4"' in html and '<option value="8" selected' in html and '<option value="10"' not in html
    assert 'name="resolution"' in html and '<option value="4k"' in html
    assert 'name="audio"' in html and 'name="seed"' in html and 'name="negative_prompt"' in html
    # Out of band: its aspect ratios (no 1:1) and the count-and-cost line.
    assert 'id="ratios-field" hx-swap-oob="true"' in html and 'value="1:1"' not in html
    assert 'id="plan-summary"' in html and "2 credits" in html


def test_fields_a_model_does_not_take_are_not_offered(user_client):
    html = options(user_client, model="hailuo-2.3-t2v").content.decode()
    for name in ("resolution", "audio", "seed", "negative_prompt"):
        assert f'name="{name}"' not in html, name
    assert "makes one frame shape of its own" in html
    assert 'id="image-field" hidden' in html and 'id="end-image-field" hidden' in html


def test_what_was_typed_is_kept_or_named_never_dropped(user_client):
    html = options(user_client, model="luma-ray-2", seed="77", negative_prompt="blur", duration="9").content.decode()
    assert 'value="77"' in html and "takes no seed" in html
    assert 'value="blur"' in html and "takes nothing to avoid" in html
    assert '<option value="9" selected' in html  # Ray 2 makes 9 s: kept
    html = options(user_client, model="kling-2.1-i2v", duration="9").content.decode()
    assert '<option value="5" selected' in html  # not one of its durations: its default


def test_image_models_offer_the_image_and_where_taken_the_last_frame(user_client):
    html = options(user_client, model="kling-2.6-i2v").content.decode()
    assert 'id="image-field" hidden' not in html and 'id="end-image-field" hidden' not in html
    assert 'hx-preserve="true"' in html  # a chosen file survives the model change
    assert "keeps the shape of your input image" in html


def test_the_page_offers_the_default_model_choices(user_client):
    html = user_client.get(reverse("generation:generate")).content.decode()
    spec = MODELS[0]
    assert f'<option value="{spec.default_duration}" selected' in html
    assert html.count('name="aspect_ratios"') == len(spec.aspect_ratios)


def test_a_job_with_a_last_frame_sends_both_images_under_the_model_names(user_client, sandbox):
    response = user_client.post(reverse("generation:generate"), {
        "prompt": "a door opens", "model": "kling-2.6-i2v", "duration": "5", "audio": "off",
        "image": png(), "end_image": png((10, 10, 10)),
    })
    assert response.status_code == 302, response.context["form"].errors
    job = Job.objects.get()
    assert job.input_image and job.input_end_image
    task = job.tasks.get()
    sent = _provider_arguments(task)
    # Both uploaded to (the sandbox's imitation of) fal's storage and sent by URL.
    assert sent["start_image_url"].startswith(f"{sandbox.url}/files/")
    assert sent["end_image_url"].startswith(f"{sandbox.url}/files/") and sent["end_image_url"] != sent["start_image_url"]
    assert "image_url" not in sent and sent["generate_audio"] is False


def test_the_detail_page_shows_what_was_sent_with_the_seed(user_client):
    user_client.post(reverse("generation:generate"), {
        "prompt": "a calm sea", "model": "veo-3.1", "duration": "4", "resolution": "1080p", "audio": "on",
        "aspect_ratios": "9:16",
    })
    task = Job.objects.get().tasks.get()
    item = HistoryItem.objects.get(task=task)
    html = user_client.get(reverse("history:detail", args=[item.pk])).content.decode()
    assert "Sent to the model" in html and task.endpoint in html
    assert f"<dd>{task.seed}</dd>" in html and '<dt class="mono">seed</dt>' in html
    assert '<dt class="mono">resolution</dt><dd>1080p</dd>' in html
    assert '<dt class="mono">duration</dt><dd>4s</dd>' in html


def test_api_lists_the_models_with_their_options(client):
    user = make_user()
    client.force_login(user)
    body = client.get("/api/models/").json()
    assert [entry["key"] for entry in body] == [spec.key for spec in MODELS]
    ray = next(entry for entry in body if entry["key"] == "luma-ray-2")
    assert ray["endpoint"] == get_model("luma-ray-2").endpoint and ray["kind"] == "text-to-video"
    assert ray["options"]["aspect_ratios"] == ["16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]
    assert (ray["options"]["audio"], ray["options"]["seed"], ray["options"]["resolutions"]) == (False, False, ["540p", "720p", "1080p"])
    kling = next(entry for entry in body if entry["key"] == "kling-2.6-i2v")
    assert (kling["kind"], kling["options"]["image"], kling["options"]["end_image"]) == ("image-to-video", "required", True)


def test_api_takes_resolution_and_sound(client):
    user = make_user()
    fund(user, 10)
    client.force_login(user)
    response = client.post("/api/jobs/", {"prompt": "a calm sea", "model": "veo-3.1", "duration": 6,
                                          "resolution": "1080p", "audio": False}, content_type="application/json")
    assert response.status_code == 201, response.json()
    task = Job.objects.get().tasks.get()
    assert (task.arguments["resolution"], task.arguments["generate_audio"], task.arguments["duration"]) == ("1080p", False, "6s")
    assert response.json()["settings"]["audio"] is False
