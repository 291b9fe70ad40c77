"""The sandbox behaves like fal: it knows fal's endpoints and their published schemas,
refuses what fal refuses where fal refuses it, and answers in fal's shapes."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fal_client.client import Completed, FalClientHTTPError

from devtools.sandbox import SandboxProcess

from .support import TEXT_TO_VIDEO, SandboxFalClient, WebhookReceiver, verify_webhook, wait_completed, wait_until

pytestmark = pytest.mark.usefixtures("no_retries")
KEY = {"Authorization": "Key test"}


def _prompt(text: str, *faults: str) -> str:
    return " ".join([text, str(time.time_ns()), *(f"#fault:{name}" for name in faults)])


def test_an_endpoint_fal_does_not_have_is_refused_at_submit(sandbox: SandboxProcess) -> None:
    before = sandbox.stats()["submissions"]
    # The id an earlier catalog used: fal never had it.
    response = httpx.post(f"{sandbox.url}/fal-ai/kling-video/v2.1/standard/text-to-video", json={"prompt": "x"}, headers=KEY)
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)
    assert sandbox.stats()["submissions"] == before


def test_an_invalid_value_is_accepted_then_fails_as_fals_models_do(
    fal: SandboxFalClient, sandbox: SandboxProcess, receiver: WebhookReceiver
) -> None:
    # Kling v3 turbo takes 3..15 seconds and three ratios: 2 seconds and 4:3 are refused.
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("bad values"), "duration": "2", "aspect_ratio": "4:3"},
                        webhook_url=receiver.url)
    assert handle.request_id  # accepted at submit, like fal's queue
    completed = wait_completed(fal, handle.request_id)
    assert isinstance(completed, Completed) and completed.error

    result = httpx.get(handle.response_url, headers=KEY)
    assert result.status_code == 422
    detail = result.json()["detail"]
    assert {tuple(entry["loc"]) for entry in detail} == {("body", "duration"), ("body", "aspect_ratio")}
    assert all({"loc", "msg", "type"} <= set(entry) for entry in detail)
    assert {entry["type"] for entry in detail} == {"literal_error"}

    (delivery,) = receiver.wait_for(1)
    body = json.loads(delivery.body)
    assert (body["status"], body["error"]) == ("ERROR", "Invalid status code: 422")
    assert body["payload"]["detail"] == detail
    assert body["request_id"] == body["gateway_request_id"] == handle.request_id
    assert verify_webhook(sandbox.jwks(), delivery.headers, delivery.body)


def test_a_missing_required_field_fails_at_run_time_too(fal: SandboxFalClient) -> None:
    app = "fal-ai/kling-video/v3/turbo/standard/image-to-video"
    handle = fal.submit(app, {"prompt": _prompt("no image")})
    wait_completed(fal, handle.request_id, app)
    result = httpx.get(handle.response_url, headers=KEY)
    assert result.status_code == 422
    assert result.json()["detail"][0]["loc"] == ["body", "image_url"]
    assert result.json()["detail"][0]["type"] == "missing"


def test_status_is_202_until_done_then_200(fal: SandboxFalClient) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("codes"), "duration": "3"})
    codes = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response = httpx.get(handle.status_url, headers=KEY)
        codes.append((response.status_code, response.json()["status"]))
        if response.json()["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert codes[-1] == (200, "COMPLETED")
    # Polled from the moment of submit, so at least the first answers came before the end.
    assert {code for code, status in codes if status != "COMPLETED"} == {202}
    body = httpx.get(handle.status_url, headers=KEY).json()
    assert {"request_id", "response_url", "status_url", "cancel_url", "logs", "queue_position"} <= set(body)


def test_validation_422_fails_a_valid_request_that_way(fal: SandboxFalClient, sandbox: SandboxProcess,
                                                        receiver: WebhookReceiver) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("refused", "validation_422"), "duration": "3"},
                        webhook_url=receiver.url)
    wait_completed(fal, handle.request_id)
    result = httpx.get(handle.response_url, headers=KEY)
    assert result.status_code == 422
    (entry,) = result.json()["detail"]
    assert entry["type"] == "content_policy_violation" and entry["loc"] == ["body", "prompt"]
    (delivery,) = receiver.wait_for(1)
    body = json.loads(delivery.body)
    assert (body["status"], body["error"], body["payload"]) == ("ERROR", "Invalid status code: 422", result.json())
    assert [event["fault"] for event in sandbox.request(handle.request_id)["fault_events"]] == ["validation_422"]


def test_gateway_retry_names_another_attempt_in_the_webhook(fal: SandboxFalClient, sandbox: SandboxProcess,
                                                            receiver: WebhookReceiver) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("retried inside", "gateway_retry"), "duration": "3"},
                        webhook_url=receiver.url)
    (delivery,) = receiver.wait_for(1)
    body = json.loads(delivery.body)
    assert body["request_id"] == handle.request_id
    assert body["gateway_request_id"] != handle.request_id
    assert delivery.headers["x-fal-webhook-request-id"] == body["gateway_request_id"]
    assert verify_webhook(sandbox.jwks(), delivery.headers, delivery.body)
    # Status and result still go by the queue's request id.
    assert wait_completed(fal, handle.request_id).error is None


def test_account_locked_refuses_the_submit_with_fals_403(fal: SandboxFalClient, sandbox: SandboxProcess) -> None:
    before = sandbox.stats()["submissions"]
    with pytest.raises(FalClientHTTPError) as error:
        fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("broke", "account_locked")})
    assert error.value.status_code == 403
    assert error.value.message.startswith("User is locked. Reason: Exhausted balance")
    assert error.value.response.json() == {"detail": error.value.message}
    assert sandbox.stats()["submissions"] == before


def test_a_request_error_is_flat_with_its_type_in_a_header(fal: SandboxFalClient) -> None:
    response = httpx.post(f"{fal.sandbox_url}/{TEXT_TO_VIDEO}", json={"prompt": _prompt("busy", "submit_429")}, headers=KEY)
    assert response.status_code == 429
    assert response.json()["error_type"] == response.headers["x-fal-error-type"] == "rate_limited"
    assert isinstance(response.json()["detail"], str)
