"""Reading fal's error answers: which kind of failure it is, and the reason a person can read.

fal reports a failure in three shapes (see the README's "fal's error shapes"):
- a model (input) error: HTTP 4xx/5xx with ``{"detail": [{"loc", "msg", "type", "ctx"?}, ...]}``;
- a request (infrastructure) error: ``{"detail": "Request timed out", "error_type": ...}``,
  with the same category in the ``X-Fal-Error-Type`` header;
- in a webhook, ``{"status": "ERROR", "error": "Invalid status code: 422",
  "payload": <one of the bodies above>}``.
Both the provider calls (`generation.fal`) and the webhook (`generation.services`) read
them here, so a user meets the same wording whichever way the news arrived."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_noop

from generation.models import ErrorKind
from generation.said import Said, said, said_list

# fal's documented error types (errors and request-errors pages) and the kind each one is.
_KIND_BY_ERROR_TYPE: dict[str, ErrorKind] = {
    "request_timeout": ErrorKind.TIMEOUT,
    "startup_timeout": ErrorKind.TIMEOUT,
    "generation_timeout": ErrorKind.TIMEOUT,
    "runner_scheduling_failure": ErrorKind.PROVIDER,
    "runner_connection_timeout": ErrorKind.PROVIDER,
    "runner_disconnected": ErrorKind.PROVIDER,
    "runner_connection_refused": ErrorKind.PROVIDER,
    "internal_server_error": ErrorKind.PROVIDER,
    "downstream_service_error": ErrorKind.PROVIDER,
    "downstream_service_unavailable": ErrorKind.PROVIDER,
    "rate_limited": ErrorKind.RATE_LIMIT,
}
# What a model reports about its input: the request's fault (fal's errors page, and
# the pydantic types fal's apps answer with).
_VALIDATION_TYPES = frozenset({
    "content_policy_violation", "image_too_small", "image_too_large", "image_load_error", "file_download_error",
    "face_detection_error", "file_too_large", "greater_than", "greater_than_equal", "less_than", "less_than_equal",
    "multiple_of", "sequence_too_short", "sequence_too_long", "one_of", "feature_not_supported", "invalid_archive",
    "archive_file_count_below_minimum", "archive_file_count_exceeds_maximum", "audio_duration_too_long",
    "audio_duration_too_short", "unsupported_audio_format", "unsupported_image_format", "unsupported_video_format",
    "video_duration_too_long", "video_duration_too_short", "missing", "value_error.missing", "literal_error",
    "string_type", "int_type", "float_type", "bool_type", "list_type", "dict_type", "model_type", "url_parsing",
})

_STATUS_CODE = re.compile(r"Invalid status code:\s*(\d{3})")


@dataclass(frozen=True)
class FalFailure:
    kind: ErrorKind
    reason: str  # readable, safe to show a user (a Said where we worded it); "" when fal gave none
    error_type: str | None = None


def kind_for(*, status_code: int | None, error_type: str | None = None, detail: Any = None) -> ErrorKind:
    """The error kind: fal's own category first, then the types in a detail list, then
    the HTTP status."""
    if error_type in _KIND_BY_ERROR_TYPE:
        return _KIND_BY_ERROR_TYPE[error_type]
    types = [entry.get("type") for entry in detail if isinstance(entry, dict)] if isinstance(detail, list) else []
    for type_ in types:
        if type_ in _KIND_BY_ERROR_TYPE:
            return _KIND_BY_ERROR_TYPE[type_]
    if any(type_ in _VALIDATION_TYPES for type_ in types):
        return ErrorKind.VALIDATION
    if status_code is None:
        return ErrorKind.PROVIDER
    if status_code == 429:
        return ErrorKind.RATE_LIMIT
    if status_code in (401, 402, 403):
        return ErrorKind.QUOTA
    if status_code == 504:
        return ErrorKind.TIMEOUT
    if 400 <= status_code < 500 and status_code not in (408, 409):
        return ErrorKind.VALIDATION
    return ErrorKind.PROVIDER


def read_answer(*, status_code: int | None, body: Any, header_error_type: str | None = None) -> FalFailure:
    """A failed answer of fal's queue (submit, status, result, cancel), or the body of a
    failed request inside a webhook's ``payload``."""
    detail = body.get("detail") if isinstance(body, dict) else None
    error_type = body.get("error_type") if isinstance(body, dict) else None
    error_type = error_type or header_error_type or None
    return FalFailure(
        kind=kind_for(status_code=status_code, error_type=error_type, detail=detail),
        reason=reason_from_detail(detail),
        error_type=error_type,
    )


def read_webhook_error(*, error: Any, payload: Any, payload_error: Any = None) -> FalFailure:
    """An ERROR webhook: ``error`` is often only "Invalid status code: 422"; the model's
    reasons are in ``payload.detail``."""
    match = _STATUS_CODE.search(error) if isinstance(error, str) else None
    status_code = int(match.group(1)) if match else None
    failure = read_answer(status_code=status_code, body=payload)
    if failure.reason:
        return failure
    # No detail: fal's own message is the reason, unless it is only a status code.
    text = error.strip() if isinstance(error, str) and not match else ""
    if not text and status_code is not None:
        text = reason_for_status(status_code)
    if not text and isinstance(payload_error, str):
        text = said(gettext_noop("The model's answer could not be read"))
    kind = failure.kind if status_code is not None or failure.error_type else ErrorKind.PROVIDER
    return FalFailure(kind=kind, reason=text, error_type=failure.error_type)


def reason_for_status(status_code: int) -> str:
    if status_code == 404:
        return said(gettext_noop("The video service does not know this model"))
    if status_code == 422:
        return said(gettext_noop("The model refused these settings"))
    if status_code == 504:
        return said(gettext_noop("The model took too long"))
    if status_code >= 500:
        return said(gettext_noop("The model failed"))
    return said(gettext_noop("The video service answered with an error (HTTP %(status)s)"), status=status_code)


def model_failure_message(failure: FalFailure) -> str:
    """What the user reads when the model refused or failed a request."""
    reason = _sentence(failure.reason)
    if failure.kind == ErrorKind.VALIDATION:
        if reason:
            return said(gettext_noop("The model refused these settings. %(reason)s"), reason=reason)
        return said(gettext_noop("The model refused these settings."))
    if reason:
        return said(gettext_noop("The model could not make this video: %(reason)s"), reason=reason)
    return said(gettext_noop("The model could not make this video."))


def _sentence(text: str) -> str:
    if not isinstance(text, Said):
        text = text.strip()
    if not text:
        return ""
    return text if text.endswith((".", "!", "?", ")")) else said(gettext_noop("%(sentence)s."), sentence=text)


def reason_from_detail(detail: Any) -> str:
    """fal's ``detail`` as sentences a person can read, field by field:
    "Aspect ratio: must be one of 16:9, 9:16"."""
    if isinstance(detail, str):
        return detail.strip()
    if not isinstance(detail, list):
        return ""
    parts = list(dict.fromkeys(part for part in (_entry_reason(entry) for entry in detail if isinstance(entry, dict)) if part))
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return said_list(parts)


def _field_label(loc: Any) -> str:
    if not isinstance(loc, list):
        return ""
    names = [str(part) for part in loc if part not in ("body", "query") and not isinstance(part, int)]
    if not names:
        return ""
    label = names[-1].replace("_url", "").replace("_", " ").strip()
    return label[:1].upper() + label[1:]


def _choices(expected: Any) -> str:
    if isinstance(expected, (list, tuple)):
        return ", ".join(str(item) for item in expected)
    # pydantic writes "'16:9', '9:16' or '1:1'"
    text = str(expected).replace(" or ", ", ")
    return ", ".join(part.strip().strip("'\"") for part in text.split(","))


def _entry_reason(entry: dict) -> str:
    type_ = str(entry.get("type") or "")
    ctx = entry.get("ctx") if isinstance(entry.get("ctx"), dict) else {}
    msg = str(entry.get("msg") or "").strip()
    if type_ in ("missing", "value_error.missing"):
        text = said(gettext_noop("is required"))
    elif type_ in ("literal_error", "one_of", "enum") and "expected" in ctx:
        text = said(gettext_noop("must be one of %(choices)s"), choices=_choices(ctx["expected"]))
    elif type_ == "greater_than_equal" and "ge" in ctx:
        text = said(gettext_noop("must be at least %(limit)s"), limit=str(ctx["ge"]))
    elif type_ == "greater_than" and "gt" in ctx:
        text = said(gettext_noop("must be more than %(limit)s"), limit=str(ctx["gt"]))
    elif type_ == "less_than_equal" and "le" in ctx:
        text = said(gettext_noop("must be at most %(limit)s"), limit=str(ctx["le"]))
    elif type_ == "less_than" and "lt" in ctx:
        text = said(gettext_noop("must be less than %(limit)s"), limit=str(ctx["lt"]))
    elif type_ == "image_too_small" and {"min_width", "min_height"} <= ctx.keys():
        text = said(
            gettext_noop("the image is too small (at least %(width)s×%(height)s pixels)"),
            width=str(ctx["min_width"]), height=str(ctx["min_height"]),
        )
    elif type_ == "image_too_large" and {"max_width", "max_height"} <= ctx.keys():
        text = said(
            gettext_noop("the image is too large (at most %(width)s×%(height)s pixels)"),
            width=str(ctx["max_width"]), height=str(ctx["max_height"]),
        )
    elif type_ == "file_too_large" and "max_size" in ctx:
        text = said(gettext_noop("the file is too large (at most %(size)s)"), size=_size(ctx["max_size"]))
    elif type_ == "content_policy_violation":
        text = said(gettext_noop("was refused by the model's content checker"))
    else:
        text = msg or type_.replace("_", " ")
    label = _field_label(entry.get("loc"))
    if label:
        return said(gettext_noop("%(field)s: %(problem)s"), field=label, problem=text)
    if isinstance(text, Said):
        return Said({**text.words, "capitalize": True})
    return text[:1].upper() + text[1:]


def _size(value: Any) -> str:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{number / (1024 * 1024):g} MB" if number >= 1024 * 1024 else f"{number} bytes"
