"""falschemas: fal's published schemas as data, and fal's 422 answers for refused input."""

import json
from pathlib import Path

import pytest

import falschemas

KLING_T2V = "fal-ai/kling-video/v2.1/master/text-to-video"
KLING_I2V = "fal-ai/kling-video/v2.6/pro/image-to-video"
LUMA = "fal-ai/luma-dream-machine/ray-2"
WAN27 = "fal-ai/wan/v2.7/text-to-video"
PIXVERSE6 = "fal-ai/pixverse/v6/text-to-video"


def test_the_data_names_its_source_and_date():
    source = falschemas.source()
    assert source["repo"] == "fal-ai/fal-js"
    assert source["path"].endswith("endpoints.ts")
    assert len(source["commit"]) == 40
    assert source["date"].startswith("20")


def test_known_endpoints_and_the_ones_fal_never_had():
    assert falschemas.known(KLING_T2V)
    assert falschemas.known("bytedance/seedance-2.0/text-to-video")
    # The old default model's id and a prefixed Seedance 2.0 id do not exist on fal.
    assert not falschemas.known("fal-ai/kling-video/v2.1/standard/text-to-video")
    assert not falschemas.known("fal-ai/bytedance/seedance-2.0/text-to-video")
    # Gone from fal's newest list: not known.
    assert not falschemas.known("fal-ai/sora-2/text-to-video")
    with pytest.raises(KeyError):
        falschemas.schema("fal-ai/kling-video/v2.1/standard/text-to-video")
    with pytest.raises(KeyError):
        falschemas.validate("fal-ai/no-such-model", {"prompt": "x"})


def test_every_current_endpoint_of_the_data_file_loads_with_typed_fields():
    raw = json.loads(Path(falschemas.__file__).with_name("endpoints.json").read_text())
    endpoints = falschemas.all_endpoints()
    assert set(endpoints) == set(raw["endpoints"])
    assert len(endpoints) >= 70
    for endpoint in endpoints.values():
        assert endpoint.family
        assert "prompt" in endpoint.fields or endpoint.id == "fal-ai/stable-video"
        for field in endpoint.fields.values():
            assert field.type in falschemas.FIELD_TYPES
            if field.enum is not None and field.default is not None:
                assert field.default in field.enum, (endpoint.id, field.name)


def test_schema_fields_carry_enum_default_and_range():
    luma = falschemas.schema(LUMA)
    assert luma.family == "luma"
    assert luma.fields["aspect_ratio"].enum == ("16:9", "9:16", "4:3", "3:4", "21:9", "9:21")
    assert "1:1" not in luma.fields["aspect_ratio"].enum
    assert luma.fields["duration"].default == "5s"
    assert luma.fields["prompt"].required
    wan = falschemas.schema(WAN27).fields["duration"]
    assert (wan.type, wan.min, wan.max) == ("integer", 2, 15)
    assert wan.default == 5  # fal writes "5"; read as the number the enum holds
    kling = falschemas.schema(KLING_I2V)
    assert kling.fields["start_image_url"].type == "file"
    assert kling.fields["start_image_url"].required
    assert kling.price_text.startswith("$0.07/s")
    assert "fal-js" in kling.source


def test_a_valid_request_has_no_errors():
    assert falschemas.validate(KLING_T2V, {"prompt": "a fox", "duration": "10", "aspect_ratio": "1:1"}) == []
    assert falschemas.validate(WAN27, {"prompt": "a fox", "duration": 15, "seed": 0}) == []


def test_extra_fields_are_ignored_as_fal_ignores_them():
    assert falschemas.validate(KLING_T2V, {"prompt": "a fox", "motion": "fast", "x": [1]}) == []


def test_null_for_an_optional_field_means_the_default():
    assert falschemas.validate(KLING_T2V, {"prompt": "a fox", "negative_prompt": None}) == []


def test_missing_required_field():
    errors = falschemas.validate(KLING_I2V, {"prompt": "a fox"})
    assert errors == [
        {"loc": ["body", "start_image_url"], "msg": "Field required", "type": "missing",
         "input": {"prompt": "a fox"}}
    ]


def test_value_outside_the_enum_is_a_literal_error_naming_the_choices():
    errors = falschemas.validate(LUMA, {"prompt": "a fox", "aspect_ratio": "1:1"})
    assert len(errors) == 1
    error = errors[0]
    assert error["loc"] == ["body", "aspect_ratio"]
    assert error["type"] == "literal_error"
    assert error["msg"] == "Input should be '16:9', '9:16', '4:3', '3:4', '21:9' or '9:21'"
    assert error["ctx"] == {"expected": "'16:9', '9:16', '4:3', '3:4', '21:9' or '9:21'"}
    assert error["input"] == "1:1"


def test_enum_values_must_have_fal_type():
    # Kling durations are strings; Wan 2.7's are integers.
    assert falschemas.validate(KLING_T2V, {"prompt": "p", "duration": 5})[0]["type"] == "literal_error"
    errors = falschemas.validate(WAN27, {"prompt": "p", "duration": "5"})
    assert [e["type"] for e in errors] == ["literal_error"]
    assert errors[0]["msg"].startswith("Input should be 2, 3, 4")


def test_out_of_range_numbers():
    low = falschemas.validate(PIXVERSE6, {"prompt": "p", "duration": 0})
    assert low == [{"loc": ["body", "duration"], "msg": "Input should be greater than or equal to 1",
                    "type": "greater_than_equal", "input": 0, "ctx": {"ge": 1}}]
    high = falschemas.validate(PIXVERSE6, {"prompt": "p", "duration": 16})
    assert [(e["type"], e["ctx"]) for e in high] == [("less_than_equal", {"le": 15})]
    assert falschemas.validate(PIXVERSE6, {"prompt": "p", "duration": 15}) == []
    seed = falschemas.validate(WAN27, {"prompt": "p", "seed": 2**31})
    assert seed[0]["type"] == "less_than_equal"


def test_wrong_types():
    cases = [
        ({"prompt": 5}, "prompt", "string_type"),
        ({"prompt": "p", "generate_audio": "yes"}, "generate_audio", "bool_type"),
        ({"prompt": "p", "start_image_url": 3}, "start_image_url", "string_type"),
    ]
    for arguments, field, type_ in cases:
        arguments = {"start_image_url": "https://example.com/input.png", **arguments}
        errors = falschemas.validate(KLING_I2V, arguments)
        assert [(e["loc"], e["type"]) for e in errors] == [(["body", field], type_)], arguments
    numbers = falschemas.validate(PIXVERSE6, {"prompt": "p", "duration": True})
    assert numbers[0]["type"] == "float_type"  # a boolean is not a number
    seed = falschemas.validate(WAN27, {"prompt": "p", "seed": "12"})
    assert seed[0]["type"] == "float_type"


def test_required_field_sent_as_null_is_refused():
    errors = falschemas.validate(KLING_T2V, {"prompt": None})
    assert [(e["loc"], e["type"]) for e in errors] == [(["body", "prompt"], "string_type")]


def test_several_errors_are_all_reported():
    errors = falschemas.validate(LUMA, {"aspect_ratio": "1:1", "duration": "7s"})
    assert sorted(e["loc"][1] for e in errors) == ["aspect_ratio", "duration", "prompt"]


def test_arguments_that_are_not_an_object():
    errors = falschemas.validate(LUMA, ["prompt"])
    assert errors[0]["loc"] == ["body"] and errors[0]["type"] == "dict_type"


def test_array_items_are_typed():
    endpoint = "bytedance/seedance-2.0/reference-to-video"
    assert falschemas.validate(endpoint, {"prompt": "p", "image_urls": ["https://a/b.png"]}) == []
    errors = falschemas.validate(endpoint, {"prompt": "p", "image_urls": ["https://a/b.png", 3]})
    assert [(e["loc"], e["type"]) for e in errors] == [(["body", "image_urls", 1], "string_type")]
    assert falschemas.validate(endpoint, {"prompt": "p", "image_urls": "x"})[0]["type"] == "list_type"


def test_falschemas_does_not_import_django_or_the_apps():
    import ast
    tree = ast.parse(Path(falschemas.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "json", "dataclasses", "functools", "pathlib", "typing"}
