"""At login, the language the user chose (stored on their account) is taken into the
session; accounts.middleware.AccountLanguageMiddleware then applies it."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from accounts.services import remember_language_at_login


@receiver(user_logged_in)
def apply_chosen_language(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        remember_language_at_login(user=user, session=request.session)
