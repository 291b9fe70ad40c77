from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle


class JobCreationThrottle(UserRateThrottle):
    """Per user: starting jobs and retries, the calls that cost credits."""

    scope = "job_create"

    def get_rate(self) -> str:
        # Read when a request comes, so that a changed setting takes effect.
        return settings.API_JOB_CREATE_RATE


class TokenThrottle(SimpleRateThrottle):
    """Per client address: asking for a token with a password (guessing passwords)."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.API_TOKEN_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
