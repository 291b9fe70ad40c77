"""Input images against a model's limits: smallest side, longest side, shape, size, format."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation.input_images import DEFAULT_IMAGE_LIMITS, KLING_V3_IMAGE_LIMITS, ImageLimits, image_problems


def picture(size, fmt="PNG", name="in.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def test_an_image_within_every_limit_has_no_problem():
    image = picture((640, 480))
    assert image_problems(limits=KLING_V3_IMAGE_LIMITS, image=image) == []
    assert image.tell() == 0  # left ready to be stored


def test_too_small_for_kling_but_fine_elsewhere():
    image = picture((280, 280))
    assert image_problems(limits=KLING_V3_IMAGE_LIMITS, image=image) == [
        "The image is 280×280 px; this model needs at least 300 px on each side."
    ]
    assert image_problems(limits=DEFAULT_IMAGE_LIMITS, image=image) == []


def test_a_shape_outside_the_aspect_range_is_refused():
    (problem,) = image_problems(limits=KLING_V3_IMAGE_LIMITS, image=picture((1500, 400)))
    assert problem == "The image's shape (3.75:1) is outside what this model takes (1:2.5 to 2.5:1)."


def test_the_long_side_and_the_format_are_checked():
    problems = image_problems(limits=KLING_V3_IMAGE_LIMITS, image=picture((4200, 2100), "WEBP", "in.webp"))
    assert problems == [
        "Use a PNG or JPEG image for this model.",
        "The image is 4200×2100 px; this model takes at most 4096 px on its long side.",
    ]


def test_the_smaller_of_the_models_and_our_size_limit_applies(settings):
    settings.INPUT_IMAGE_MAX_BYTES = 1024 * 1024
    image = picture((600, 600))
    image.size = 2 * 1024 * 1024  # what the upload says it weighs
    assert image_problems(limits=ImageLimits(max_bytes=50 * 1024 * 1024), image=image) == ["The image is larger than 1 MB."]
    assert image_problems(limits=ImageLimits(max_bytes=512 * 1024), image=image) == ["The image is larger than 0.5 MB."]


def test_not_an_image():
    junk = SimpleUploadedFile("in.png", b"not an image at all", content_type="image/png")
    assert image_problems(limits=DEFAULT_IMAGE_LIMITS, image=junk) == ["That file is not an image we can read."]


@pytest.mark.parametrize("size", [(300, 750), (750, 300)])
def test_the_aspect_range_is_inclusive(size):
    assert image_problems(limits=KLING_V3_IMAGE_LIMITS, image=picture(size)) == []


# --- enforced by start_generation, before anything is spent ---------------------------


@pytest.mark.django_db
def test_start_generation_refuses_an_image_outside_the_models_limits_before_spending():
    from credits.selectors import credit_summary
    from generation.models import Job
    from generation.rules import RequestRefused
    from generation.services import start_generation
    from tests.factories import fund, make_user

    user = make_user()
    fund(user, 50)
    with pytest.raises(RequestRefused) as refused:
        start_generation(user=user, model_key="ltx-2.3-i2v", prompt="a fox", image=picture((1500, 400)))
    assert refused.value.errors == {
        "image": ["The image's shape (3.75:1) is outside what this model takes (1:2.5 to 2.5:1)."]
    }
    summary = credit_summary(user)
    assert (Job.objects.count(), summary.balance, summary.reserved) == (0, 50, 0)
    job = start_generation(user=user, model_key="ltx-2.3-i2v", prompt="a fox", image=picture((1000, 400)))
    assert job.input_image


def test_each_model_carries_its_limits():
    from generation.catalog import get_model

    assert get_model("seedance-2-fast-i2v").image_limits.max_bytes == 30 * 1024 * 1024
    assert get_model("veo-3.1-fast-i2v").image_limits.min_side == 720
    assert get_model("ltx-2.3-i2v").image_limits == DEFAULT_IMAGE_LIMITS


@pytest.mark.django_db
def test_the_generate_page_shows_the_models_image_limit(client):
    from django.urls import reverse

    from tests.factories import fund, make_user

    user = make_user()
    fund(user, 50)
    client.force_login(user)
    response = client.post(reverse("generation:generate"), {
        "prompt": "a fox", "model": "kling-2.1-i2v", "duration": "5", "image": picture((1500, 400)),
    })
    assert response.status_code == 200
    assert "outside what this model takes (1:2.5 to 2.5:1)" in response.content.decode()


@pytest.mark.django_db
def test_veo_wants_an_image_of_720p_or_more():
    from generation.rules import RequestRefused
    from generation.services import start_generation
    from tests.factories import fund, make_user

    user = make_user()
    fund(user, 50)
    with pytest.raises(RequestRefused) as refused:
        start_generation(user=user, model_key="veo-3.1-fast-i2v", prompt="a fox", image=picture((640, 480)))
    assert refused.value.errors == {"image": ["The image is 640×480 px; this model needs at least 720 px on each side."]}
    assert start_generation(user=user, model_key="veo-3.1-fast-i2v", prompt="a fox", image=picture((720, 1280))).input_image
