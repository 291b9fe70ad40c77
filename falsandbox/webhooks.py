"""Signed webhook delivery with bounded retries, plus the delivery faults."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any, Optional

from .config import DUPLICATE_WEBHOOK_DELAY, WEBHOOK_RETRY_DELAYS, WEBHOOK_TIMEOUT
from .signing import Signer
from .state import SandboxRequest, Store, iso, log_line


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect on a signed POST is treated as a failed delivery, not followed.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def webhook_payload(request: SandboxRequest) -> dict[str, Any]:
    """fal's webhook body. A failed request says only "Invalid status code: N" in
    ``error``; the model's reasons travel in ``payload`` (the result call's body)."""
    body: dict[str, Any] = {
        "request_id": request.id,
        "gateway_request_id": request.gateway_request_id,
        "status": "OK",
        "payload": request.result,
        "error": None,
        "payload_error": None,
    }
    failure = request.failure
    if failure is not None:
        error = failure.message if failure.error_type == "request_cancelled" else f"Invalid status code: {failure.http_status}"
        body.update(status="ERROR", payload=failure.body(), error=error)
    return body


class WebhookSender:
    def __init__(self, store: Store, signer: Signer, stop: threading.Event, seconds: float) -> None:
        self.store = store
        self.signer = signer
        self.stop = stop
        self.seconds = seconds

    def dispatch(self, request: SandboxRequest) -> None:
        """Send the final webhook for a finished request; runs on the request's own thread."""
        if not request.webhook_url or request.removed:
            return
        if "no_webhook" in request.faults:
            self.store.note_fault(request, "no_webhook", "webhook suppressed")
            return
        if "late_webhook" in request.faults:
            # Held back until a poller has seen COMPLETED, which is the race the app must survive.
            seen = request.completed_seen.wait(3 * self.seconds)
            why = "after a status poll saw COMPLETED" if seen else f"after {3 * self.seconds:g}s without a poll"
            self.store.note_fault(request, "late_webhook", f"sent {why}")
        if self.stop.is_set():
            return
        if "gateway_retry" in request.faults:
            self.store.note_fault(request, "gateway_retry", f"webhook names gateway request {request.gateway_request_id}")
        body = json.dumps(webhook_payload(request)).encode("utf-8")
        self._deliver(request, body, delivery=1)
        if "duplicate_webhook" in request.faults and not self.stop.wait(DUPLICATE_WEBHOOK_DELAY):
            self.store.note_fault(request, "duplicate_webhook", "sending the same webhook again")
            self._deliver(request, body, delivery=2)

    def _deliver(self, request: SandboxRequest, body: bytes, delivery: int) -> bool:
        assert request.webhook_url
        delays = (0.0,) + WEBHOOK_RETRY_DELAYS
        for attempt, delay in enumerate(delays, start=1):
            if delay and self.stop.wait(delay):
                return False
            if request.discarded:  # forgotten by /_sandbox/reset while we were retrying
                return False
            status, error = self._post(request, body)
            ok = status is not None and 200 <= status < 300
            with self.store.lock:
                request.webhook_attempts.append(
                    {"delivery": delivery, "attempt": attempt, "status": status, "error": error, "ok": ok, "at": iso()}
                )
                self.store.counters["webhooks_sent"] += 1
            log_line(f"webhook {request.id} delivery {delivery} attempt {attempt} -> {status or error}")
            if ok:
                self.store.count("webhooks_delivered")
                return True
        self.store.count("webhooks_failed")
        log_line(f"webhook {request.id} delivery {delivery} gave up after {len(delays)} attempts")
        return False

    def _post(self, request: SandboxRequest, body: bytes) -> tuple[Optional[int], Optional[str]]:
        assert request.webhook_url
        headers = {"Content-Type": "application/json", "User-Agent": "falsandbox-webhook/1"}
        # fal signs with the gateway's id, which differs from request_id after an internal retry.
        headers.update(self.signer.headers(request.gateway_request_id, body))
        outgoing = urllib.request.Request(request.webhook_url, data=body, headers=headers, method="POST")
        try:
            with _opener.open(outgoing, timeout=WEBHOOK_TIMEOUT) as response:
                response.read()
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"{type(exc).__name__}: {reason}"
