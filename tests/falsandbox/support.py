"""Helpers for the sandbox tests: the real fal client pointed at the sandbox, a webhook
receiver, and an independent signature check written from fal's documented format."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fal_client import SyncClient
from fal_client.client import Completed

from tests.support import wait_for

FAL_QUEUE_HOSTS = ("queue.fal.run", "queue.falrun.com")
TEXT_TO_VIDEO = "fal-ai/kling-video/v3/turbo/standard/text-to-video"
IMAGE_TO_VIDEO = "fal-ai/kling-video/v3/turbo/standard/image-to-video"


class RewriteToSandbox(httpx.BaseTransport):
    """Sends requests for fal's queue hosts to the sandbox over plain http."""

    def __init__(self, base_url: str) -> None:
        base = httpx.URL(base_url)
        self.host, self.port = base.host, base.port
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in FAL_QUEUE_HOSTS:
            request.url = request.url.copy_with(scheme="http", host=self.host, port=self.port)
            request.headers["Host"] = f"{self.host}:{self.port}"
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True)
class SandboxFalClient(SyncClient):
    sandbox_url: str = ""

    @cached_property
    def _client(self) -> httpx.Client:
        return httpx.Client(
            transport=RewriteToSandbox(self.sandbox_url),
            headers={"Authorization": "Key test"},
            timeout=self.default_timeout,
            follow_redirects=True,
        )


def wait_completed(client: SyncClient, request_id: str, app: str = TEXT_TO_VIDEO, timeout: float = 20) -> Completed:
    def completed():
        status = client.status(app, request_id, with_logs=True)
        return status if isinstance(status, Completed) else None

    return wait_for(completed, f"request {request_id} to complete", timeout=timeout, every=0.05)


# --- webhook receiver --------------------------------------------------------


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    received_at: float


@dataclass
class WebhookReceiver:
    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # statuses to answer, in order; then 200
    condition: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 15) -> list[Delivery]:
        with self.condition:
            if not self.condition.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise AssertionError(f"expected {count} webhook(s), got {len(self.deliveries)}")
            return list(self.deliveries)

    def for_request(self, request_id: str) -> list[Delivery]:
        with self.condition:
            return [d for d in self.deliveries if d.headers.get("x-fal-webhook-request-id") == request_id]


def start_receiver() -> tuple[WebhookReceiver, ThreadingHTTPServer]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.condition:
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.deliveries.append(
                    Delivery({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                )
                receiver.condition.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/fal"
    return receiver, server


# --- signature verification (independent of falsandbox.signing) -------------


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_webhook(jwks: dict[str, Any], headers: dict[str, str], body: bytes,
                   now: Optional[float] = None) -> bool:
    try:
        request_id = headers["x-fal-webhook-request-id"]
        user_id = headers["x-fal-webhook-user-id"]
        timestamp = headers["x-fal-webhook-timestamp"]
        signature = bytes.fromhex(headers["x-fal-webhook-signature"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - int(timestamp)) > 300:
        return False
    message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode("utf-8")
    for key in jwks.get("keys", []):
        if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            continue
        try:
            Ed25519PublicKey.from_public_bytes(_b64url_decode(key["x"])).verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False
