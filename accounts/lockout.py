"""What a client gets once django-axes has locked its logins (too many failures for
that account or from that address): the API's JSON error shape under /api/, a page
everywhere else (the HTML and admin logins). 429 either way, with Retry-After."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy

from api.errors import error_body

# Lazy: read in the language of the request that meets it (here and in the API).
MESSAGE = gettext_lazy("Too many failed logins. Try again later.")
# django-axes stores the account's name in a column of this many characters.
_NAME_LENGTH = 255


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    retry_after = int(settings.AXES_COOLOFF_TIME.total_seconds())
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("locked_out", str(MESSAGE)), status=429)
    else:
        response = render(request, "accounts/locked_out.html", {"minutes": max(1, retry_after // 60)}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def login_name(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The account a login attempt is about, as django-axes counts it per account.

    The log-in form takes a username or an email address, and matches usernames
    without regard to case: "Victim", "VICTIM" and victim's email address all reach
    one account, so they must share one count, or every spelling would bring a fresh
    set of guesses. A name that matches no account is counted in its folded case."""
    credentials = credentials or {}
    typed = credentials.get("username") or credentials.get("email")
    if typed is None:
        data = getattr(request, "data", None) or getattr(request, "POST", None) or {}
        typed = data.get("login") or data.get("username")
    if not typed or not isinstance(typed, str):
        return None
    # As the form reads it (Django normalises usernames to NFKC), and no longer than
    # axes stores: a longer name would be a server error, not a refused login.
    typed = unicodedata.normalize("NFKC", typed).strip()[:_NAME_LENGTH]
    users = get_user_model()._default_manager
    user = None
    if "@" in typed:
        user = users.filter(email__iexact=typed).order_by("pk").first()
    if user is None:
        matches = list(users.filter(**{f"{users.model.USERNAME_FIELD}__iexact": typed})[:2])
        user = matches[0] if len(matches) == 1 else None
    return user.get_username() if user is not None else typed.casefold()[:_NAME_LENGTH]
