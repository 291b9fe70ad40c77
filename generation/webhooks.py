"""Receiving fal's webhook: prove it, apply it, record it, answer fast.

Anyone can post to the endpoint. Checked in order: size, signature (and, when
configured, fal's account), JSON shape, our task, the task's token, the task's own
request; only then is it applied, as one transition, and the slow work (the
download) is queued, never done here. The delivery is written once, with its
outcome: a refused one small (its headers, the first few KB of its body, its size
and SHA-256), an accepted one whole (staff may process it again) and in the same
transaction as the move it made, so an applied delivery is one commit. A duplicate
or late one is answered from the read of its task, without trying a move. A replay
(a signature already accepted) is refused by the database's unique index on
accepted signatures, not by a query beforehand.

A crash while judging or applying rolls back what it did and is recorded on the
delivery (outcome "error", the traceback for staff) and answered 500, so fal
delivers it again later. An address that keeps sending refused deliveries is
throttled (django-ratelimit, in the shared cache): its further unsigned posts are
answered 429 and not recorded at all, while deliveries that fal really signed still
go through."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django_ratelimit.core import get_usage
from requests.structures import CaseInsensitiveDict

from generation.models import Task, WebhookDelivery, WebhookOutcome
from generation.services import apply_provider_outcome, provider_outcome_move
from generation.signatures import HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_USER_ID, SignatureError, verify_fal_signature
from videoplanet.client_address import client_address

logger = logging.getLogger(__name__)

# Headers worth keeping with the record; never cookies or authorisation.
_KEPT_HEADERS = ("content-type", "content-length", "transfer-encoding", "user-agent", "x-fal-", "x-forwarded-for")
_HEADER_VALUE_LIMIT = 512

_THROTTLE_GROUP = "fal-webhook-refusals"


@dataclass(frozen=True)
class Answer:
    status: int
    outcome: WebhookOutcome
    detail: str  # kept on the delivery, for staff
    public: str = ""  # what the sender is told, when it should not see the detail

    @property
    def message(self) -> str:
        return self.public or self.detail


def _text(value: str) -> str:
    """PostgreSQL stores no NUL character in text (nor in JSON): keep a visible mark instead."""
    return value.replace("\x00", "\ufffd")


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        _text(k): _text(str(v))[:_HEADER_VALUE_LIMIT]
        for k, v in headers.items()
        if k.lower().startswith(_KEPT_HEADERS)
    }


def canonical_signature(value: str) -> str:
    """The signature's bytes, written one way (lower-case hex), so that a replay in
    upper case or with spaces is still the same signature; text that is not hex is
    kept as it came (it will not verify anyway)."""
    value = (value or "").strip()
    try:
        return bytes.fromhex(value).hex()[:128]
    except ValueError:
        return _text(value)[:128]


def _masked_query(query: Mapping[str, str]) -> str:
    return _text("&".join(f"{k}={'***' if k == 'token' else v}" for k, v in query.items()))[:2000]


def read_body(request: HttpRequest, *, limit: int) -> bytes:
    """At most `limit` bytes of the request's body. A chunked body (no Content-Length)
    is read from the server's decoded stream, which Django's request would see as
    empty; gunicorn marks such a stream as ending on its own (wsgi.input_terminated)."""
    meta = request.META
    if not meta.get("CONTENT_LENGTH") and meta.get("wsgi.input_terminated"):
        stream, parts, size = meta["wsgi.input"], [], 0
        while size < limit:
            part = stream.read(min(64 * 1024, limit - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
        return b"".join(parts)
    return request.read(limit)


def _new_delivery(*, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], remote_addr: str | None) -> WebhookDelivery:
    """What arrived, small (see the module's docstring); not saved yet: it is written
    once, with its outcome."""
    preview = body[: settings.FAL_WEBHOOK_PREVIEW_BYTES]
    return WebhookDelivery(
        headers=_kept_headers(headers),
        body=_text(preview.decode("utf-8", errors="replace")),
        body_size=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        query_string=_masked_query(query),
        remote_addr=remote_addr or None,
        request_id=_text(headers.get("X-Fal-Webhook-Request-Id") or "")[:128],
        signature=canonical_signature(headers.get(HEADER_SIGNATURE) or ""),
    )


def receive_delivery(
    *, headers: Mapping[str, str], body: bytes, query: Mapping[str, str], remote_addr: str | None
) -> tuple[WebhookDelivery, Answer]:
    """Judge, apply and record one delivery: the endpoint's whole work. Never raises:
    a crash becomes an "error" outcome with its traceback, answered 500."""
    delivery = _new_delivery(headers=headers, body=body, query=query, remote_addr=remote_addr)
    return delivery, _process(delivery, body=body, headers=headers, query=query)


@dataclass
class _Progress:
    """How far a delivery got, for the record of a crash."""

    task: Task | None = None
    accepted: bool = False


# The partial unique index that takes a signature as accepted once (see the model).
_ACCEPTED_ONCE = "webhook_signature_accepted_once"


def _process(
    delivery: WebhookDelivery,
    *,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    stored: bool = False,
    note: str = "",
    keep_applied: bool = False,
) -> Answer:
    """Judge a delivery and, if it passes, apply it. The delivery row is written once,
    with its outcome, and in the transaction of the move when there is one, so both
    commit or neither. `stored`, `note`, `keep_applied`: see `reprocess_delivery`."""
    new = delivery.pk is None
    progress = _Progress()
    try:
        return _judge_and_apply(
            delivery, body=body, headers=headers, query=query, stored=stored, note=note, keep_applied=keep_applied,
            progress=progress,
        )
    except Exception:
        logger.exception("webhook delivery %s crashed", delivery.pk or "(new)")
        if new:
            delivery.pk, delivery._state.adding = None, True  # whatever was written rolled back
        if progress.accepted:
            delivery.body = _text(body.decode("utf-8", errors="replace"))
        answer = Answer(500, WebhookOutcome.ERROR, traceback.format_exc())
        _save(delivery, answer, progress.task, note=note)
        return Answer(answer.status, answer.outcome, answer.detail, public=f"internal error; recorded as delivery {delivery.pk}")


def _judge_and_apply(
    delivery: WebhookDelivery,
    *,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    stored: bool,
    note: str,
    keep_applied: bool,
    progress: _Progress,
) -> Answer:
    new = delivery.pk is None
    answer, task, payload = _judge(delivery, body=body, headers=headers, query=query, stored=stored)
    progress.task = task
    if answer is not None:
        _save(delivery, answer, task, note=note)
        return answer
    # Signed by fal, for this task and its request: worth keeping whole (staff may
    # process it again). Refused deliveries keep only their preview.
    progress.accepted = True
    preview, delivery.body = delivery.body, _text(body.decode("utf-8", errors="replace"))
    status = str(payload.get("status"))
    move = provider_outcome_move(task=task, status=status, payload=payload.get("payload"))
    # A staff re-run of an applied delivery keeps its record: its move happened then.
    keep_record = keep_applied and delivery.outcome == WebhookOutcome.APPLIED
    try:
        with transaction.atomic():
            if move is None:
                # Duplicate or late: answered from the read above, no move tried.
                changed, answer = False, Answer(200, WebhookOutcome.DUPLICATE, f"task already {task.status}")
            else:
                changed = apply_provider_outcome(
                    task=task,
                    request_id=str(payload.get("request_id") or delivery.request_id),
                    status=status,
                    payload=payload.get("payload"),
                    error=_error_text(payload.get("error")),
                    payload_error=_error_text(payload.get("payload_error")),
                )
                answer = (
                    Answer(200, WebhookOutcome.APPLIED, f"task is now {move}")
                    if changed
                    else Answer(200, WebhookOutcome.DUPLICATE, "task moved on meanwhile")
                )
            if changed or not keep_record:
                _save(delivery, answer, task, note=note)
    except IntegrityError as error:
        if not _is_replay(error):
            raise
        # All of it rolled back. fal signs every delivery afresh (a new timestamp each
        # try), so a signature already accepted is someone sending it again.
        if new:
            delivery.pk, delivery._state.adding, delivery.body = None, True, preview
        answer = Answer(409, WebhookOutcome.REPLAY, "same signature as a delivery already accepted")
        _save(delivery, answer, task, note=note)
    return answer


def _is_replay(error: IntegrityError) -> bool:
    """Whether the database refused the delivery by the accepted-once index (PostgreSQL
    names it; SQLite names the column, which no other unique rule covers)."""
    name = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
    if name:
        return name == _ACCEPTED_ONCE
    text = str(error)
    return _ACCEPTED_ONCE in text or f"{WebhookDelivery._meta.db_table}.signature" in text


def _save(delivery: WebhookDelivery, answer: Answer, task: Task | None, *, note: str = "") -> None:
    """Write the delivery with its outcome: one INSERT for a new one, one UPDATE for a
    recorded one processed again."""
    delivery.task = task
    delivery.outcome = answer.outcome
    delivery.http_status = answer.status
    delivery.detail = _text(f"{note}{answer.detail}")
    delivery.processed_at = timezone.now()
    if delivery.pk is None:
        delivery.save(force_insert=True)
    else:
        delivery.save(update_fields=["task", "outcome", "http_status", "detail", "processed_at", "body"])
    if answer.status >= 400:
        logger.warning("webhook delivery %s refused (%s): %s", delivery.pk, answer.outcome, answer.message)


def _error_text(error) -> str | None:
    """fal's `error` is usually a message; an object (a list of validation errors, a
    detail dict) is kept as its JSON text rather than refused."""
    if error is None or isinstance(error, str):
        return error
    return json.dumps(error, ensure_ascii=False)[:2000]


def _without_nul(value):
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _seen_before(signature: str) -> bool:
    """Whether a delivery with this signature was recorded already, whatever came of it
    (compared as bytes: `canonical_signature` writes them one way)."""
    return bool(signature) and WebhookDelivery.objects.filter(signature=signature).exists()


def _judge(
    delivery: WebhookDelivery, *, body: bytes, headers: Mapping[str, str], query: Mapping[str, str], stored: bool = False
) -> tuple[Answer | None, Task | None, dict]:
    """Check a delivery in order; (None, task, payload) when it may be applied.
    `stored` judges a recorded delivery again (`reprocess_delivery`): the signature
    steps are set aside and, its token never having been stored, it is bound to its
    task by the signed request id alone (the check after the token's)."""
    if len(body) > settings.FAL_WEBHOOK_MAX_BYTES:
        return Answer(413, WebhookOutcome.TOO_LARGE, f"more than {settings.FAL_WEBHOOK_MAX_BYTES} bytes"), None, {}
    if stored:
        signed_request_id = delivery.request_id
    else:
        try:
            signed_request_id = verify_fal_signature(headers, body)
        except SignatureError as exc:
            return Answer(401, WebhookOutcome.BAD_SIGNATURE, str(exc)), None, {}
        account = settings.FAL_ACCOUNT_USER_ID
        if account and (headers.get(HEADER_USER_ID) or "").strip() != account:
            return Answer(403, WebhookOutcome.MISMATCHED, "signed for another fal account"), None, {}
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return Answer(400, WebhookOutcome.MALFORMED, f"not JSON: {str(exc)[:200]}"), None, {}
    if not isinstance(payload, dict) or payload.get("status") not in ("OK", "ERROR"):
        return Answer(400, WebhookOutcome.MALFORMED, "expected an object with status OK or ERROR"), None, {}
    payload = _without_nul(payload)
    # After an internal retry fal signs with the body's gateway_request_id (the last
    # attempt) while request_id stays the queue's key; either one is ours.
    if payload.get("request_id") and signed_request_id and signed_request_id not in (payload["request_id"], payload.get("gateway_request_id")):
        return Answer(400, WebhookOutcome.MALFORMED, "request_id in body differs from the signed one"), None, {}

    try:
        task = Task.objects.get(pk=query.get("task", ""))
    except (Task.DoesNotExist, ValidationError, ValueError):
        return Answer(404, WebhookOutcome.UNKNOWN_TASK, f"no task {_text(query.get('task', ''))[:100]!r}"), None, {}
    if not stored and not secrets.compare_digest(str(query.get("token", "")).encode(), task.webhook_token.encode()):
        return Answer(403, WebhookOutcome.BAD_TOKEN, "token does not match the task"), task, {}
    # The token names the task; the signature names the request. Once the task knows
    # its request, a delivery signed for any other request (another customer's, or
    # an earlier submit of ours) must not move it.
    # The body is signed too, so its request_id is fal's word when the header names the
    # gateway's attempt instead.
    signed_ids = {signed_request_id, payload.get("request_id"), payload.get("gateway_request_id")} - {None, ""}
    if task.request_id and task.request_id not in signed_ids:
        return Answer(409, WebhookOutcome.MISMATCHED, f"signed for request {signed_request_id!r}, not the task's"), task, {}
    return None, task, payload


# --- staff re-processing --------------------------------------------------------

# Outcomes a delivery reaches only after its signature verified.
_SIGNATURE_VERIFIED = (
    WebhookOutcome.REPLAY, WebhookOutcome.MALFORMED, WebhookOutcome.UNKNOWN_TASK, WebhookOutcome.BAD_TOKEN,
    WebhookOutcome.MISMATCHED, WebhookOutcome.APPLIED, WebhookOutcome.DUPLICATE,
)


class ReprocessRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Reprocessed:
    before: str
    answer: Answer
    changed: bool


def signature_was_verified(delivery: WebhookDelivery) -> bool:
    """Whether a recorded delivery is provably fal's: it passed the signature check
    when it arrived, or its signature verifies now against fal's keys at the moment
    it was signed (a recorded delivery is older than the five-minute window by the
    time anyone looks at it again; that window is about replays, which the record
    itself rules out)."""
    if delivery.outcome in _SIGNATURE_VERIFIED:
        return True
    headers = CaseInsensitiveDict(delivery.headers)
    try:
        signed_at = int(headers.get(HEADER_TIMESTAMP) or "")
        verify_fal_signature(headers, delivery.body.encode("utf-8"), now=signed_at)
    except (ValueError, SignatureError):
        return False
    return True


def reprocess_delivery(delivery: WebhookDelivery, *, signature_override: bool = False) -> Reprocessed:
    """Run a recorded delivery again through the path a new one takes, its signature
    aside: it must have been verified (see `signature_was_verified`), unless staff
    override that, having said why. A delivery refused by a bug since fixed can so
    still complete its task. Idempotent: the transition it applies happens once; an
    applied delivery run again changes nothing and keeps its record."""
    body = delivery.body.encode("utf-8")
    if hashlib.sha256(body).hexdigest() != delivery.body_sha256:
        raise ReprocessRefused("Only the start of its body was recorded, so it cannot be run again.")
    verified = signature_was_verified(delivery)
    if not verified and not signature_override:
        raise ReprocessRefused("Its signature was never verified; process it anyway only with the signature override.")
    if delivery.outcome == WebhookOutcome.BAD_TOKEN and not signature_override:
        raise ReprocessRefused("It came with a wrong task token; process it anyway only with the override.")
    before = delivery.outcome
    note = "re-processed by staff" + ("" if verified else " (signature overridden)") + f", was {before}: "
    answer = _process(
        delivery, body=body, headers=delivery.headers, query=dict(parse_qsl(delivery.query_string)), stored=True,
        note=note, keep_applied=True,
    )
    if before == WebhookOutcome.APPLIED and answer.outcome == WebhookOutcome.DUPLICATE:
        # Its transition happened the first time; the record keeps saying so.
        return Reprocessed(before, Answer(200, WebhookOutcome.APPLIED, answer.detail), changed=False)
    return Reprocessed(before, answer, answer.outcome == WebhookOutcome.APPLIED)


# --- intake throttling ---------------------------------------------------------

def _client_key(_group: str, request: HttpRequest) -> str:
    # The sender as our trusted proxies saw it (TRUSTED_PROXY_COUNT), never the
    # proxy itself nor a header the sender wrote.
    return client_address(request) or "unknown"


def _refusals(request: HttpRequest, *, increment: bool) -> dict | None:
    return get_usage(
        request, group=_THROTTLE_GROUP, key=_client_key, rate=settings.FAL_WEBHOOK_REFUSED_RATE, increment=increment
    )


def refusals_exceeded(request: HttpRequest) -> bool:
    """Has this address had more refused deliveries than the rate allows?"""
    usage = _refusals(request, increment=False)
    return bool(usage and usage["count"] >= usage["limit"])


def count_refusal(request: HttpRequest) -> None:
    _refusals(request, increment=True)


def verifies(*, headers: Mapping[str, str], body: bytes) -> bool:
    """Is this fal's signature? (for a throttled address, before anything is stored)"""
    if len(body) > settings.FAL_WEBHOOK_MAX_BYTES:
        return False
    try:
        verify_fal_signature(headers, body)
    except SignatureError:
        return False
    # A signed delivery already seen (refused, say) gets no second pass around the throttle.
    return not _seen_before(canonical_signature(headers.get(HEADER_SIGNATURE) or ""))


def prune_deliveries(*, now=None) -> int:
    """Remove deliveries older than the retention; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.FAL_WEBHOOK_RETENTION_DAYS)
    removed = 0
    while True:
        batch = list(WebhookDelivery.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:1000])
        if not batch:
            return removed
        removed += WebhookDelivery.objects.filter(pk__in=batch).delete()[0]
