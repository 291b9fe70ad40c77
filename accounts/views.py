"""The header's language switch: Django's set_language (the cookie, the redirect back),
with the choice also stored on a signed-in user's account."""

from django.conf import settings
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from accounts.services import choose_language


@require_POST
def set_language(request):
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        choose_language(user=request.user, language=language, session=request.session)
    return django_set_language(request)
