"""The sandbox's server: the happy path and the queue protocol, driven by fal-client's
real SyncClient, and how faithfully it behaves like fal."""

from __future__ import annotations

import base64
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import httpx
import pytest
from fal_client.client import Completed, FalClientHTTPError, InProgress, Queued, Status
from PIL import Image

from devtools.sandbox import SandboxProcess, run_sandbox
from tests.support import wait_for

from .support import (
    IMAGE_TO_VIDEO,
    TEXT_TO_VIDEO,
    Delivery,
    SandboxFalClient,
    WebhookReceiver,
    start_receiver,
    verify_webhook,
    wait_completed,
)

pytestmark = pytest.mark.usefixtures("no_retries")


def _record_when(sandbox: SandboxProcess, request_id: str, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The introspection record once ``predicate`` holds (the sandbox logs an answer after the receiver saw it)."""
    return wait_for(lambda: next((r for r in [sandbox.request(request_id)] if predicate(r)), None), f"request {request_id} to change", timeout=15)


@dataclass
class Finished:
    request_id: str
    statuses: list[Status]
    result: dict[str, Any]
    webhook: Delivery


@pytest.fixture(scope="module")
def finished(sandbox_process: SandboxProcess, fal: SandboxFalClient) -> Iterator[Finished]:
    """One complete generation, shared by the assertions below to keep the module fast."""
    receiver, server = start_receiver()
    try:
        handle = fal.submit(
            TEXT_TO_VIDEO,
            {"prompt": "a red fox jumps over a lazy dog", "duration": "5", "aspect_ratio": "16:9"},
            webhook_url=receiver.url,
        )
        statuses: list[Status] = []
        for status in handle.iter_events(with_logs=True, interval=0.03):
            statuses.append(status)
        result = fal.result(TEXT_TO_VIDEO, handle.request_id)
        webhook = receiver.wait_for(1)[0]
        yield Finished(handle.request_id, statuses, result, webhook)
    finally:
        server.shutdown()
        server.server_close()


def test_status_goes_queued_in_progress_completed(finished: Finished) -> None:
    kinds = [type(status) for status in finished.statuses]
    assert kinds[0] is Queued
    assert isinstance(finished.statuses[0].position, int)
    assert kinds.index(InProgress) < kinds.index(Completed) == len(kinds) - 1
    assert [kind for kind in dict.fromkeys(kinds)] == [Queued, InProgress, Completed]
    positions = [status.position for status in finished.statuses if isinstance(status, Queued)]
    assert positions == sorted(positions, reverse=True)
    progress_logs = [
        entry["message"]
        for status in finished.statuses
        if isinstance(status, InProgress) and status.logs
        for entry in status.logs
    ]
    assert any(message.startswith("Rendering frame") and "%)" in message for message in progress_logs)
    completed = finished.statuses[-1]
    assert isinstance(completed, Completed)
    assert completed.error is None
    assert completed.metrics["inference_time"] > 0
    assert {"message", "level", "source", "timestamp"} <= set(completed.logs[0])


def test_result_is_a_real_h264_video(finished: Finished, tmp_path: Path) -> None:
    video = finished.result["video"]
    assert video["content_type"] == "video/mp4"
    assert isinstance(finished.result["seed"], int)
    response = httpx.get(video["url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content) == video["file_size"]
    path = tmp_path / "clip.mp4"
    path.write_bytes(response.content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (480, 270)
        assert stream.duration is not None and stream.time_base is not None
        assert float(stream.duration * stream.time_base) == pytest.approx(5.0, abs=0.1)
        assert sum(1 for _ in container.decode(stream)) == 120


def test_webhook_body_and_signature(finished: Finished, sandbox: SandboxProcess) -> None:
    delivery = finished.webhook
    body = json.loads(delivery.body)
    assert body["request_id"] == body["gateway_request_id"] == finished.request_id
    assert body["status"] == "OK"
    assert body["payload"] == finished.result
    assert body["error"] is None and body["payload_error"] is None
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["x-fal-webhook-request-id"] == finished.request_id
    assert delivery.headers["x-fal-webhook-user-id"]
    assert abs(int(delivery.headers["x-fal-webhook-timestamp"]) - time.time()) < 60
    assert verify_webhook(sandbox.jwks(), delivery.headers, delivery.body)


def test_tampered_webhook_does_not_verify(finished: Finished, sandbox: SandboxProcess) -> None:
    jwks = sandbox.jwks()
    delivery = finished.webhook
    tampered = delivery.body.replace(b'"OK"', b'"ERROR"')
    assert tampered != delivery.body
    assert not verify_webhook(jwks, delivery.headers, tampered)
    other_id = dict(delivery.headers, **{"x-fal-webhook-request-id": "someone-else"})
    assert not verify_webhook(jwks, other_id, delivery.body)
    stale = dict(delivery.headers, **{"x-fal-webhook-timestamp": str(int(time.time()) - 3600)})
    assert not verify_webhook(jwks, stale, delivery.body)


def test_jwks_shape(sandbox: SandboxProcess) -> None:
    response = httpx.get(sandbox.jwks_url)
    (key,) = response.json()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA" and key["use"] == "sig"
    assert "=" not in key["x"] and key["kid"]


def test_introspection_records_the_request(finished: Finished, sandbox: SandboxProcess) -> None:
    record = _record_when(sandbox, finished.request_id, lambda r: r["webhook_attempts"] == 1)
    assert record["application"] == TEXT_TO_VIDEO
    assert record["arguments"]["prompt"] == "a red fox jumps over a lazy dog"
    assert record["status"] == "COMPLETED"
    assert record["webhook_attempts"] == 1
    assert record["webhook_responses"][0]["status"] == 200
    assert record["faults"] == []
    stats = sandbox.stats()
    assert stats["submissions"] >= 1 and stats["completed"] >= 1 and stats["webhooks_sent"] >= 1


def test_submit_answer_shape_and_header(sandbox: SandboxProcess) -> None:
    response = httpx.post(
        f"{sandbox.url}/{TEXT_TO_VIDEO}",
        json={"prompt": "shape check", "duration": "3"},
        headers={"Authorization": "Key test"},
    )
    assert response.status_code == 200
    body = response.json()
    base = f"{sandbox.url}/fal-ai/kling-video/requests/{body['request_id']}"
    assert body["response_url"] == base
    assert body["status_url"] == base + "/status"
    assert body["cancel_url"] == base + "/cancel"
    assert isinstance(body["queue_position"], int)
    assert response.headers["x-fal-request-id"] == body["request_id"]
    early = httpx.get(base, headers={"Authorization": "Key test"})
    assert early.status_code == 400
    assert early.json() == {"detail": "Request is still in progress"}
    not_asked = httpx.get(base + "/status", params={"logs": "false"}, headers={"Authorization": "Key test"}).json()
    assert not_asked["logs"] is None and "queue_position" in not_asked


def test_auth_is_required(sandbox: SandboxProcess) -> None:
    response = httpx.post(f"{sandbox.url}/{TEXT_TO_VIDEO}", json={"prompt": "no key"})
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_body_that_is_not_an_object_is_422_at_submit(sandbox: SandboxProcess) -> None:
    response = httpx.post(f"{sandbox.url}/{TEXT_TO_VIDEO}", json=["not", "an", "object"],
                          headers={"Authorization": "Key test"})
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_image_to_video_with_data_uri(fal: SandboxFalClient, sandbox: SandboxProcess) -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3)).save(buffer, "PNG")
    image_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    app = IMAGE_TO_VIDEO
    handle = fal.submit(app, {"prompt": "zoom in", "image_url": image_url, "duration": "3"})
    completed = wait_completed(fal, handle.request_id, app)
    assert completed.error is None
    assert fal.result(app, handle.request_id)["video"]["file_size"] > 0
    summarized = sandbox.request(handle.request_id)["arguments"]["image_url"]
    assert summarized.startswith("data:image/png;base64,...") and len(summarized) < 100


def test_unknown_request_is_404(fal: SandboxFalClient) -> None:
    with pytest.raises(FalClientHTTPError) as status_error:
        fal.status(TEXT_TO_VIDEO, "00000000-0000-0000-0000-000000000000")
    assert status_error.value.status_code == 404
    assert status_error.value.message == "Request not found"
    with pytest.raises(FalClientHTTPError) as cancel_error:
        fal.cancel(TEXT_TO_VIDEO, "00000000-0000-0000-0000-000000000000")
    assert cancel_error.value.status_code == 404


def test_cancel_queued_request_sends_no_webhook(receiver) -> None:
    # A sandbox of its own whose queue phase (3 s) a busy machine cannot outrun.
    with run_sandbox(seconds=9.0) as slow:
        fal = SandboxFalClient(key="test", sandbox_url=slow.url, default_timeout=30)
        handle = fal.submit(TEXT_TO_VIDEO, {"prompt": "cancel me while queued"}, webhook_url=receiver.url)
        response = httpx.put(handle.cancel_url, headers={"Authorization": "Key test"})
        assert response.status_code == 202
        assert response.json() == {"status": "CANCELLATION_REQUESTED"}
        status = fal.status(TEXT_TO_VIDEO, handle.request_id)
        assert isinstance(status, Completed) and status.error == "Request cancelled by user"
        again = httpx.put(handle.cancel_url, headers={"Authorization": "Key test"})
        assert again.status_code == 400 and again.json() == {"status": "ALREADY_COMPLETED"}
        time.sleep(1.5)  # a webhook would come at once: nothing must arrive
        assert receiver.for_request(handle.request_id) == []
        record = slow.request(handle.request_id)
        assert record["removed"] is True and record["webhook_attempts"] == 0 and record["started_at"] is None


def test_cancel_in_progress_request_sends_error_webhook(fal: SandboxFalClient, sandbox: SandboxProcess, receiver) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": "cancel me while rendering"}, webhook_url=receiver.url)
    wait_for(lambda: isinstance(handle.status(), InProgress), "the request to start", timeout=15, every=0.02)
    fal.cancel(TEXT_TO_VIDEO, handle.request_id)
    completed = wait_completed(fal, handle.request_id)
    assert completed.error == "Request cancelled by user"
    (delivery,) = receiver.wait_for(1)
    body = json.loads(delivery.body)
    assert body["status"] == "ERROR" and body["error"] == "Request cancelled by user"
    assert isinstance(body["payload"]["detail"], list)
    assert verify_webhook(sandbox.jwks(), delivery.headers, delivery.body)


def test_cancel_completed_request_is_rejected(fal: SandboxFalClient, finished: Finished) -> None:
    with pytest.raises(FalClientHTTPError) as error:
        fal.cancel(TEXT_TO_VIDEO, finished.request_id)
    assert error.value.status_code == 400


def test_webhook_is_retried_after_a_failure(fal: SandboxFalClient, sandbox: SandboxProcess, receiver) -> None:
    receiver.answers = [500]
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": "retry the webhook", "duration": "3"}, webhook_url=receiver.url)
    deliveries = receiver.wait_for(2, timeout=20)
    assert deliveries[0].body == deliveries[1].body
    record = _record_when(sandbox, handle.request_id, lambda r: r["webhook_attempts"] == 2)
    assert [item["status"] for item in record["webhook_responses"]] == [500, 200]


def test_key_file_keeps_jwks_stable_across_restarts(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "sandbox.pem"
    with run_sandbox(key_file=key_file) as first:
        jwks_first = first.jwks()
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    with run_sandbox(key_file=key_file) as second:
        assert second.jwks() == jwks_first
    with run_sandbox() as ephemeral:
        assert ephemeral.jwks()["keys"][0]["x"] != jwks_first["keys"][0]["x"]


def test_bad_command_line_fails_with_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="unknown fault"):
        with run_sandbox(faults="not_a_fault=0.5"):
            pass

def test_stats_count_requests_in_flight_per_endpoint() -> None:
    """`/_sandbox/stats` counts accepted submits and requests in flight per endpoint,
    and keeps the most it ever saw in flight at once (a cancelled queued request and a
    completed one both leave the flight)."""
    # A queue of 1 s (a third of the render): three submits and a cancel fit inside it
    # even on a busy machine, where 0.33 s did not.
    with run_sandbox(seconds=3.0) as sandbox:
        def submit(application: str, prompt: str) -> str:
            response = httpx.post(
                f"{sandbox.url}/{application}", json={"prompt": prompt, "duration": "3"}, headers=KEY
            )
            assert response.status_code == 200
            return response.json()["request_id"]

        first = submit(TEXT_TO_VIDEO, "one")
        submit(TEXT_TO_VIDEO, "two")
        submit(TEXT_TO_VIDEO, "three")
        stats = sandbox.stats()
        assert stats["in_flight"] == {TEXT_TO_VIDEO: 3}
        cancelled = httpx.put(
            f"{sandbox.url}/fal-ai/kling-video/requests/{first}/cancel", headers=KEY
        )
        assert cancelled.status_code == 202
        assert sandbox.stats()["in_flight"] == {TEXT_TO_VIDEO: 2}

        wait_for(lambda: not sandbox.stats()["in_flight"], "the requests to complete", timeout=60)
        submit(TEXT_TO_VIDEO, "four")
        stats = sandbox.stats()
        assert stats["submits"] == {TEXT_TO_VIDEO: 4}
        assert stats["max_in_flight"] == {TEXT_TO_VIDEO: 3}
        assert stats["in_flight"] == {TEXT_TO_VIDEO: 1}



def test_the_log_never_shows_a_webhook_token(sandbox: SandboxProcess) -> None:
    """A submit's fal_webhook carries the task's secret token in its query; neither the
    request line nor the "submitted" line of the sandbox's log may show it."""
    secret = f"tok{time.time_ns()}"
    webhook = f"http://127.0.0.1:9/webhooks/fal/?token={secret}"
    response = httpx.post(
        f"{sandbox.url}/{TEXT_TO_VIDEO}", params={"fal_webhook": webhook},
        json={"prompt": "a quiet lake", "duration": "5"}, headers={"Authorization": "Key test"},
    )
    assert response.status_code == 200
    request_id = response.json()["request_id"]
    line = wait_for(
        lambda: next((l for l in list(sandbox.output) if f"submitted {request_id}" in l), None),
        "the submit to be logged", timeout=10,
    )
    assert "webhook=http://127.0.0.1:9/webhooks/fal/" in line
    assert not [l for l in list(sandbox.output) if secret in l]

# The sandbox behaves like fal: it knows fal's endpoints and their published schemas,
# refuses what fal refuses where fal refuses it, and answers in fal's shapes.

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


def test_a_combination_fal_refuses_fails_at_run_time_on_the_field_to_change(fal: SandboxFalClient) -> None:
    # LTX 2.3 Fast: each value is one of its choices, but over 10 s it makes only 1080p.
    app = "fal-ai/ltx-2.3/text-to-video/fast"
    handle = fal.submit(app, {"prompt": _prompt("long and sharp"), "duration": 12, "resolution": "2160p"})
    wait_completed(fal, handle.request_id, app)
    result = httpx.get(handle.response_url, headers=KEY)
    assert result.status_code == 422
    (entry,) = result.json()["detail"]
    assert (entry["loc"], entry["type"], entry["input"]) == (["body", "resolution"], "value_error", "2160p")


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
