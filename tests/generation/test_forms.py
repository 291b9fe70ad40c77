"""The request rules (generation/forms.py), checked on the forms themselves: what a
valid request becomes for `start_generation`, and which field each refusal names.
The pages and the API show these same errors (see test_views)."""

import pytest

from generation.forms import GenerationForm, PlanForm
from generation.planning import JobMode


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
