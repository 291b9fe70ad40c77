"""The catalog against fal's published schemas: every request the product can build,
for every model and every choice the form and the API offer, validates."""

import dataclasses
import itertools
import json
import re
from collections import Counter

import pytest
from django.core.management import call_command
from django.urls import reverse

import falschemas
from generation.catalog import (
    DEFAULT_MODEL_KEY, END_IMAGE_PLACEHOLDER, IMAGE_PLACEHOLDER, IMAGE_TO_VIDEO, MODELS, TEXT_TO_VIDEO, describe,
    get_model,
)
from generation.planning import MAX_VIDEOS_PER_JOB, SEED_LIMIT, JobMode
from generation.rules import RequestRefused, check_request
from generation.styles import STYLES


def test_the_catalog_spans_families_and_kinds():
    assert len(MODELS) >= 12
    families = Counter(spec.family for spec in MODELS)
    assert len(families) >= 6, families
    assert {"kling", "veo", "seedance", "minimax-hailuo", "luma", "ltx"} <= set(families)
    assert sum(spec.kind == IMAGE_TO_VIDEO for spec in MODELS) >= 5
    assert sum(spec.kind == TEXT_TO_VIDEO for spec in MODELS) >= 5
    assert len({spec.key for spec in MODELS}) == len(MODELS)


@pytest.mark.parametrize("spec", MODELS, ids=lambda spec: spec.key)
def test_every_model_is_on_a_real_endpoint_and_agrees_with_its_schema(spec):
    assert falschemas.known(spec.endpoint), spec.endpoint
    assert spec.schema_problems() == []
    # The defaults we show are among the choices we offer.
    assert spec.default_duration in spec.durations
    assert not spec.aspect_ratios or spec.default_aspect_ratio in spec.aspect_ratios
    assert not spec.resolutions or spec.default_resolution in spec.resolutions


@pytest.mark.parametrize("spec", MODELS, ids=lambda spec: spec.key)
def test_every_request_the_product_can_build_validates_against_fal_schema(spec):
    requests = list(spec.every_request())
    expected = (
        len(spec.durations) * max(len(spec.aspect_ratios), 1) * max(len(spec.resolutions), 1)
        * (2 if spec.audio else 1) * (2 if spec.negative_prompt else 1) * (2 if spec.seed else 1)
        * (2 if spec.takes_end_image else 1)
    )
    # LTX 2.3 Fast: 12 to 20 s at 1440p or 2160p (both ratios, sound on or off) fal refuses.
    never_sent = (spec.key == "ltx-2.3-fast-t2v") * 5 * 2 * 2 * 2
    assert len(requests) == expected - never_sent
    if spec.seed:  # the product always sends a seed (its own pick when none is given)
        assert {arguments["seed"] for arguments in requests} == {0, 2**31 - 1}
    for arguments in requests:
        assert falschemas.validate(spec.endpoint, arguments) == [], arguments
        assert (spec.image_field in arguments) == spec.takes_image


def test_the_schema_test_catches_a_choice_fal_refuses():
    # Ray 2 refuses 1:1 (fal answers 422): an entry offering it fails the check.
    ray = get_model("luma-ray-2")
    assert "1:1" not in ray.aspect_ratios
    wrong = dataclasses.replace(ray, aspect_ratios=(*ray.aspect_ratios, "1:1"))
    refused = [falschemas.validate(wrong.endpoint, arguments) for arguments in wrong.every_request()]
    assert any(errors and errors[0]["loc"] == ["body", "aspect_ratio"] for errors in refused)
    # So does a duration the endpoint does not have, and a field it does not take.
    with pytest.raises(ValueError):
        dataclasses.replace(ray, durations=(5, 7)).duration_value(7)
    assert dataclasses.replace(ray, seed=True).schema_problems() == [
        "luma-ray-2: fal-ai/luma-dream-machine/ray-2 takes no seed"
    ]


def test_the_default_model_exists_on_fal_and_old_keys_still_resolve():
    assert falschemas.known(get_model(DEFAULT_MODEL_KEY).endpoint)
    # Keys of jobs made with the first catalog keep their meaning; the one whose endpoint
    # never existed on fal now names Kling 2.1's real text-to-video tier.
    assert get_model("kling-2.1-t2v").endpoint == "fal-ai/kling-video/v2.1/master/text-to-video"
    for key in ("kling-2.1-i2v", "luma-ray-2", "veo-3.1"):
        assert falschemas.known(get_model(key).endpoint)
    assert not any(spec.endpoint == "fal-ai/kling-video/v2.1/standard/text-to-video" for spec in MODELS)


def test_each_model_spells_its_own_fields():
    kling = get_model("kling-2.6-i2v")
    assert kling.image_arguments(image_url="u1", end_image_url="u2") == {"start_image_url": "u1", "end_image_url": "u2"}
    assert get_model("kling-2.1-i2v").image_arguments(image_url="u1", end_image_url="u2") == {"image_url": "u1"}
    assert get_model("veo-3.1").build_arguments(prompt="p", duration=6, seed=3)["duration"] == "6s"
    assert get_model("ltx-2.3-fast-t2v").build_arguments(prompt="p", duration=8)["duration"] == 8
    assert get_model("kling-3-t2v").build_arguments(prompt="p", duration=8)["duration"] == "8"
    # Defaults come from fal's schema: Veo 3.1 makes 8 s at 720p with sound unless told.
    veo = get_model("veo-3.1")
    assert (veo.default_duration, veo.default_resolution, veo.default_audio) == (8, "720p", True)
    # Seedance 2.0's own default duration is "auto", which we do not offer.
    assert get_model("seedance-2-fast-t2v").default_duration == 5


def test_room_for_routing_later():
    spec = get_model("veo-3.1")
    assert (spec.provider, spec.fallback, spec.group) == ("fal", "kling-3-t2v", "veo")
    assert dataclasses.replace(spec, concurrency_group="google").group == "google"


@pytest.mark.parametrize("spec", [spec for spec in MODELS if spec.fallback], ids=lambda spec: spec.key)
def test_a_fallback_is_another_offered_model_of_the_same_kind_in_another_group(spec):
    fallback = get_model(spec.fallback)
    assert fallback.kind == spec.kind
    # Another group: its breaker is not the one that made the task fall back.
    assert fallback.group != spec.group
    # An image-to-video model falls back to one that takes a last frame if it does.
    assert fallback.takes_end_image or not spec.takes_end_image
    assert describe(spec)["fallback"] == fallback.key


def test_manage_catalog_json_lists_every_model_with_every_request(capsys):
    call_command("catalog", "--json")
    listing = json.loads(capsys.readouterr().out)
    assert [entry["key"] for entry in listing] == [spec.key for spec in MODELS]
    for entry in listing:
        spec = get_model(entry["key"])
        assert {"key", "label", "endpoint", "kind", "options", "price", "requests"} <= set(entry)
        assert entry["kind"] in (TEXT_TO_VIDEO, IMAGE_TO_VIDEO) and entry["endpoint"] == spec.endpoint
        assert entry["options"]["durations"] == list(spec.durations)
        assert entry["requests"] == list(spec.every_request())
        for arguments in entry["requests"]:
            if spec.takes_image:
                assert arguments[spec.image_field] == IMAGE_PLACEHOLDER
            assert falschemas.validate(entry["endpoint"], arguments) == []
    ray = next(entry for entry in listing if entry["key"] == "luma-ray-2")
    assert "1:1" not in ray["options"]["aspect_ratios"] and ray["price"]["published"] is False


def test_manage_catalog_prints_a_table_for_people(capsys):
    call_command("catalog")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["key", "kind", "endpoint"]
    assert len(lines) == len(MODELS) + 1
    assert any(line.startswith("luma-ray-2 ") and "[estimate]" in line for line in lines)


def test_describe_is_what_the_api_lists():
    entry = describe(get_model("kling-2.6-i2v"))
    assert entry["options"]["image_field"] == "start_image_url" and entry["options"]["end_image"] is True
    assert entry["price"]["text"].startswith("$0.07/s")


# --- every choice the page and the API offer, through the product's own path --------


def _offered_on_the_page(client, spec) -> dict:
    """What the Generate page offers once this model is chosen, read from the HTML the
    page swaps in (the options part, with its aspect ratios out of band)."""
    html = client.get(reverse("generation:plan"), {"part": "options", "model": spec.key}).content.decode()

    def select(name):
        match = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
        return re.findall(r'<option value="([^"]*)"', match.group(1)) if match else []

    return {
        "durations": [int(value) for value in select("duration")],
        "resolutions": [value for value in select("resolution") if value],
        "audio": [value for value in select("audio") if value],
        "aspect_ratios": re.findall(r'name="aspect_ratios" value="([^"]*)"', html),
        "seed": 'name="seed"' in html,
        "negative_prompt": 'name="negative_prompt"' in html,
        "image": 'id="image-field" hidden' not in html,
        "end_image": 'id="end-image-field" hidden' not in html,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("spec", MODELS, ids=lambda spec: spec.key)
def test_every_choice_the_page_and_the_api_offer_builds_a_request_fal_accepts(signed_in, spec):
    page = _offered_on_the_page(signed_in, spec)
    api = next(entry for entry in signed_in.get("/api/models/").json() if entry["key"] == spec.key)["options"]
    # The page and the API offer the same choices.
    assert page["durations"] == api["durations"]
    assert page["resolutions"] == api["resolutions"]
    assert page["aspect_ratios"] == api["aspect_ratios"]
    assert bool(page["audio"]) == api["audio"] and page["seed"] == api["seed"]
    assert page["negative_prompt"] == api["negative_prompt"]
    assert page["image"] == (api["image"] == "required") and page["end_image"] == api["end_image"]

    sent = refused = 0
    for duration, resolution, audio, negative, seed, with_end in itertools.product(
        page["durations"],
        page["resolutions"] or [""],
        [value == "on" for value in page["audio"]] or [None],
        ["", "blur, text, watermark"] if page["negative_prompt"] else [""],
        [0, SEED_LIMIT - 1] if page["seed"] else [None],
        [False, True] if page["end_image"] else [False],
    ):
        try:
            checked = check_request(
                model_key=spec.key, prompt="a red fox running through fresh snow", duration=duration,
                styles=[style.key for style in STYLES], aspect_ratios=page["aspect_ratios"], mode=JobMode.BATCH,
                count=MAX_VIDEOS_PER_JOB,
                seed=seed, negative_prompt=negative, resolution=resolution, audio=audio,
                image=page["image"], end_image=with_end,
            )
        except RequestRefused as refusal:
            # Only a combination fal itself refuses, said on the duration field.
            assert list(refusal.errors) == ["duration"], refusal.errors
            arguments = spec.build_arguments(prompt="p", duration=duration, resolution=resolution, audio=audio)
            assert falschemas.validate(spec.endpoint, arguments) != []
            refused += 1
            continue
        for variant in checked.plan.variants:
            arguments = checked.arguments_for(variant)
            arguments.update(spec.image_arguments(
                image_url=IMAGE_PLACEHOLDER if page["image"] else None,
                end_image_url=END_IMAGE_PLACEHOLDER if with_end else None,
            ))
            assert falschemas.validate(spec.endpoint, arguments) == [], arguments
            sent += 1
    assert sent >= MAX_VIDEOS_PER_JOB * len(page["durations"])
    assert refused == (spec.key == "ltx-2.3-fast-t2v") * 5 * 2 * 2  # 12..20 s at 1440p and 2160p, sound on or off


def test_fal_makes_long_ltx_fast_videos_only_at_1080p_and_we_never_ask_otherwise():
    ltx = get_model("ltx-2.3-fast-t2v")
    refused = falschemas.validate(ltx.endpoint, {"prompt": "p", "duration": 12, "resolution": "1440p"})
    assert [(entry["loc"], entry["type"]) for entry in refused] == [(["body", "resolution"], "value_error")]
    assert falschemas.validate(ltx.endpoint, {"prompt": "p", "duration": 12, "resolution": "1080p"}) == []
    assert falschemas.validate(ltx.endpoint, {"prompt": "p", "duration": 10, "resolution": "2160p"}) == []
    with pytest.raises(RequestRefused) as caught:
        check_request(model_key=ltx.key, prompt="a fox", duration=12, resolution="2160p")
    assert caught.value.errors == {"duration": ["LTX 2.3 Fast · text to video makes videos over 10 seconds only at resolution 1080p."]}
    assert check_request(model_key=ltx.key, prompt="a fox", duration=20, resolution="1080p").duration == 20
    assert not any(args["duration"] > 10 and args["resolution"] != "1080p" for args in ltx.every_request())
    assert describe(ltx)["options"]["only_over_seconds"] == [{"seconds": 10, "only": {"resolution": ["1080p"], "fps": [25]}}]
