"""The language a page answers in.

Django's LocaleMiddleware picks it from the language cookie (set by the header's
switch) or else the browser's Accept-Language. For a signed-in user who chose a
language, their account's choice (taken into the session at login) wins: it is
activated and written into the cookie, so a new browser follows the account from the
first page after login. Under /api/ only the request's Accept-Language counts: API
clients say what they want with each request, and a browser's cookie or an account's
choice must not change what a script reads."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real

from accounts.services import LANGUAGE_SESSION_KEY

API_PREFIX = "/api/"


def language_from_accept_header(request) -> str:
    """The first supported language in the request's Accept-Language (or the default)."""
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in trans_real.parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


class AccountLanguageMiddleware:
    """After SessionMiddleware and LocaleMiddleware (it overrides the latter's choice)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            return self._api(request)
        chosen = request.session.get(LANGUAGE_SESSION_KEY) if hasattr(request, "session") else None
        if not chosen or chosen == request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME):
            return self.get_response(request)
        translation.activate(chosen)
        request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, chosen, max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return response

    def _api(self, request):
        language = language_from_accept_header(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        return self.get_response(request)
