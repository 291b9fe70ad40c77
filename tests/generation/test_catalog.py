"""The catalog against fal's published schemas: every request the product can build,
for every model and every choice the form and the API offer, validates."""

import dataclasses
import json
from collections import Counter

import pytest
from django.core.management import call_command

import falschemas
from generation.catalog import (
    DEFAULT_MODEL_KEY, IMAGE_PLACEHOLDER, IMAGE_TO_VIDEO, MODELS, TEXT_TO_VIDEO, describe, get_model,
)


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
        * (2 if spec.audio else 1) * (2 if spec.negative_prompt else 1) * (3 if spec.seed else 1)
        * (2 if spec.takes_end_image else 1)
    )
    assert len(requests) == expected
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
