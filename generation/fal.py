"""fal.ai through fal-client's SyncClient, and the local sandbox through the same client.

All provider calls go through `submit`, `fetch_status`, `fetch_result` and `cancel`
below; their failures arrive as ProviderError with a classified kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

import fal_client
import fal_client.client
import httpx
from django.conf import settings

from generation.models import ErrorKind

logger = logging.getLogger(__name__)

# Our tasks own retries and backoff. The client would otherwise resend a submit whose
# answer was lost (a timeout after the request arrived), which can start a second,
# paid generation. Status and cancel calls are retried by our reconciler instead.
fal_client.client.MAX_ATTEMPTS = 1

FAL_QUEUE_HOSTS = ("queue.fal.run", "queue.falrun.com")


class _SandboxTransport(httpx.HTTPTransport):
    """Sends requests for fal's queue hosts to the local sandbox instead."""

    def __init__(self, base_url: str):
        super().__init__()
        target = urlsplit(base_url)
        self._scheme = target.scheme
        self._host = target.hostname
        self._port = target.port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in FAL_QUEUE_HOSTS:
            request.url = request.url.copy_with(scheme=self._scheme, host=self._host, port=self._port)
            request.headers["Host"] = request.url.netloc.decode()
        return super().handle_request(request)


class SandboxClient(fal_client.SyncClient):
    """fal-client pointed at the local sandbox. `_client` is fal-client's private
    factory for its httpx client; fal-client is pinned and a test covers this."""

    def __init__(self, *, base_url: str, key: str = "sandbox", default_timeout: float = 30.0):
        super().__init__(key=key, default_timeout=default_timeout)
        self.base_url = base_url

    @cached_property
    def _client(self) -> httpx.Client:
        return httpx.Client(
            transport=_SandboxTransport(self.base_url),
            headers={"Authorization": f"Key {self.key}"},
            timeout=self.default_timeout,
            follow_redirects=True,
        )


@lru_cache(maxsize=4)
def _make_client(key: str, sandbox_url: str, timeout: float) -> fal_client.SyncClient:
    if sandbox_url:
        return SandboxClient(base_url=sandbox_url, default_timeout=timeout)
    return fal_client.SyncClient(key=key, default_timeout=timeout)


def get_client() -> fal_client.SyncClient:
    return _make_client(settings.FAL_KEY, settings.FAL_SANDBOX_URL, settings.FAL_CLIENT_TIMEOUT)


class ProviderError(Exception):
    """A provider call failed. `kind` decides the response (retry or not); `message`
    is safe to show a user; `detail` is for staff."""

    def __init__(self, kind: ErrorKind, message: str, detail: str = "", *, request_may_exist: bool = False):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.detail = detail
        # True when a submit may have reached the provider although we got no answer.
        self.request_may_exist = request_may_exist

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.RATE_LIMIT, ErrorKind.NETWORK, ErrorKind.PROVIDER)


def classify(exc: Exception, *, action: str) -> ProviderError:
    """Turn a fal-client or httpx failure into a ProviderError."""
    detail = f"{action}: {type(exc).__name__}: {exc}"
    if isinstance(exc, fal_client.client.FalClientHTTPError):
        code = exc.status_code
        detail += f" (HTTP {code}, error_type={exc.error_type})"
        if code == 429:
            return ProviderError(ErrorKind.RATE_LIMIT, "The video service is busy; we will try again shortly.", detail)
        if code in (401, 403):
            return ProviderError(ErrorKind.QUOTA, "The video service refused our credentials or quota.", detail)
        if code == 402:
            return ProviderError(ErrorKind.QUOTA, "The video service account has run out of credit.", detail)
        if code in (400, 404, 422):
            return ProviderError(ErrorKind.VALIDATION, f"The model rejected the request: {_short(exc.message)}", detail)
        if code == 408 or code >= 500:
            return ProviderError(ErrorKind.PROVIDER, "The video service had a problem; we will try again.", detail)
        return ProviderError(ErrorKind.PROVIDER, "The video service gave an unexpected answer.", detail)
    if isinstance(exc, httpx.TimeoutException):
        # A connect timeout never reached the provider; any later timeout may have.
        reached = not isinstance(exc, httpx.ConnectTimeout)
        return ProviderError(
            ErrorKind.NETWORK, "The video service did not answer in time.", detail, request_may_exist=reached
        )
    if isinstance(exc, httpx.TransportError):
        reached = not isinstance(exc, httpx.ConnectError)
        return ProviderError(
            ErrorKind.NETWORK, "Could not reach the video service.", detail, request_may_exist=reached
        )
    if isinstance(exc, (KeyError, ValueError, TypeError)):
        return ProviderError(ErrorKind.PROVIDER, "The video service gave an answer we could not read.", detail)
    raise exc


def _short(text: object, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def submit(*, endpoint: str, arguments: dict, webhook_url: str) -> str:
    """Queue a generation; returns the provider's request id."""
    try:
        handle = get_client().submit(endpoint, arguments, webhook_url=webhook_url)
    except Exception as exc:
        raise classify(exc, action="submit") from exc
    return handle.request_id


@dataclass(frozen=True)
class StatusReport:
    state: str  # "queued", "in_progress" or "completed"
    queue_position: int | None = None
    logs: list[str] | None = None
    error: str | None = None


def fetch_status(*, endpoint: str, request_id: str) -> StatusReport:
    try:
        status = get_client().status(endpoint, request_id, with_logs=True)
    except Exception as exc:
        raise classify(exc, action="status") from exc
    if isinstance(status, fal_client.Queued):
        return StatusReport("queued", queue_position=status.position)
    logs = [str(entry.get("message", "")) for entry in (status.logs or []) if isinstance(entry, dict)]
    if isinstance(status, fal_client.InProgress):
        return StatusReport("in_progress", logs=logs)
    return StatusReport("completed", logs=logs, error=status.error)


def fetch_result(*, endpoint: str, request_id: str) -> dict:
    """The output of a completed request (call only after a Completed status)."""
    try:
        return get_client().result(endpoint, request_id)
    except Exception as exc:
        raise classify(exc, action="result") from exc


def cancel(*, endpoint: str, request_id: str) -> None:
    try:
        get_client().cancel(endpoint, request_id)
    except fal_client.client.FalClientHTTPError as exc:
        # Already finished or unknown: nothing left to stop.
        if exc.status_code in (400, 404):
            return
        raise classify(exc, action="cancel") from exc
    except Exception as exc:
        raise classify(exc, action="cancel") from exc
