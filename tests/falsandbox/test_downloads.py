"""Result links that expire, on demand, as fal's media links do after a while."""

from __future__ import annotations

import httpx

from devtools.sandbox import SandboxProcess

from .support import TEXT_TO_VIDEO, SandboxFalClient, wait_completed


def _finished(fal: SandboxFalClient) -> str:
    handle = fal.submit(TEXT_TO_VIDEO, {"prompt": "a lighthouse at dusk", "duration": "5"})
    wait_completed(fal, handle.request_id)
    return handle.request_id


def test_an_expired_link_answers_403_and_the_result_keeps_naming_it(sandbox: SandboxProcess, fal: SandboxFalClient) -> None:
    request_id = _finished(fal)
    url = fal.result(TEXT_TO_VIDEO, request_id)["video"]["url"]
    assert httpx.get(url).status_code == 200

    answer = sandbox.expire(request_id)

    assert answer["url"] == url
    gone = httpx.get(url)
    assert gone.status_code == 403 and "expired" in gone.json()["detail"]
    assert fal.result(TEXT_TO_VIDEO, request_id)["video"]["url"] == url
    assert sandbox.request(request_id)["expired_files"] == [url.rsplit("/", 1)[-1]]


def test_a_reissued_link_serves_the_same_video(sandbox: SandboxProcess, fal: SandboxFalClient) -> None:
    request_id = _finished(fal)
    old = fal.result(TEXT_TO_VIDEO, request_id)["video"]["url"]
    original = httpx.get(old).content

    new = sandbox.expire(request_id, reissue=True)["url"]

    assert new != old and fal.result(TEXT_TO_VIDEO, request_id)["video"]["url"] == new
    assert httpx.get(old).status_code == 403
    fresh = httpx.get(new)
    assert fresh.status_code == 200 and fresh.content == original


def test_expiring_an_unknown_request_is_404(sandbox: SandboxProcess) -> None:
    response = httpx.post(f"{sandbox.url}/_sandbox/requests/no-such-request/expire")
    assert response.status_code == 404
