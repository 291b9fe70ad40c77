"""What a client gets once django-axes has locked its logins (too many failures for
that account or from that address): the API's JSON error shape under /api/, a page
everywhere else (the HTML and admin logins). 429 either way, with Retry-After."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from api.errors import error_body

MESSAGE = "Too many failed logins. Try again later."


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("locked_out", MESSAGE), status=429)
    else:
        response = render(request, "accounts/locked_out.html", {"minutes": max(1, retry_after // 60)}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
