"""Error reports (the mail ADMINS get for a server error, the debug page) without the
secrets that can sit in a request's query string.

fal's webhook URL carries each task's secret token in its query (`?task=…&token=…`).
Django's report shows the request's GET parameters, its full URL, its META and the
local variables of the failing frames as they are, and hides values only by the name
of a setting or a variable (`QUERY_STRING` or a view's `query` name no secret), so a
webhook answered 500 would otherwise mail the token to every admin. This reporter
takes the value of every query parameter whose name looks like a secret (Django's own
rule for settings: token, key, secret, password, signature, ...) and masks it wherever
it appears in the finished report."""

from __future__ import annotations

import html
from urllib.parse import quote

from django.core.exceptions import SuspiciousOperation
from django.views.debug import ExceptionReporter

# Shorter values are not secrets, and masking them would garble the report.
_SHORTEST_SECRET = 8


class SecretsMaskedReporter(ExceptionReporter):
    def _secrets(self) -> list[str]:
        if self.request is None:
            return []
        try:
            parameters = list(self.request.GET.lists())
        except SuspiciousOperation:  # too many fields: nothing of ours was read either
            return []
        found: set[str] = set()
        for name, values in parameters:
            if self.filter.hidden_settings.search(name):
                for value in values:
                    if len(value) >= _SHORTEST_SECRET:
                        found |= {value, quote(value, safe=""), html.escape(value)}
        # Longest first, so that no masked value leaves a part of a longer one behind.
        return sorted(found, key=len, reverse=True)

    def _masked(self, report: str) -> str:
        for secret in self._secrets():
            report = report.replace(secret, self.filter.cleansed_substitute)
        return report

    def get_traceback_text(self):
        return self._masked(super().get_traceback_text())

    def get_traceback_html(self):
        return self._masked(super().get_traceback_html())
