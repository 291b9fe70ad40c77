"""The address a request came from, as far as it can be trusted.

`TRUSTED_PROXY_COUNT` says how many reverse proxies of ours stand in front of the web
server, each appending the address it was connected from to `X-Forwarded-For`.
The client is then the entry that many places from the right: anything further left
was written by the client itself and proves nothing. With no proxies (the default)
only the socket's address counts and the header is ignored.

This is the rule DRF's throttles apply with `NUM_PROXIES` (set to the same value), so
login limits and API throttles count the same client. django-ipware, which
django-axes can use, counts proxies differently (its strict chain check expects the
proxies' own addresses in the header and finds no address at all when a client adds
entries), hence these few lines of our own.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    entries = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    if not entries:
        return remote
    candidate = entries[-min(proxies, len(entries))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Our own proxy wrote this entry, so it should parse; if not, the proxy is
        # not what the setting says it is, and the socket's address is all we know.
        return remote
