"""Writes of accounts: suspending a user and lifting it, the check every way of
starting new work asks first, and the user's choice of language."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from accounts.models import Account
from credits.services import CreditRefused

logger = logging.getLogger(__name__)

SUSPENDED_MESSAGE = gettext_noop(
    "Your account is suspended, so nothing new can be started (videos, pixel art). What is already under way will finish."
)


class AccountSuspended(CreditRefused):
    """The user may not start new work. A kind of refusal the pages and the API
    already show (as for credits), with its own code."""

    code = "account_suspended"


def ensure_may_start(*, user) -> None:
    """Raise AccountSuspended for a suspended user. Called by every service that
    starts new work (a new job, a retry, pixel art); work already running is not
    touched."""
    if Account.objects.filter(user=user, suspended_at__isnull=False).exists():
        raise AccountSuspended(gettext(SUSPENDED_MESSAGE))


def suspend_user(*, user, by, reason: str) -> bool:
    """Suspend a user; returns False when they already were (the first reason stays)."""
    with transaction.atomic():
        account, _ = Account.objects.select_for_update().get_or_create(user=user)
        if account.is_suspended:
            return False
        account.suspended_at = timezone.now()
        account.suspended_by = by
        account.suspension_reason = reason[:1000]
        account.save(update_fields=["suspended_at", "suspended_by", "suspension_reason"])
    logger.info("user %s suspended by %s: %s", user, by, reason)
    return True


def reinstate_user(*, user) -> bool:
    """Lift a suspension; returns False when the user was not suspended."""
    lifted = Account.objects.filter(user=user, suspended_at__isnull=False).update(
        suspended_at=None, suspended_by=None, suspension_reason=""
    )
    if lifted:
        logger.info("user %s reinstated", user)
    return bool(lifted)


# The session remembers a signed-in user's chosen language from login on (see
# remember_language_at_login); accounts.middleware applies it.
LANGUAGE_SESSION_KEY = "account_language"


class UnknownLanguage(ValueError):
    """Not one of the site's languages (settings.LANGUAGES)."""


def choose_language(*, user, language: str, session=None) -> None:
    """Store the user's choice of language on their account (and in their session,
    when given), so it follows them to every browser they sign in on. A blank
    language forgets the choice: the browser's Accept-Language decides again."""
    if language and language not in dict(settings.LANGUAGES):
        raise UnknownLanguage(language)
    Account.objects.update_or_create(user=user, defaults={"language": language})
    if session is not None:
        remember_in_session(session, language)


def remember_language_at_login(*, user, session) -> None:
    """At login: the account's language, if the user chose one, becomes the session's."""
    language = Account.objects.filter(user=user).values_list("language", flat=True).first() or ""
    remember_in_session(session, language if language in dict(settings.LANGUAGES) else "")


def remember_in_session(session, language: str) -> None:
    if language:
        session[LANGUAGE_SESSION_KEY] = language
    else:
        session.pop(LANGUAGE_SESSION_KEY, None)
