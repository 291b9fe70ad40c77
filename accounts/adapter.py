"""How django-allauth's sign-up meets our rules: a new user gets their wallet, and
with it the welcome grant, when the account is made (not on their first request), so
the Credits page shows the grant from the first visit."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter

from credits.services import ensure_wallet


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            ensure_wallet(user=user)
        return user
