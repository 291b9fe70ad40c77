"""The header's balance and plan, on every page a signed-in user sees. Lazy: a page
that does not show the header (a fragment htmx swaps in) asks the database nothing."""

from django.utils.functional import SimpleLazyObject

from credits.selectors import balance_of


def header_credits(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"header_credits": SimpleLazyObject(lambda: balance_of(user))}
