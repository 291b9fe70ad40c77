"""fal.ai through fal-client's SyncClient, and the local sandbox through the same client.

All provider calls go through `submit`, `fetch_status`, `fetch_result`, `cancel` and
`upload_input` below; each is one HTTP request (no hidden retries, no status call
before a result) bounded by FAL_CLIENT_TIMEOUT, and their failures arrive as
ProviderError with a classified kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import urlsplit

import fal_client
import fal_client.client
import httpcore  # noqa: F401 -- see below
import httpx
from django.conf import settings
from django.utils.translation import gettext_noop

from generation.fal_errors import FalFailure, model_failure_message, read_answer, reason_for_status
from generation.models import ErrorKind
from generation.said import Said, said

logger = logging.getLogger(__name__)

# Our tasks own retries and backoff. The client would otherwise resend a submit whose
# answer was lost (a timeout after the request arrived), which can start a second,
# paid generation. Status and cancel calls are retried by our reconciler instead.
fal_client.client.MAX_ATTEMPTS = 1

# httpx imports its transport (httpcore) only when the first client is made: a
# worker's first provider call would pay for that import, in the middle of its work.
# Imported above with this module instead, so a process pays for it as it starts.

# fal's hosts that the sandbox imitates: the queue (and its backup domain), the REST
# host that hands out storage tokens and upload slots, and the v3 CDN that takes uploads.
FAL_SANDBOXED_HOSTS = ("queue.fal.run", "queue.falrun.com", "rest.fal.ai", "v3.fal.media")


class _SandboxTransport(httpx.HTTPTransport):
    """Sends requests for fal's hosts to the local sandbox instead."""

    def __init__(self, base_url: str):
        super().__init__()
        target = urlsplit(base_url)
        self._scheme = target.scheme
        self._host = target.hostname
        self._port = target.port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in FAL_SANDBOXED_HOSTS:
            request.url = request.url.copy_with(scheme=self._scheme, host=self._host, port=self._port)
            request.headers["Host"] = request.url.netloc.decode()
        return super().handle_request(request)


class SandboxClient(fal_client.SyncClient):
    """fal-client pointed at the local sandbox: everything it sends to fal's hosts goes
    to the sandbox over plain http, so submit, status, result, cancel and uploads run
    fal-client's own code over real HTTP. fal-client makes its httpx clients in three
    private places -- `_client` (queue and the storage fallback), `_get_cdn_client`
    (CDN uploads) and the token manager behind `_token_manager`, whose URL is
    `_url` -- so each is overridden here; fal-client is pinned and tests cover all
    three."""

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

    @cached_property
    def _token_manager(self) -> fal_client.client.CDNTokenManager:
        # The token manager fetches with a bare httpx client of its own: give it the
        # sandbox's address directly.
        manager = fal_client.client.CDNTokenManager(self._auth)
        manager._url = manager._url.replace(fal_client.client.REST_URL, self.base_url, 1)
        return manager

    def _get_cdn_client(self) -> httpx.Client:
        token = self._token_manager.get_token()
        return httpx.Client(
            transport=_SandboxTransport(self.base_url),
            headers={"Authorization": f"{token.token_type} {token.token}"},
            timeout=self.default_timeout,
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
    is safe to show a user (a Said: read again in the reader's language); `short` is
    its first clause, for "… Gave up after N attempts."; `detail` is for staff;
    `status_code` is fal's HTTP answer (None when none came)."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        detail: str = "",
        *,
        request_may_exist: bool = False,
        status_code: int | None = None,
        short: str | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.message = message if isinstance(message, Said) else said(message)
        self.short = short
        self.detail = detail
        # True when a submit may have reached the provider although we got no answer.
        self.request_may_exist = request_may_exist
        self.status_code = status_code

    @property
    def retryable(self) -> bool:
        if self.kind == ErrorKind.TIMEOUT:
            # fal's own timeouts (504 request/startup timeout) happen before any work:
            # not billed, safe to send again.
            return self.status_code is not None and self.status_code >= 500
        return self.kind in (ErrorKind.RATE_LIMIT, ErrorKind.NETWORK, ErrorKind.PROVIDER)


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _error_for_answer(response: httpx.Response, *, action: str) -> ProviderError:
    """A non-2xx answer of fal's queue as a ProviderError, its kind chosen by fal's
    `error_type` / `X-Fal-Error-Type` where fal gives one."""
    code = response.status_code
    body = _body(response)
    failure = read_answer(status_code=code, body=body, header_error_type=response.headers.get("x-fal-error-type"))
    detail = f"{action}: HTTP {code}, error_type={failure.error_type}: {_short(response.text, 2000)}"
    if code == 404 and not isinstance(body.get("detail") if isinstance(body, dict) else None, list):
        # fal's "Not Found": no such endpoint (on submit) or no such request.
        failure = FalFailure(ErrorKind.VALIDATION, reason_for_status(404), failure.error_type)
    kind = failure.kind
    short = None
    if kind == ErrorKind.RATE_LIMIT:
        message = said(gettext_noop("The video service is busy; we will try again shortly."))
        short = said(gettext_noop("The video service is busy"))
    elif kind == ErrorKind.QUOTA:
        message = (
            said(gettext_noop("The video service account has run out of credit."))
            if code == 402 or "balance" in failure.reason.lower()
            else said(gettext_noop("The video service refused our credentials or quota."))
        )
    elif kind == ErrorKind.VALIDATION:
        message = model_failure_message(failure)
    elif kind == ErrorKind.TIMEOUT:
        message = said(gettext_noop("The video service timed out; we will try again."))
        short = said(gettext_noop("The video service timed out"))
    else:
        message = said(gettext_noop("The video service had a problem; we will try again."))
        short = said(gettext_noop("The video service had a problem"))
    return ProviderError(kind, message, detail, status_code=code, short=short)


def classify(exc: Exception, *, action: str) -> ProviderError:
    """Turn a fal-client or httpx failure into a ProviderError."""
    if isinstance(exc, (fal_client.client.FalClientHTTPError, httpx.HTTPStatusError)):
        return _error_for_answer(exc.response, action=action)
    detail = f"{action}: {type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        # A connect timeout never reached the provider; any later timeout may have.
        reached = not isinstance(exc, httpx.ConnectTimeout)
        return ProviderError(
            ErrorKind.NETWORK, said(gettext_noop("The video service did not answer in time.")), detail, request_may_exist=reached
        )
    if isinstance(exc, httpx.TransportError):
        reached = not isinstance(exc, httpx.ConnectError)
        return ProviderError(
            ErrorKind.NETWORK, said(gettext_noop("Could not reach the video service.")), detail, request_may_exist=reached
        )
    if isinstance(exc, (KeyError, ValueError, TypeError)):
        return ProviderError(ErrorKind.PROVIDER, said(gettext_noop("The video service gave an answer we could not read.")), detail)
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


def upload_input(*, data: bytes, content_type: str, file_name: str) -> str:
    """Put an input file (an image to animate) on fal's storage with fal-client's own
    upload, and return its URL: fal's endpoints take files by URL (a few also take
    data: URIs, which fal documents only for some models)."""
    try:
        return get_client().upload(data, content_type, file_name=file_name)
    except Exception as exc:
        error = classify(exc, action="upload")
        error.request_may_exist = False  # nothing was submitted yet
        raise error from exc


def _call(method: str, url_of: str, *, endpoint: str, request_id: str, action: str, **kwargs) -> httpx.Response:
    """One HTTP request to a request's status, result or cancel URL, bounded by our
    timeout. fal-client's own `status`/`result`/`cancel` use a fixed 120 s timeout, and
    `result` polls the status before fetching; we want one bounded request per call.
    The URL and the authorised httpx client come from fal-client's public request
    handle, so the URLs are built exactly as fal-client builds them."""
    client = get_client()
    try:
        handle = client.get_handle(endpoint, request_id)
        return handle.client.request(method, getattr(handle, url_of), timeout=client.default_timeout, **kwargs)
    except Exception as exc:
        raise classify(exc, action=action) from exc


@dataclass(frozen=True)
class StatusReport:
    state: str  # "queued", "in_progress" or "completed"
    queue_position: int | None = None
    logs: list[str] | None = None
    error: str | None = None


_STATES = {"IN_QUEUE": "queued", "IN_PROGRESS": "in_progress", "COMPLETED": "completed"}


def fetch_status(*, endpoint: str, request_id: str) -> StatusReport:
    """Where a request stands (fal answers 202 while queued or running, 200 when done)."""
    response = _call("GET", "status_url", endpoint=endpoint, request_id=request_id, action="status", params={"logs": "1"})
    if not response.is_success:
        raise _error_for_answer(response, action="status")
    body = _body(response)
    state = _STATES.get(body.get("status")) if isinstance(body, dict) else None
    if state is None:
        raise ProviderError(
            ErrorKind.PROVIDER, said(gettext_noop("The video service gave an answer we could not read.")),
            f"status: HTTP {response.status_code}: {_short(response.text, 2000)}", status_code=response.status_code,
        )
    logs = [str(entry.get("message", "")) for entry in (body.get("logs") or []) if isinstance(entry, dict)]
    position = body.get("queue_position")
    return StatusReport(
        state,
        queue_position=position if isinstance(position, int) else None,
        logs=logs,
        error=body.get("error") if isinstance(body.get("error"), str) else None,
    )


@dataclass(frozen=True)
class ResultReport:
    """A finished request's outcome: the model's output, or why the model failed."""

    output: dict | None = None
    failure: FalFailure | None = None
    detail: str = ""


def fetch_result(*, endpoint: str, request_id: str) -> ResultReport:
    """The outcome of a completed request, with one request. fal answers the result call
    with what the model answered: its output, or its error (e.g. 422 with a `detail`
    list) -- a model failure, returned as such. ProviderError only when the call itself
    failed (unreachable, rate limited, refused credentials, an answer we cannot read)."""
    response = _call("GET", "response_url", endpoint=endpoint, request_id=request_id, action="result")
    body = _body(response)
    if response.is_success:
        if not isinstance(body, dict):
            raise ProviderError(
                ErrorKind.PROVIDER, said(gettext_noop("The video service gave an answer we could not read.")),
                f"result: HTTP {response.status_code}: {_short(response.text, 2000)}", status_code=response.status_code,
            )
        return ResultReport(output=body)
    if response.status_code in (401, 403, 404, 429) or not isinstance(body, dict):
        # About our call, not about the request's outcome: refused credentials, rate
        # limited, a request (or result, past fal's retention) that is not there, or
        # an HTML page from a proxy.
        if response.status_code == 404 and isinstance(body, dict) and isinstance(body.get("detail"), list):
            pass  # the model itself answered 404, with reasons: its outcome
        else:
            raise _error_for_answer(response, action="result")
    failure = read_answer(
        status_code=response.status_code, body=body, header_error_type=response.headers.get("x-fal-error-type")
    )
    if not failure.reason:
        failure = FalFailure(failure.kind, reason_for_status(response.status_code), failure.error_type)
    detail = f"result: HTTP {response.status_code}, error_type={failure.error_type}: {_short(response.text, 2000)}"
    return ResultReport(failure=failure, detail=detail)


def cancel(*, endpoint: str, request_id: str) -> None:
    response = _call("PUT", "cancel_url", endpoint=endpoint, request_id=request_id, action="cancel")
    # Already finished (400) or unknown (404): nothing left to stop.
    if response.is_success or response.status_code in (400, 404):
        return
    raise _error_for_answer(response, action="cancel")
