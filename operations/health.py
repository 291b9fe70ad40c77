"""Health: whether this deployment can work, asked two ways.

`readiness()` is what /readyz answers a load balancer with: the database, media
storage, a live task worker and a recent reconciler pass (open circuit breakers are
reported but do not take the web out of service: the pages still work, and the
breakers' whole point is that the product copes). `configuration()` is what
`manage.py fal_check` tells an operator: the same, plus the fal key, the webhook
JWKS, PUBLIC_BASE_URL and the catalog's endpoints."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

import falschemas
from generation.catalog import MODELS
from generation.signatures import public_keys
from operations import selectors
from operations.models import ProcessKind


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # False: reported, never failing (an open breaker).
    required: bool = True


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means the same: not usable
        return Check("database", False, f"{type(error).__name__}: {error}")
    return Check("database", True, connection.vendor)


def check_storage() -> Check:
    """Write and remove a small file: readable settings are not enough, the bucket or
    folder must take a write."""
    name = f"health/probe-{secrets.token_hex(8)}.txt"
    try:
        saved = default_storage.save(name, ContentFile(b"ok"))
        default_storage.delete(saved)
    except Exception as error:  # permissions, a missing bucket, the network: all mean not writable
        return Check("storage", False, f"cannot write media storage: {type(error).__name__}: {error}")
    return Check("storage", True, f"{type(default_storage).__name__} is writable")


def _beat_check(name: str, kind: ProcessKind, max_age: int, now: datetime) -> Check:
    newest = selectors.newest_beat(kind=kind)
    if newest is None:
        return Check(name, False, f"no {kind.label.lower()} has ever reported")
    age = (now - newest).total_seconds()
    if age > max_age:
        return Check(name, False, f"last sign of life {age:.0f} s ago (more than {max_age} s)")
    alive = sum(1 for beat in selectors.last_beats(kind=kind) if beat.beat_at >= now - timedelta(seconds=max_age))
    return Check(name, True, f"{alive} alive, last {age:.0f} s ago")


def check_workers(now: datetime | None = None) -> Check:
    return _beat_check("workers", ProcessKind.WORKER, settings.HEALTH_WORKER_MAX_AGE_SECONDS, now or timezone.now())


def check_reconciler(now: datetime | None = None) -> Check:
    return _beat_check("reconciler", ProcessKind.RECONCILER, settings.HEALTH_RECONCILER_MAX_AGE_SECONDS, now or timezone.now())


def check_breakers() -> Check:
    opened = selectors.open_breakers()
    return Check("breakers", not opened, f"open: {', '.join(opened)}" if opened else "none open", required=False)


def readiness() -> list[Check]:
    database = check_database()
    if not database.ok:  # every other check reads the database
        return [database]
    return [database, check_storage(), check_workers(), check_reconciler(), check_breakers()]


def check_fal_key() -> Check:
    if settings.FAL_USE_SANDBOX:
        return Check("fal key", not settings.PRODUCTION, f"the local sandbox at {settings.FAL_SANDBOX_URL} (no key needed)"
                     + (", which production must not use" if settings.PRODUCTION else ""))
    if not settings.FAL_KEY:
        return Check("fal key", False, "FAL_KEY is not set")
    return Check("fal key", True, "FAL_KEY is set")


def check_jwks() -> Check:
    url = settings.FAL_JWKS_URL
    try:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        return Check("webhook keys", False, f"cannot fetch or read {url}: {error}")
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        return Check("webhook keys", False, f"{url} is not a JWKS (no 'keys' list)")
    usable = public_keys([key for key in keys if isinstance(key, dict)])
    if not usable:
        return Check("webhook keys", False, f"{url} has no usable Ed25519 key ({len(keys)} key(s) listed)")
    return Check("webhook keys", True, f"{len(usable)} Ed25519 key(s) at {url}")


def _is_local(host: str) -> bool:
    if host in ("localhost",) or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def check_public_base_url() -> Check:
    url = settings.PUBLIC_BASE_URL
    parts = urlsplit(url)
    problems = []
    if parts.scheme != "https":
        problems.append("not https")
    if not parts.hostname or _is_local(parts.hostname):
        problems.append("not reachable from the internet (a local or private address)")
    if not problems:
        return Check("public URL", True, url)
    detail = f"{url}: {' and '.join(problems)}"
    if settings.PRODUCTION:
        return Check("public URL", False, f"{detail}; fal could not deliver webhooks")
    return Check("public URL", True, f"{detail} (fine locally, with the sandbox)")


def check_catalog() -> Check:
    unknown = sorted({spec.endpoint for spec in MODELS if not falschemas.known(spec.endpoint)})
    if unknown:
        return Check("catalog", False, f"endpoints without a published schema: {', '.join(unknown)}")
    return Check("catalog", True, f"{len(MODELS)} models, every endpoint known")


def configuration() -> list[Check]:
    checks = [check_fal_key(), check_jwks(), check_public_base_url(), check_catalog()]
    return checks + readiness()
