"""How django-allauth's sign-up meets our rules: a new user gets their wallet, and
with it the welcome grant, when the account is made (not on their first request), so
the Credits page shows the grant from the first visit. allauth's own rate limits
(sign-up, password reset, ...) count the client by our one rule for client addresses
(TRUSTED_PROXY_COUNT, `videoplanet.client_address`), as the login limits and API
throttles do: by default allauth would count the proxy itself, so one sender could
use up everybody's sign-ups."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter

from credits.services import ensure_wallet
from videoplanet.client_address import client_address


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            ensure_wallet(user=user)
        return user

    def get_client_ip(self, request):
        return client_address(request) or super().get_client_ip(request)
