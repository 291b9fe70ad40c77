"""/healthz and /readyz, answered before anything else looks at the request.

Load balancers and Kubernetes probe a process by its own address, with a Host header
no ALLOWED_HOSTS lists, over plain http where HTTPS redirects everything else, and
without a session. Answering here, first in MIDDLEWARE, keeps the probes out of all
of that (and out of the sessions and logins a probe does not need)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from operations.health import readiness
from operations.metrics import may_read

HEALTHZ, READYZ = "/healthz", "/readyz"


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info.rstrip("/") or "/"
        if path not in (HEALTHZ, READYZ):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        if path == HEALTHZ:  # the process answers: nothing else is asked
            return _no_store(HttpResponse("ok\n", content_type="text/plain"))
        checks = readiness()
        ready = all(check.ok for check in checks if check.required)
        # The details (an error's text, process names) only for those who may read
        # /metrics; anyone else learns which checks pass.
        detailed = may_read(request)
        body = {
            "status": "ready" if ready else "not ready",
            "checks": {
                check.name: {"ok": check.ok, **({"detail": check.detail} if detailed else {})} for check in checks
            },
        }
        return _no_store(JsonResponse(body, status=200 if ready else 503))


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response
