"""Every fault, as the app would meet it through fal-client and a plain download."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import av
import fal_client.client
import httpx
import pytest
from fal_client.client import Completed, FalClientHTTPError

from devtools.sandbox import SandboxProcess, run_sandbox
from tests.support import wait_for

from .support import (
    TEXT_TO_VIDEO,
    SandboxFalClient,
    WebhookReceiver,
    verify_webhook,
    wait_completed,
)

pytestmark = pytest.mark.usefixtures("no_retries")


def _prompt(text: str, *faults: str) -> str:
    # A timestamp keeps *_once markers independent between test runs on a long-lived sandbox.
    return " ".join([text, str(time.time_ns()), *(f"#fault:{name}" for name in faults)])


RESULT_FAULTS = ("result_500", "result_truncated", "result_wrong_type", "result_not_video", "result_too_large", "result_slow")


@pytest.fixture(scope="module")
def results(fal: SandboxFalClient) -> dict[str, dict[str, Any]]:
    """One finished request per download fault, generated side by side to save time."""
    handles = {
        fault: fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("download", fault), "duration": "3"})
        for fault in RESULT_FAULTS
    }
    outputs = {}
    for fault, handle in handles.items():
        assert wait_completed(fal, handle.request_id).error is None
        outputs[fault] = fal.result(TEXT_TO_VIDEO, handle.request_id)
    return outputs


def test_submit_500_fails_every_time(fal: SandboxFalClient, sandbox: SandboxProcess) -> None:
    before = sandbox.stats()
    prompt = _prompt("always broken", "submit_500")
    for _ in range(2):
        with pytest.raises(FalClientHTTPError) as error:
            fal.submit(TEXT_TO_VIDEO, {"prompt": prompt})
        assert error.value.status_code == 500
    after = sandbox.stats()
    assert after["submit_faults"] - before["submit_faults"] == 2
    assert after["submissions"] == before["submissions"]
    assert after["rejected_submits"][-1]["fault"] == "submit_500"


def test_submit_429_once_then_succeeds(fal: SandboxFalClient) -> None:
    arguments = {"prompt": _prompt("busy", "submit_429_once"), "duration": "3"}
    with pytest.raises(FalClientHTTPError) as error:
        fal.submit(TEXT_TO_VIDEO, arguments)
    assert error.value.status_code == 429
    assert error.value.error_type == "rate_limited"
    handle = fal.submit(TEXT_TO_VIDEO, arguments)
    assert handle.request_id


def test_submit_429_once_is_absorbed_by_client_retries(fal: SandboxFalClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fal_client.client, "MAX_ATTEMPTS", 3)
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("retried", "submit_429_once"), "duration": "3"})
    assert handle.request_id


def test_submit_timeout_via_argument(sandbox: SandboxProcess) -> None:
    impatient = SandboxFalClient(key="test", sandbox_url=sandbox.url, default_timeout=0.5)
    before = sandbox.stats()["submissions"]
    with pytest.raises(httpx.TimeoutException):
        impatient.submit(TEXT_TO_VIDEO, {"prompt": _prompt("hang"), "sandbox_faults": ["submit_timeout"]})
    assert sandbox.stats()["submissions"] == before


def test_no_webhook(fal: SandboxFalClient, sandbox: SandboxProcess, receiver: WebhookReceiver) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("silent", "no_webhook"), "duration": "3"},
                        webhook_url=receiver.url)
    wait_completed(fal, handle.request_id)
    time.sleep(0.5)
    assert receiver.for_request(handle.request_id) == []
    record = sandbox.request(handle.request_id)
    assert record["faults"] == ["no_webhook"]
    assert record["webhook_attempts"] == 0
    assert [event["fault"] for event in record["fault_events"]] == ["no_webhook"]


def test_duplicate_webhook(fal: SandboxFalClient, sandbox: SandboxProcess, receiver: WebhookReceiver) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("twice", "duplicate_webhook"), "duration": "3"},
                        webhook_url=receiver.url)
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    assert json.loads(first.body)["request_id"] == handle.request_id
    assert second.received_at - first.received_at >= 0.9
    jwks = sandbox.jwks()
    assert verify_webhook(jwks, first.headers, first.body) and verify_webhook(jwks, second.headers, second.body)


def test_late_webhook_waits_for_a_completed_poll(fal: SandboxFalClient, sandbox: SandboxProcess,
                                                 receiver: WebhookReceiver) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("late", "late_webhook"), "duration": "3"},
                        webhook_url=receiver.url)
    # Watch through introspection, which does not count as a poll.
    wait_for(lambda: sandbox.request(handle.request_id)["status"] == "COMPLETED", "the request to complete", timeout=15)
    time.sleep(0.5)
    assert receiver.for_request(handle.request_id) == []
    assert isinstance(fal.status(TEXT_TO_VIDEO, handle.request_id), Completed)
    (delivery,) = receiver.wait_for(1, timeout=5)
    assert json.loads(delivery.body)["status"] == "OK"


def test_error_fault(fal: SandboxFalClient, sandbox: SandboxProcess, receiver: WebhookReceiver) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("doomed", "error")}, webhook_url=receiver.url)
    completed = wait_completed(fal, handle.request_id)
    assert completed.error == "Sandbox: model failed to generate (fault injected)"
    assert completed.error_type
    with pytest.raises(FalClientHTTPError) as error:
        fal.result(TEXT_TO_VIDEO, handle.request_id)
    assert error.value.status_code == 500
    (delivery,) = receiver.wait_for(1)
    body = json.loads(delivery.body)
    assert body["status"] == "ERROR"
    assert body["error"] == "Invalid status code: 500"  # fal's line; the reason is in the payload
    assert body["payload"] == error.value.response.json()
    assert body["payload"]["detail"][0]["msg"] == "Sandbox: model failed to generate (fault injected)"
    assert body["payload"]["detail"][0]["type"] == "internal_server_error"
    assert verify_webhook(sandbox.jwks(), delivery.headers, delivery.body)
    assert sandbox.stats()["errors"] >= 1


def test_result_500(results: dict[str, Any]) -> None:
    response = httpx.get(results["result_500"]["video"]["url"])
    assert response.status_code == 500


def test_result_truncated(results: dict[str, Any]) -> None:
    video = results["result_truncated"]["video"]
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("GET", video["url"]) as response:
            assert int(response.headers["content-length"]) == video["file_size"]
            for chunk in response.iter_bytes():
                received += chunk
    assert 0 < len(received) < video["file_size"]


def test_result_wrong_type(results: dict[str, Any]) -> None:
    response = httpx.get(results["result_wrong_type"]["video"]["url"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert b"<html" in response.content


def test_result_not_video(results: dict[str, Any], tmp_path: Path) -> None:
    video = results["result_not_video"]["video"]
    response = httpx.get(video["url"])
    assert response.headers["content-type"] == "video/mp4"
    assert len(response.content) == video["file_size"]
    path = tmp_path / "noise.mp4"
    path.write_bytes(response.content)
    with pytest.raises(av.FFmpegError):
        with av.open(str(path)) as container:
            next(container.decode(video=0))


def test_result_too_large(results: dict[str, Any]) -> None:
    video = results["result_too_large"]["video"]
    with httpx.stream("GET", video["url"]) as response:
        assert response.headers["content-type"] == "video/mp4"
        length = int(response.headers["content-length"])
        assert length == video["file_size"] >= 300 * 1024 * 1024
        first = next(response.iter_bytes())
        assert first and set(first) == {0}


def test_result_slow(results: dict[str, Any]) -> None:
    video = results["result_slow"]["video"]
    started = time.monotonic()
    received = 0
    with httpx.stream("GET", video["url"]) as response:
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received >= 10 * 1024:
                break
    assert time.monotonic() - started >= 0.3  # ~20 KB/s


def test_cancel_fail(fal: SandboxFalClient, sandbox: SandboxProcess) -> None:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": _prompt("stubborn", "cancel_fail"), "duration": "3"})
    with pytest.raises(FalClientHTTPError) as error:
        fal.cancel(TEXT_TO_VIDEO, handle.request_id)
    assert error.value.status_code == 500
    assert wait_completed(fal, handle.request_id).error is None
    record = sandbox.request(handle.request_id)
    assert record["cancelled"] is False
    assert [event["fault"] for event in record["fault_events"]] == ["cancel_fail"]


def test_random_fault_rates_are_seeded() -> None:
    outcomes = []
    for _ in range(2):
        with run_sandbox(faults="submit_500=0.5", extra_args=["--random-seed", "7"]) as sandbox:
            client = SandboxFalClient(key="test", sandbox_url=sandbox.url)
            run = []
            for index in range(10):
                try:
                    client.submit(TEXT_TO_VIDEO, {"prompt": f"random {index}", "duration": "1"})
                    run.append("ok")
                except FalClientHTTPError as error:
                    assert error.status_code == 500
                    run.append("500")
            stats = sandbox.stats()
            assert stats["submit_faults"] == run.count("500") and stats["submissions"] == run.count("ok")
            outcomes.append(run)
    assert outcomes[0] == outcomes[1]
    assert "ok" in outcomes[0] and "500" in outcomes[0]


def test_random_request_faults_are_recorded() -> None:
    with run_sandbox(faults="no_webhook=1,result_500=1") as sandbox:
        client = SandboxFalClient(key="test", sandbox_url=sandbox.url)
        handle = client.submit(TEXT_TO_VIDEO, {"prompt": "random faults", "duration": "1"})
        assert sorted(sandbox.request(handle.request_id)["faults"]) == ["no_webhook", "result_500"]
