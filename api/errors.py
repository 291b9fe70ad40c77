"""Every API error has one shape:

    {"error": {"code": "insufficient_credits", "message": "Not enough credits: ...", "fields": {}}}

`code` is stable for programs, `message` is safe to show a person, and `fields` maps
each invalid input to its messages (empty unless the input was invalid). Status codes:
400 invalid input, 401 not authenticated, 402 not enough credits, 403 daily limit
reached or account suspended (or not allowed), 404 not found (including another user's objects), 409 a
state that does not allow the action, 429 throttled."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from credits.services import CreditRefused, DailyLimitReached, InsufficientCredits

logger = logging.getLogger(__name__)

NON_FIELD_KEYS = ("non_field_errors", "__all__")


class ApiError(exceptions.APIException):
    def __init__(self, *, status_code: int, code: str, message: str):
        self.status_code = status_code
        super().__init__(detail=message, code=code)


def credit_error(refused: CreditRefused) -> ApiError:
    if isinstance(refused, InsufficientCredits):
        return ApiError(status_code=status.HTTP_402_PAYMENT_REQUIRED, code=refused.code, message=refused.message)
    if isinstance(refused, DailyLimitReached):
        return ApiError(status_code=status.HTTP_403_FORBIDDEN, code=refused.code, message=refused.message)
    return ApiError(status_code=status.HTTP_403_FORBIDDEN, code=refused.code, message=refused.message)


def conflict(code: str, message: str) -> ApiError:
    return ApiError(status_code=status.HTTP_409_CONFLICT, code=code, message=message)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("too_large", _("The request body is too large.")), status=413)
    if isinstance(exc, SuspiciousOperation):  # e.g. too many form fields
        return Response(error_body("bad_request", _("The request could not be read.")), status=400)
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug: keep the traceback in the log, give the client the same shape.
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(error_body("internal_error", _("Something went wrong on our side.")), status=500)
    if isinstance(exc, exceptions.ValidationError):
        fields, message = _validation_fields(response.data)
        response.data = error_body("invalid", message, fields)
        return response
    if isinstance(exc, (Http404, exceptions.NotFound)):
        code, message = "not_found", _("Not found.")
    elif isinstance(exc, PermissionDenied):
        code, message = "permission_denied", _("You may not do that.")
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = code if isinstance(code, str) else "error"
        message = str(exc.detail) if isinstance(exc, exceptions.APIException) else _("Error.")
    response.data = error_body(code, message)
    return response


def _validation_fields(data) -> tuple[dict, str]:
    if not isinstance(data, dict):
        messages = [str(item) for item in data] if isinstance(data, list) else [str(data)]
        return {}, " ".join(messages) or _("The input is not valid.")
    fields = {}
    general = []
    for key, value in data.items():
        messages = [str(item) for item in value] if isinstance(value, list) else [str(value)]
        if key in NON_FIELD_KEYS:
            general.extend(messages)
        else:
            fields[key] = messages
    message = " ".join(general) if general else _("Some fields are not valid; see `fields`.")
    return fields, message


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: e.g. invalid, not_found, insufficient_credits, daily_limit_reached, throttled.")
    message = serializers.CharField(help_text="Safe to show a person.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), help_text="Messages per invalid input."
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (for the schema)."""

    error = ErrorDetailSerializer()
