"""Receiving fal's webhook: record it, prove it, apply it, answer fast.

Every delivery is stored raw before it is looked at, then checked in order: size,
fal's signature, JSON shape, our task, the task's token, and only then applied as one
transition. The slow work (the download) is queued, never done here."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from generation.models import Task, WebhookDelivery, WebhookOutcome
from generation.services import apply_provider_outcome
from generation.signatures import SignatureError, verify_fal_signature

logger = logging.getLogger(__name__)

# Headers worth keeping with the record; never cookies or authorisation.
_KEPT_HEADERS = ("content-type", "content-length", "user-agent", "x-fal-", "x-forwarded-for")


_ACCEPTED = (WebhookOutcome.APPLIED, WebhookOutcome.DUPLICATE)


@dataclass(frozen=True)
class Answer:
    status: int
    outcome: WebhookOutcome
    detail: str


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith(_KEPT_HEADERS)}


def record_delivery(*, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], remote_addr: str | None) -> WebhookDelivery:
    kept = body[: settings.FAL_WEBHOOK_MAX_BYTES]
    return WebhookDelivery.objects.create(
        headers=_kept_headers(headers),
        body=kept.decode("utf-8", errors="replace"),
        body_size=len(body),
        query_string="&".join(f"{k}={'***' if k == 'token' else v}" for k, v in query.items()),
        remote_addr=remote_addr or None,
        request_id=(headers.get("X-Fal-Webhook-Request-Id") or "")[:128],
        signature=(headers.get("X-Fal-Webhook-Signature") or "")[:128],
    )


def process_delivery(delivery: WebhookDelivery, *, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]) -> Answer:
    """Judge and apply one stored delivery; records the outcome on it."""
    answer, task, payload = _judge(delivery, body=body, headers=headers, query=query)
    if answer is None:
        changed = apply_provider_outcome(
            task=task,
            request_id=str(payload.get("request_id") or delivery.request_id),
            status=str(payload.get("status")),
            payload=payload.get("payload"),
            error=payload.get("error") or payload.get("payload_error"),
        )
        now = Task.objects.values_list("status", flat=True).get(pk=task.pk)
        if changed:
            answer = Answer(200, WebhookOutcome.APPLIED, f"task is now {now}")
        else:
            answer = Answer(200, WebhookOutcome.DUPLICATE, f"task already {now}")
    delivery.task = task
    delivery.outcome = answer.outcome
    delivery.http_status = answer.status
    delivery.detail = answer.detail
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["task", "outcome", "http_status", "detail", "processed_at"])
    if answer.status >= 400:
        logger.warning("webhook delivery %s refused (%s): %s", delivery.pk, answer.outcome, answer.detail)
    return answer


def _judge(
    delivery: WebhookDelivery, *, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
) -> tuple[Answer | None, Task | None, dict]:
    """Check a delivery in order; (None, task, payload) when it may be applied."""
    if len(body) > settings.FAL_WEBHOOK_MAX_BYTES:
        return Answer(413, WebhookOutcome.TOO_LARGE, f"{len(body)} bytes"), None, {}
    try:
        signed_request_id = verify_fal_signature(headers, body)
    except SignatureError as exc:
        return Answer(401, WebhookOutcome.BAD_SIGNATURE, str(exc)), None, {}
    earlier = (
        WebhookDelivery.objects.filter(signature=delivery.signature, outcome__in=_ACCEPTED)
        .exclude(pk=delivery.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if earlier is not None:
        return Answer(409, WebhookOutcome.REPLAY, f"same signature as delivery {earlier}"), None, {}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Answer(400, WebhookOutcome.MALFORMED, f"not JSON: {exc}"), None, {}
    if not isinstance(payload, dict) or payload.get("status") not in ("OK", "ERROR"):
        return Answer(400, WebhookOutcome.MALFORMED, "expected an object with status OK or ERROR"), None, {}
    if payload.get("request_id") and payload["request_id"] != signed_request_id:
        return Answer(400, WebhookOutcome.MALFORMED, "request_id in body differs from the signed one"), None, {}

    try:
        task = Task.objects.get(pk=query.get("task", ""))
    except (Task.DoesNotExist, ValidationError, ValueError):
        return Answer(404, WebhookOutcome.UNKNOWN_TASK, f"no task {query.get('task', '')!r}"), None, {}
    if not secrets.compare_digest(str(query.get("token", "")), task.webhook_token):
        return Answer(403, WebhookOutcome.BAD_TOKEN, "token does not match the task"), task, {}
    return None, task, payload
