"""Error pages. Under /api/ every error, even one raised before the API's own views
run (an unknown URL, a malformed id, a body Django refuses), answers in the API's
JSON error shape; everywhere else, Django's pages."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

from api.errors import error_body

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("bad_request", _("The request could not be read.")), status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", _("You may not do that.")), status=403)
    return defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("not_found", _("Not found.")), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("internal_error", _("Something went wrong on our side.")), status=500)
    return defaults.server_error(request)
