"""Request bodies the API reads: JSON within a size cap, and forms (for uploads)."""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = gettext_lazy("The request body is too large.")


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, with two limits it lacks: the body is read up to
    `API_JSON_MAX_BYTES` and no further (413 beyond it), and nesting too deep for
    Python's decoder is a 400 like any other malformed JSON, not a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_JSON_MAX_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge(_("A JSON body may be at most %(size)s KB.") % {"size": limit // 1024})
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = codecs.decode(raw, encoding)
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(_("JSON parse error - %(detail)s") % {"detail": str(exc)[:200]}) from None


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON.
    raise ValueError(f"{name} is not valid JSON")
