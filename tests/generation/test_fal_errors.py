"""Reading fal's error bodies, as fal's documentation shows them, into a kind and a
reason a person can read."""

import pytest

from generation.fal_errors import model_failure_message, read_answer, read_webhook_error, reason_from_detail
from generation.models import ErrorKind

# fal's errors page: a model (input) error, HTTP 422.
ASPECT_RATIO_422 = {
    "detail": [
        {
            "loc": ["body", "aspect_ratio"],
            "msg": "Input should be '16:9' or '9:16'",
            "type": "literal_error",
            "url": "https://docs.fal.ai/errors/#literal_error",
            "ctx": {"expected": "'16:9' or '9:16'"},
            "input": "1:1",
        }
    ]
}


def test_a_literal_error_reads_field_by_field():
    failure = read_answer(status_code=422, body=ASPECT_RATIO_422)
    assert failure.kind == ErrorKind.VALIDATION
    assert failure.reason == "Aspect ratio: must be one of 16:9, 9:16"
    assert model_failure_message(failure) == "The model refused these settings. Aspect ratio: must be one of 16:9, 9:16."


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}, "Prompt: is required"),
        ({"loc": ["body", "image_url"], "msg": "Field required", "type": "missing"}, "Image: is required"),
        ({"loc": ["body", "duration"], "msg": "x", "type": "one_of", "ctx": {"expected": ["5", "10"]}}, "Duration: must be one of 5, 10"),
        ({"loc": ["body", "cfg_scale"], "msg": "x", "type": "less_than_equal", "ctx": {"le": 1}}, "Cfg scale: must be at most 1"),
        ({"loc": ["body", "seed"], "msg": "x", "type": "greater_than_equal", "ctx": {"ge": 0}}, "Seed: must be at least 0"),
        (
            {"loc": ["body", "image_url"], "msg": "Image too small", "type": "image_too_small", "ctx": {"min_width": 300, "min_height": 300}},
            "Image: the image is too small (at least 300×300 pixels)",
        ),
        (
            {"loc": ["body", "image_url"], "msg": "File too large", "type": "file_too_large", "ctx": {"max_size": 10485760}},
            "Image: the file is too large (at most 10 MB)",
        ),
        ({"loc": ["body", "prompt"], "msg": "flagged", "type": "content_policy_violation"}, "Prompt: was refused by the model's content checker"),
        ({"loc": ["body"], "msg": "Something odd about the request", "type": "feature_not_supported"}, "Something odd about the request"),
    ],
)
def test_each_documented_type_has_a_readable_reason(entry, reason):
    assert reason_from_detail([entry]) == reason


def test_several_fields_are_all_named():
    detail = [
        {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"},
        {"loc": ["body", "aspect_ratio"], "msg": "x", "type": "literal_error", "ctx": {"expected": "'16:9' or '9:16'"}},
    ]
    assert reason_from_detail(detail) == "Prompt: is required; Aspect ratio: must be one of 16:9, 9:16"


@pytest.mark.parametrize(
    ("body", "header", "kind"),
    [
        ({"detail": "Request timed out", "error_type": "request_timeout"}, None, ErrorKind.TIMEOUT),
        ({"detail": "Request timed out"}, "startup_timeout", ErrorKind.TIMEOUT),
        ({"detail": "No runner"}, "runner_scheduling_failure", ErrorKind.PROVIDER),
        ({"detail": [{"loc": ["body"], "msg": "boom", "type": "internal_server_error"}]}, None, ErrorKind.PROVIDER),
        ({"detail": [{"loc": ["body"], "msg": "slow", "type": "generation_timeout"}]}, None, ErrorKind.TIMEOUT),
    ],
)
def test_fals_error_type_chooses_the_kind_over_the_status_code(body, header, kind):
    # 422 alone would say validation; fal's own category wins.
    assert read_answer(status_code=422, body=body, header_error_type=header).kind == kind


def test_the_documented_validation_webhook_is_read_from_its_payload():
    failure = read_webhook_error(
        error="Invalid status code: 422",
        payload={"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"}]},
    )
    assert (failure.kind, failure.reason) == (ErrorKind.VALIDATION, "Prompt: is required")
    assert "Invalid status code" not in model_failure_message(failure)


def test_a_webhook_with_only_a_status_code_never_shows_it():
    # As fal sent it for a request whose path the app did not have (payload not JSON).
    failure = read_webhook_error(
        error="Invalid status code: 404", payload=None,
        payload_error="Response payload is not JSON serializable. Either return a JSON serializable object or use the queue endpoint to retrieve the response.",
    )
    assert failure.kind == ErrorKind.VALIDATION
    assert model_failure_message(failure) == "The model refused these settings. The video service does not know this model."


def test_a_plain_error_message_is_the_reason():
    failure = read_webhook_error(error="Prompt flagged by the safety checker", payload={"detail": []})
    assert (failure.kind, model_failure_message(failure)) == (
        ErrorKind.PROVIDER, "The model could not make this video: Prompt flagged by the safety checker.",
    )


def test_a_type_fal_does_not_document_falls_back_to_the_status_code():
    detail = {"detail": [{"loc": ["body"], "msg": "The model crashed", "type": "some_new_type"}]}
    assert read_answer(status_code=500, body=detail).kind == ErrorKind.PROVIDER
    assert read_answer(status_code=422, body=detail).kind == ErrorKind.VALIDATION
    assert read_webhook_error(error="The model crashed", payload=detail).kind == ErrorKind.PROVIDER
