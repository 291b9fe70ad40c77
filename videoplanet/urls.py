from django.contrib import admin
from allauth.account import views as account_views
from django.urls import include, path
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from accounts import views as accounts_views

from operations import views as operations_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="history:gallery", permanent=False), name="home"),
    path("", include("generation.urls")),
    path("history/", include("history.urls")),
    path("projects/", include("projects.urls")),
    path("", include("pixelart.urls")),
    path("api/", include("api.urls")),
    path("credits/", include("credits.urls")),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    # Sign up, log in and out, password change and reset, email addresses: django-allauth.
    # "login" and "logout" are the names the rest of the project has always reversed.
    path("accounts/login/", account_views.login, name="login"),
    path("accounts/logout/", account_views.logout, name="logout"),
    path("accounts/", include("allauth.urls")),
    # The header's language switch (stored on the account too), and the JavaScript
    # catalog of the current language (its URL names the language: see base.html).
    path("i18n/setlang/", accounts_views.set_language, name="set_language"),
    path("jsi18n/", cache_control(max_age=3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    path("metrics", operations_views.metrics_view, name="metrics"),
    path("admin/monitoring/", admin.site.admin_view(operations_views.monitoring), name="monitoring"),
    path("admin/", admin.site.urls),
]

# No route serves MEDIA_ROOT: media is private and reaches its owner only through
# views that check first (see videoplanet/private_media.py).

handler400 = "videoplanet.errors.bad_request"
handler403 = "videoplanet.errors.permission_denied"
handler404 = "videoplanet.errors.not_found"
handler500 = "videoplanet.errors.server_error"
